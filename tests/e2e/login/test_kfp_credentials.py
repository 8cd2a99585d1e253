"""KfpCredentials renews the bearer token KFP's generated client sends, as tokens expire."""

from __future__ import annotations

import time
from pathlib import Path

import kfp_server_api
import pytest
from login_support import PASSWORD, USER

from dex_auth_login import KfpCredentials
from dex_auth_login.tokens import jwt_claims

pytestmark = pytest.mark.e2e


def test_the_hook_sets_a_bearer_token_and_renews_it_after_expiry(start_provider, cache_file: Path) -> None:
    running = start_provider(expiry={"idTokens": "2s"})
    credentials = KfpCredentials(running.url, username=USER, password=PASSWORD, cache_path=cache_file, min_validity=0.5)
    config = kfp_server_api.Configuration(host=f"{running.url}/pipeline")
    config.refresh_api_key_hook = credentials.refresh_api_key_hook
    first = config.get_api_key_with_prefix("authorization")
    assert first.startswith("Bearer ") and jwt_claims(first[7:])["email"] == USER
    assert config.get_api_key_with_prefix("authorization") == first  # still fresh: no new request to Dex
    time.sleep(2)
    second = config.get_api_key_with_prefix("authorization")
    assert second != first and jwt_claims(second[7:])["exp"] > jwt_claims(first[7:])["exp"]

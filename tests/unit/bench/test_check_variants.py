"""The check's variants next to the session cookie: the extra issuer's entry, the ServiceAccount
token's lifetime, and the identity assertion's verification against the gatekeeper's own signer."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from bench import check_variants, report
from bench.__main__ import SCENARIOS, parse_args

from gatekeeper.assertion_keys import generate_pem, load_keys
from gatekeeper.assertions import AssertionSigner
from gatekeeper.rules import InvalidValue

PUBLIC = "http://127.0.0.1:8000"


def test_both_rows_are_scenarios_that_only_selects() -> None:
    assert {report.SERVICE_ACCOUNT_CHECK, report.ASSERTION_CHECK} <= set(SCENARIOS)
    args = parse_args(["--only", "check-envoy-cookie", "check-sa-token", "check-envoy-cookie-assertion"])
    assert args.only == ["check-envoy-cookie", "check-sa-token", "check-envoy-cookie-assertion"]


def test_the_issuer_is_listed_as_the_gatekeeper_reads_it() -> None:
    entry = check_variants.issuer_entry("http://127.0.0.1:43210")
    assert entry == "http://127.0.0.1:43210=pipelines.kubeflow.org"
    with pytest.raises(InvalidValue, match="https"):
        check_variants.issuer_entry("http://issuer.example.com")  # only loopback may be plain http


def test_the_service_account_names_and_the_token_outlives_the_run() -> None:
    assert check_variants.service_account_userid() == "system:serviceaccount:kubeflow:pipeline-runner"
    short = check_variants.token_lifetime(rows=18, rounds=1, warmup=1, seconds=3, soak=0)
    assert short >= check_variants.DAY
    long = check_variants.token_lifetime(rows=18, rounds=50, warmup=3, seconds=60, soak=600)
    assert long > 18 * 50 * (3 + 60) + 600 + check_variants.DAY


def test_assertion_env_adds_the_header_and_a_p256_key() -> None:
    env = check_variants.assertion_env()
    assert env["GATEKEEPER_ASSERTION_HEADER"] == "kubeflow-identity-assertion"
    assert len(load_keys(env["GATEKEEPER_ASSERTION_KEYS"])) == 1
    pem = generate_pem()
    assert check_variants.assertion_env(pem)["GATEKEEPER_ASSERTION_KEYS"] == pem


def _signed(pem: str, user: str = "user@example.com", now: float | None = None) -> tuple[str, dict]:
    signer = AssertionSigner("kubeflow-identity-assertion", load_keys(pem), PUBLIC, PUBLIC)
    at = time.time() if now is None else now
    token, _ = signer.sign(user, user, ("team",), at, at + 3600)
    return token, signer.jwks


def test_an_assertion_of_the_gatekeepers_signer_verifies() -> None:
    token, jwks = _signed(generate_pem())
    claims = check_variants.verify_assertion(token, jwks, issuer=PUBLIC, audience=PUBLIC, subject="user@example.com")
    assert claims["groups"] == ["team"] and claims["email"] == "user@example.com"


@pytest.mark.parametrize("wrong", ["other key", "subject", "audience", "expired", "tampered", "missing"])
def test_an_assertion_that_is_not_the_one_meant_is_refused(wrong: str) -> None:
    token, jwks = _signed(generate_pem(), now=time.time() - 3600 if wrong == "expired" else None)
    subject, audience = "user@example.com", PUBLIC
    if wrong == "other key":
        jwks = _signed(generate_pem())[1]
    elif wrong == "subject":
        subject = "someone@example.com"
    elif wrong == "audience":
        audience = "http://elsewhere"
    elif wrong == "tampered":
        head, payload, signature = token.split(".")
        claims = jwt.decode(token, options={"verify_signature": False})
        forged = jwt.utils.base64url_encode(json.dumps({**claims, "sub": "admin"}).encode()).decode()
        token = ".".join((head, forged, signature))
        assert payload != forged
    elif wrong == "missing":
        token = ""
    with pytest.raises(check_variants.VariantError):
        check_variants.verify_assertion(token, jwks, issuer=PUBLIC, audience=audience, subject=subject)

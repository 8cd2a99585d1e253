"""Charm configs the end-to-end tests and the demo start from."""

from __future__ import annotations

import secrets
from typing import Any

TEST_PASSWORD = "e2e-" + secrets.token_urlsafe(12)


def base_config(**overrides: Any) -> dict[str, Any]:
    """The static user with a known password and debug logs (the most talkative level, so the
    secrets-in-logs test covers everything the gatekeeper can print)."""
    config: dict[str, Any] = {
        "static-username": "user@example.com",
        "static-password": TEST_PASSWORD,
        "log-level": "debug",
    }
    config.update(overrides)
    return config

"""The tokens a login yields, and when they stop being usable."""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass
from typing import Any


def jwt_claims(token: str) -> dict[str, Any]:
    """Read a JWT's claims without verifying it.

    The tool only needs `exp` to decide when to refresh; the gatekeeper verifies the signature.
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a JWT (expected three dot-separated parts)")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("JWT payload is not base64url-encoded JSON") from exc
    if not isinstance(claims, dict):
        raise ValueError("JWT payload is not a JSON object")
    return claims


def jwt_expiry(token: str) -> float:
    """The `exp` claim of a JWT, in seconds since the epoch."""
    exp = jwt_claims(token).get("exp")
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        raise ValueError("JWT has no numeric exp claim")
    return float(exp)


@dataclass(frozen=True)
class TokenSet:
    """An ID token (what the gatekeeper accepts as a bearer token) and what renews it."""

    id_token: str
    expires_at: float
    refresh_token: str | None = None
    username: str | None = None
    password_verifier: str | None = None  # password_check.py: set when a password made the tokens

    def is_fresh(self, min_validity: float = 60.0, now: float | None = None) -> bool:
        """True while the ID token stays valid for at least `min_validity` more seconds."""
        current = time.time() if now is None else now
        return self.expires_at - current >= min_validity

    def to_json(self) -> dict[str, Any]:
        return {
            "id_token": self.id_token,
            "expires_at": self.expires_at,
            "refresh_token": self.refresh_token,
            "username": self.username,
            "password_verifier": self.password_verifier,
        }

    @classmethod
    def from_json(cls, data: Any) -> TokenSet | None:
        """Rebuild a cached entry; None when the entry is not a well-formed token set."""
        if not isinstance(data, dict):
            return None
        id_token, expires_at = data.get("id_token"), data.get("expires_at")
        refresh_token, username = data.get("refresh_token"), data.get("username")
        verifier = data.get("password_verifier")
        if not isinstance(id_token, str) or isinstance(expires_at, bool):
            return None
        if not isinstance(expires_at, (int, float)):
            return None
        if any(value is not None and not isinstance(value, str) for value in (refresh_token, username, verifier)):
            return None
        return cls(id_token, float(expires_at), refresh_token or None, username, verifier)


def token_set_from_response(
    body: dict[str, Any], *, username: str | None = None, previous_refresh_token: str | None = None
) -> TokenSet:
    """Build a TokenSet from a token endpoint's JSON answer.

    Dex rotates refresh tokens, so a new one replaces the old; a provider that does not rotate
    omits it and the old one stays valid.
    """
    id_token = body.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise ValueError("the token response has no id_token (is 'openid' among the scopes?)")
    expires_at = jwt_expiry(id_token)
    refresh_token = body.get("refresh_token")
    if not isinstance(refresh_token, str) or not refresh_token:
        refresh_token = previous_refresh_token
    return TokenSet(id_token, expires_at, refresh_token, username)

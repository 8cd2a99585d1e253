"""JWT plumbing shared by session cookies, login states and provider ID tokens.

The unverified header is read once per token, only to pick the verifier and the key; nothing in
it is trusted until the signature is checked. PyJWT's exceptions become `errors.TokenError`s
with log-safe reasons here, so no other module needs to know PyJWT's exception tree.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import jwt

from gatekeeper import errors
from gatekeeper.config import SessionKey

SESSION_ISSUER = "dex-auth-gatekeeper"  # the `iss` of every JWT the gatekeeper signs
MAX_TOKEN_LENGTH = 8192  # of the gatekeeper's own JWTs
MAX_HEADER_SEGMENT = 2048  # a JOSE header is a few fields; a bigger one is not worth decoding

# PyJWT's refusals, most specific first, as log-safe reasons and messages.
_REFUSALS: tuple[tuple[type[jwt.PyJWTError], str, str], ...] = (
    (jwt.ExpiredSignatureError, "expired", "token has expired"),
    (jwt.InvalidSignatureError, "bad_signature", "signature does not match"),
    (jwt.InvalidAudienceError, "bad_audience", "token was issued for another client"),
    (jwt.InvalidIssuerError, "bad_issuer", "token was issued by another issuer"),
    (jwt.ImmatureSignatureError, "not_yet_valid", "token is not valid yet (nbf or iat in the future)"),
)


def refusal(exc: jwt.PyJWTError) -> errors.TokenError:
    """PyJWT's refusal as ours: the class of the failure becomes the reason."""
    for kind, reason, detail in _REFUSALS:
        if isinstance(exc, kind):
            return errors.TokenError(reason, detail)
    return errors.TokenError("invalid", type(exc).__name__)


def header_of(token: str) -> dict[str, Any]:
    """The JOSE header of anything that looks like a JWT, read from its first segment alone.

    PyJWT's `get_unverified_header` decodes and checks all three segments, which its `decode`
    then does again; the header only picks the verifier, and `decode` checks it in full.
    """
    segment, dot, _ = token.partition(".")
    if not dot or len(segment) > MAX_HEADER_SEGMENT:
        raise errors.TokenError("malformed", "not a JWT")
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error, RecursionError):  # RecursionError: JSON nested thousands deep
        raise errors.TokenError("malformed", "not a JWT") from None
    if not isinstance(header, dict):
        raise errors.TokenError("malformed", "not a JWT")
    return header


def unverified_issuer(token: str) -> str:
    """The `iss` a token claims, read without trusting it: it only picks which issuer's keys to try.

    "" when the payload is not a JSON object with a string `iss`; `decode` checks it in full later.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return ""
    segment = parts[1]
    try:
        payload = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        return ""
    issuer = payload.get("iss") if isinstance(payload, dict) else None
    return issuer if isinstance(issuer, str) else ""


def check_length(token: str, max_length: int) -> None:
    """Refuse what no honest client sends before any key is looked up or signature checked."""
    if not token or len(token) > max_length:
        raise errors.TokenError("malformed", "token is empty or too long")


def unverified_header(token: str, max_length: int, header: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JOSE header (`header` when the caller read it already), once the length is in bounds."""
    check_length(token, max_length)
    return header_of(token) if header is None else header


class Signer:
    """HS256 JWTs for one audience: the first key signs, every key verifies by `kid`."""

    def __init__(self, keys: tuple[SessionKey, ...], audience: str) -> None:
        if not keys:
            raise ValueError("at least one session key is needed")
        self._signing = keys[0]
        self._keys = {k.kid: k.secret for k in keys}
        self.audience = audience

    def sign(self, claims: dict[str, Any]) -> str:
        payload = {"iss": SESSION_ISSUER, "aud": self.audience, **claims}
        return jwt.encode(payload, self._signing.secret, algorithm="HS256", headers={"kid": self._signing.kid})

    def verify(
        self, token: str, *, required: tuple[str, ...] = ("exp", "iat"), header: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The claims of a token this gatekeeper signed for this audience, with a key it still holds."""
        header = unverified_header(token, MAX_TOKEN_LENGTH, header)
        if header.get("alg") != "HS256":
            raise errors.TokenError("bad_algorithm", f"algorithm {str(header.get('alg'))[:20]!r} is not accepted")
        kid = header.get("kid")
        secret = self._keys.get(kid) if isinstance(kid, str) else None
        if secret is None:
            raise errors.TokenError("unknown_key", "signed with a key id this gatekeeper does not hold")
        try:
            return jwt.decode(
                token,
                secret,
                algorithms=["HS256"],
                audience=self.audience,
                issuer=SESSION_ISSUER,
                options={"require": ["iss", "aud", *required]},
            )
        except jwt.PyJWTError as exc:
            raise refusal(exc) from None

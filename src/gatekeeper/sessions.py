"""Session JWTs (HS256 with a key id, so keys rotate without logging anyone out) and revocation.

The revocation list lives in this process's memory: a logout is refused on replay against the
same process until the token would have expired anyway. With several workers or units, each keeps
its own list (see docs); the tokens themselves stay verifiable everywhere with no network call.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt

from gatekeeper.config import SessionKey

SESSION_ISSUER = "dex-auth-gatekeeper"
SESSION_AUDIENCE = "dex-auth-session"
STATE_AUDIENCE = "dex-auth-login-state"
MAX_TOKEN_LENGTH = 8192


class TokenError(Exception):
    """A token was refused; `reason` is a short, log-safe code (never the token itself)."""

    def __init__(self, reason: str, detail: str = "", user: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail or reason
        self.user = user


# PyJWT's refusals, most specific first, as log-safe reasons and messages.
_REFUSALS: tuple[tuple[type[jwt.PyJWTError], str, str], ...] = (
    (jwt.ExpiredSignatureError, "expired", "token has expired"),
    (jwt.InvalidSignatureError, "bad_signature", "signature does not match"),
    (jwt.InvalidAudienceError, "bad_audience", "token was issued for another client"),
    (jwt.InvalidIssuerError, "bad_issuer", "token was issued by another issuer"),
)


def refusal(exc: jwt.PyJWTError) -> TokenError:
    for kind, reason, detail in _REFUSALS:
        if isinstance(exc, kind):
            return TokenError(reason, detail)
    return TokenError("invalid", type(exc).__name__)


def unverified_header(token: str, max_length: int) -> dict[str, Any]:
    """The JOSE header, read only to choose the key; nothing in it is trusted until verified."""
    if not token or len(token) > max_length:
        raise TokenError("malformed", "token is empty or too long")
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenError("malformed", "not a JWT") from None


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

    def verify(self, token: str, *, required: tuple[str, ...] = ("exp", "iat")) -> dict[str, Any]:
        header = unverified_header(token, MAX_TOKEN_LENGTH)
        if header.get("alg") != "HS256":
            raise TokenError("bad_algorithm", f"algorithm {str(header.get('alg'))[:20]!r} is not accepted")
        secret = self._keys.get(header.get("kid")) if isinstance(header.get("kid"), str) else None
        if secret is None:
            raise TokenError("unknown_key", "signed with a key id this gatekeeper does not hold")
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


@dataclass(frozen=True)
class Session:
    """What a verified session (cookie or bearer) tells about the user."""

    user: str
    groups: tuple[str, ...]
    sub: str
    jti: str
    exp: int


class SessionCodec:
    """Issues and verifies the `authservice_session` JWT (claims per docs/architecture.md)."""

    def __init__(self, keys: tuple[SessionKey, ...], lifetime: int) -> None:
        self.signer = Signer(keys, SESSION_AUDIENCE)
        self.lifetime = lifetime

    def issue(self, *, user: str, groups: tuple[str, ...], sub: str, now: float | None = None) -> tuple[str, Session]:
        issued = int(time.time() if now is None else now)
        session = Session(user=user, groups=groups, sub=sub, jti=secrets.token_urlsafe(16), exp=issued + self.lifetime)
        token = self.signer.sign(
            {"sub": sub, "uid": user, "groups": list(groups), "iat": issued, "exp": session.exp, "jti": session.jti}
        )
        return token, session

    def verify(self, token: str) -> Session:
        claims = self.signer.verify(token, required=("exp", "iat", "jti", "uid", "sub"))
        user, groups, jti = claims.get("uid"), claims.get("groups", []), claims.get("jti")
        if not isinstance(user, str) or not user or not isinstance(jti, str) or not jti:
            raise TokenError("invalid", "session lacks a user id or jti")
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise TokenError("invalid", "session groups are not a list of strings")
        return Session(user=user, groups=tuple(groups), sub=str(claims.get("sub", "")), jti=jti, exp=int(claims["exp"]))


class Revocations:
    """Revoked token ids, each kept until the token's own expiry."""

    def __init__(self, limit: int = 200_000) -> None:
        self._expiry: dict[str, float] = {}
        self.keys = self._expiry.keys()  # a live view, for membership tests on the hot path
        self.limit = limit

    def __contains__(self, key: str) -> bool:
        return key in self._expiry

    def __len__(self) -> int:
        return len(self._expiry)

    def revoke(self, key: str, expires_at: float, now: float | None = None) -> None:
        now = time.time() if now is None else now
        if expires_at <= now:
            return
        if len(self._expiry) >= self.limit:
            self.purge(now)
            while len(self._expiry) >= self.limit:  # keep the ones that stay dangerous longest
                self._expiry.pop(min(self._expiry, key=self._expiry.__getitem__))
        self._expiry[key] = expires_at

    def purge(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        for key in [k for k, exp in self._expiry.items() if exp <= now]:
            del self._expiry[key]

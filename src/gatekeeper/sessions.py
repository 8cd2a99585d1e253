"""Session JWTs: HS256 with a key id, so keys rotate without logging anyone out.

A session verifies in any worker and any unit with no network call; a logout is refused on replay
through the revocations (revocations.py), which every worker shares through a file.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from gatekeeper import errors, jwts
from gatekeeper.config import SessionKey

SESSION_AUDIENCE = "dex-auth-session"
STATE_AUDIENCE = "dex-auth-login-state"


@dataclass(frozen=True)
class Session:
    """What a verified session (cookie or bearer) tells about the user."""

    user: str
    groups: tuple[str, ...]
    sub: str
    jti: str
    exp: int
    iat: int = 0
    email: str = ""  # a verified address, for allowed-emails; sessions made before it carry none


class SessionCodec:
    """Issues and verifies the `authservice_session` JWT (claims per docs/architecture.md)."""

    def __init__(self, keys: tuple[SessionKey, ...], lifetime: int) -> None:
        self.signer = jwts.Signer(keys, SESSION_AUDIENCE)
        self.lifetime = lifetime

    def issue(
        self, *, user: str, groups: tuple[str, ...], sub: str, email: str = "", now: float | None = None
    ) -> tuple[str, Session]:
        issued = int(time.time() if now is None else now)
        session = Session(
            user=user,
            groups=groups,
            sub=sub,
            jti=secrets.token_urlsafe(16),
            exp=issued + self.lifetime,
            iat=issued,
            email=email,
        )
        claims = {
            "sub": sub,
            "uid": user,
            "groups": list(groups),
            "iat": issued,
            "exp": session.exp,
            "jti": session.jti,
        }
        if email:
            claims["email"] = email
        return self.signer.sign(claims), session

    def verify(self, token: str, header: dict[str, Any] | None = None) -> Session:
        """The session a token carries; `header` when the caller has read the JOSE header already."""
        claims = self.signer.verify(token, required=("exp", "iat", "jti", "uid", "sub"), header=header)
        user, groups, jti = claims.get("uid"), claims.get("groups", []), claims.get("jti")
        if not isinstance(user, str) or not user or not isinstance(jti, str) or not jti:
            raise errors.TokenError("invalid", "session lacks a user id or jti")
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise errors.TokenError("invalid", "session groups are not a list of strings")
        email = claims.get("email", "")
        if not isinstance(email, str):
            raise errors.TokenError("invalid", "session email is not a string")
        return Session(
            user=user,
            groups=tuple(groups),
            sub=str(claims.get("sub", "")),
            jti=jti,
            exp=int(claims["exp"]),
            iat=int(claims["iat"]),
            email=email,
        )

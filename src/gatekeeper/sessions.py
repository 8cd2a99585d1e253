"""Session JWTs (HS256 with a key id, so keys rotate without logging anyone out) and revocation.

The revocation list lives in this process's memory: a logout is refused on replay against the
same process until the token would have expired anyway. With several workers or units, each keeps
its own list (see docs); the tokens themselves stay verifiable everywhere with no network call.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

import jwt

from gatekeeper.config import SessionKey

SESSION_ISSUER = "dex-auth-gatekeeper"
SESSION_AUDIENCE = "dex-auth-session"
STATE_AUDIENCE = "dex-auth-login-state"
MAX_TOKEN_LENGTH = 8192

log = logging.getLogger("gatekeeper.sessions")


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
    """Revoked token ids, each kept until the token's own expiry.

    With a file, every logout is appended to it and each process re-reads it on `sync`, so a
    logout holds across the workers of a unit and across gatekeeper restarts (a config change
    restarts the service). Only revocation keys are written: a random `jti` or a hash of a
    token's signed part, never a token. An flock serialises the writers.
    """

    def __init__(self, limit: int = 200_000, path: str = "") -> None:
        self._expiry: dict[str, float] = {}
        self.keys = self._expiry.keys()  # a live view, for membership tests on the hot path
        self.limit = limit
        self.path = path

    def __contains__(self, key: str) -> bool:
        return key in self._expiry

    def __len__(self) -> int:
        return len(self._expiry)

    def revoke(self, key: str, expires_at: float, now: float | None = None) -> None:
        now = time.time() if now is None else now
        if expires_at <= now:
            return
        self._remember(key, expires_at, now)
        if self.path:
            try:
                with _locked(self.path) as file:
                    file.seek(0, os.SEEK_END)
                    file.write(f"{int(expires_at)} {key}\n")
            except OSError as exc:
                log.warning(
                    "revocation kept in memory only: %s", exc.strerror, extra={"event": "revocations_file_error"}
                )

    def _remember(self, key: str, expires_at: float, now: float) -> None:
        if key in self._expiry:
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

    def sync(self, now: float | None = None) -> None:
        """Forget what expired; take in other processes' logouts; drop expired lines from the file."""
        now = time.time() if now is None else now
        self.purge(now)
        if not self.path:
            return
        try:
            with _locked(self.path) as file:
                file.seek(0)
                live = []
                for line in file.read().splitlines():
                    exp, _, key = line.partition(" ")
                    if exp.isdigit() and key and int(exp) > now:
                        live.append(line)
                        self._remember(key, int(exp), now)
                file.seek(0)
                file.truncate()
                file.write("".join(f"{line}\n" for line in live))
        except OSError as exc:
            log.warning("cannot read the revocations file: %s", exc.strerror, extra={"event": "revocations_file_error"})


@contextmanager
def _locked(path: str) -> Iterator[TextIO]:
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(fd, "r+", encoding="ascii", errors="replace") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        yield file

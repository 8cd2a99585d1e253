"""The login's state: a signed, expiring `state`, one browser-bound cookie, and what is derived from both.

A browser holds one login cookie, a random id set when its first sign-in starts and reused by every
later one, however many tabs there are. Each sign-in gets a `state` that carries everything the
callback needs (attempt id, return path, expiry, a tag binding it to the browser id), signed like
the session (HS256 with the session keys, `kid` for rotation), so nothing per attempt is stored in
the browser or the gatekeeper. The PKCE verifier and the nonce are not stored either: they are
HMACs of the attempt id and the browser id under the session key that signed the state, so only
this browser, coming back with its own cookie, can finish the exchange (docs/architecture.md,
"Signing in").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from gatekeeper import errors, jwts, paths
from gatekeeper.config import SessionKey
from gatekeeper.cookies import parse_cookies
from gatekeeper.sessions import STATE_AUDIENCE

LOGIN_COOKIE = "authservice_login"
# With Secure cookies the __Host- prefix makes browsers refuse the cookie from a sibling domain or
# for a narrower path, so another site on the same parent domain cannot plant a login id it knows.
SECURE_LOGIN_COOKIE = "__Host-" + LOGIN_COOKIE
MAX_STATE_LENGTH = 4096
_BROWSER_ID = re.compile(r"^[A-Za-z0-9_-]{43}$")
_ATTEMPT_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")


@dataclass(frozen=True)
class Attempt:
    """One sign-in as its verified state describes it."""

    attempt_id: str
    return_path: str
    expires: int  # on the login clock (LoginState.now)
    kid: str  # the session key that signed it, which also derives its secrets
    binding: str


def login_cookie_name(secure: bool) -> str:
    return SECURE_LOGIN_COOKIE if secure else LOGIN_COOKIE


def new_browser_id() -> str:
    return secrets.token_urlsafe(32)


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class LoginState:
    """Issues and reads states, and derives each attempt's nonce and PKCE verifier."""

    def __init__(self, keys: tuple[SessionKey, ...], lifetime: int, clock_offset: int = 0) -> None:
        self.signer = jwts.Signer(keys, STATE_AUDIENCE)
        self.signing_kid = keys[0].kid
        self._keys = {key.kid: key.secret for key in keys}
        self.lifetime = lifetime
        self.clock_offset = clock_offset

    def now(self) -> int:
        """The login clock: real time plus the test-only offset (GATEKEEPER_TEST_CLOCK_OFFSET)."""
        return int(time.time()) + self.clock_offset

    def derive(self, kid: str, purpose: str, attempt_id: str, browser_id: str) -> str:
        """HMAC-SHA256 of (purpose, attempt, browser) under the session key `kid`, URL-safe base64 (43 chars)."""
        message = f"dex-auth login {purpose}\0{attempt_id}\0{browser_id}".encode()
        return _b64(hmac.new(self._keys[kid], message, hashlib.sha256).digest())

    def issue(self, return_path: str, browser_id: str) -> tuple[str, Attempt]:
        """A fresh state for a sign-in that returns to `return_path`, bound to `browser_id`."""
        attempt_id, kid, now = secrets.token_urlsafe(16), self.signing_kid, self.now()
        binding = self.derive(kid, "binding", attempt_id, browser_id)
        attempt = Attempt(attempt_id, return_path, now + self.lifetime, kid, binding)
        state = self.signer.sign({"aid": attempt_id, "rd": return_path, "until": attempt.expires, "bind": binding})
        return state, attempt

    def read(self, state: str) -> Attempt | None:
        """The attempt a state describes when this gatekeeper signed it; expired ones too (see `expired`)."""
        if not state or len(state) > MAX_STATE_LENGTH:
            return None
        try:
            header = jwts.header_of(state)
            claims = self.signer.verify(state, required=("until",), header=header)
        except errors.TokenError:
            return None
        attempt_id, return_path, until, binding = (claims.get(k) for k in ("aid", "rd", "until", "bind"))
        if not (isinstance(attempt_id, str) and _ATTEMPT_ID.match(attempt_id)):
            return None
        # Checked when issued; checked again so a state can never be read as a way off this site.
        if not (isinstance(return_path, str) and paths.safe_return_path(return_path, "") == return_path):
            return None
        if not (isinstance(until, int) and isinstance(binding, str)):
            return None
        return Attempt(attempt_id, return_path, until, str(header.get("kid")), binding)

    def expired(self, attempt: Attempt) -> bool:
        return attempt.expires <= self.now()

    def bound_to(self, attempt: Attempt, browser_id: str) -> bool:
        """True when the attempt was started by the browser holding `browser_id`."""
        expected = self.derive(attempt.kid, "binding", attempt.attempt_id, browser_id)
        return hmac.compare_digest(expected, attempt.binding)

    def nonce(self, attempt: Attempt, browser_id: str) -> str:
        return self.derive(attempt.kid, "nonce", attempt.attempt_id, browser_id)

    def verifier(self, attempt: Attempt, browser_id: str) -> str:
        """The PKCE code verifier: 43 characters of the unreserved set, as RFC 7636 asks."""
        return self.derive(attempt.kid, "pkce", attempt.attempt_id, browser_id)


def browser_id(cookie_header: str, name: str) -> str | None:
    """The first well-formed login cookie of the request; junk values are passed over."""
    for cookie_name, value in parse_cookies(cookie_header):
        if cookie_name == name and _BROWSER_ID.match(value):
            return value
    return None

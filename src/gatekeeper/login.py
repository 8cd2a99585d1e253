"""The browser login: per-attempt state cookies, PKCE, the redirect to Dex, and the callback.

Each attempt has its own signed cookie `authservice_state_<state>` (nonce, PKCE verifier, return
path), so several tabs can log in at once; at most MAX_STATE_COOKIES are kept. A callback whose
cookie is gone restarts the login once, marked as a retry, instead of failing with "CSRF check
failed"; if the retry's cookie is gone too, the browser is not keeping cookies and a page says so.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import jwt

from gatekeeper import errors, jwts, pages
from gatekeeper.config import Settings
from gatekeeper.cookies import (
    MAX_SET_COOKIE_BYTES,
    SESSION_COOKIE,
    STATE_COOKIE_PREFIX,
    expire_cookie,
    parse_cookies,
    set_cookie,
)
from gatekeeper.headers import IdentityHeaders
from gatekeeper.metrics import Metrics
from gatekeeper.provider import Provider
from gatekeeper.responses import Response, html_response, redirect
from gatekeeper.sessions import STATE_AUDIENCE, SessionCodec
from gatekeeper.tokens import IdTokenVerifier, identity_from_claims

log = logging.getLogger("gatekeeper.login")

STATE_LIFETIME = 600
MAX_STATE_COOKIES = 5
# Crafted requests can carry hundreds of state cookies; expiring them all in one answer would
# exceed Envoy's 100-header limit and turn the redirect into an error.
MAX_EXPIRED_PER_ANSWER = 10
RETRY_MARK = "retry-"
MAX_CODE_LENGTH = 2048
_STATE_RE = re.compile(r"^[A-Za-z0-9_-]{16,80}$")


@dataclass(frozen=True)
class LoginAttempt:
    state: str
    nonce: str
    verifier: str
    return_path: str


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _attempt(state: str, claims: dict[str, Any]) -> LoginAttempt | None:
    """The attempt a verified state cookie describes, when it is for `state` and complete."""
    nonce, verifier, return_path = claims.get("nonce"), claims.get("pkce"), claims.get("rd")
    if claims.get("st") != state or not (isinstance(nonce, str) and isinstance(verifier, str)):
        return None
    if not isinstance(return_path, str) or not (nonce and verifier and return_path):
        return None
    return LoginAttempt(state=state, nonce=nonce, verifier=verifier, return_path=return_path)


def _issued_at(value: str) -> int:
    try:
        iat = jwt.decode(value, options={"verify_signature": False}).get("iat", 0)
    except jwt.PyJWTError:
        return 0
    return iat if isinstance(iat, int) else 0


class LoginFlow:
    def __init__(
        self,
        settings: Settings,
        provider: Provider,
        codec: SessionCodec,
        id_tokens: IdTokenVerifier,
        identity: IdentityHeaders,
        metrics: Metrics,
    ) -> None:
        self.settings = settings
        self.provider = provider
        self.codec = codec
        self.id_tokens = id_tokens
        self.identity = identity
        self.metrics = metrics
        self.signer = jwts.Signer(settings.session_keys, STATE_AUDIENCE)
        self._url_prefix: tuple[str, str] | None = None

    def _authorization_url_prefix(self, endpoint: str) -> str:
        """The part of the authorization URL that is the same for every login, built once."""
        cached = self._url_prefix
        if cached is None or cached[0] != endpoint:
            static = urlencode(
                {
                    "response_type": "code",
                    "client_id": self.settings.client_id,
                    "redirect_uri": self.settings.callback_url,
                    "scope": self.settings.scopes,
                    "code_challenge_method": "S256",
                }
            )
            cached = self._url_prefix = (endpoint, endpoint + ("&" if "?" in endpoint else "?") + static)
        return cached[1]

    def login_url(self, return_path: str) -> str:
        return f"{self.settings.prefix}/oidc/login?rd={quote(return_path, safe='/')}"

    def surplus_state_cookies(self, cookie_header: str) -> list[str]:
        """Names of the oldest state cookies to expire so that a new one keeps the count capped."""
        seen: dict[str, str] = {}
        for name, value in parse_cookies(cookie_header):
            if name.startswith(STATE_COOKIE_PREFIX) and name not in seen:
                seen[name] = value
        if len(seen) < MAX_STATE_COOKIES:
            return []
        oldest_first = sorted(seen, key=lambda name: _issued_at(seen[name]))
        surplus = len(seen) - MAX_STATE_COOKIES + 1
        return oldest_first[: min(surplus, MAX_EXPIRED_PER_ANSWER)]

    def start(self, return_path: str, cookie_header: str, *, retry: bool = False) -> Response:
        """302 to the provider's authorization endpoint, with a fresh state cookie."""
        metadata = self.provider.metadata
        if metadata is None or not self.provider.ready:
            raise errors.ProviderUnavailableError(self.provider.last_error or "identity provider not ready")
        state = (RETRY_MARK if retry else "") + secrets.token_urlsafe(24)
        nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        now = int(time.time())
        cookie_value = self.signer.sign(
            {"st": state, "nonce": nonce, "pkce": verifier, "rd": return_path, "iat": now, "exp": now + STATE_LIFETIME}
        )
        # state, nonce and the challenge are URL-safe base64 already: no quoting needed.
        url = (
            f"{self._authorization_url_prefix(metadata.authorization_endpoint)}"
            f"&state={state}&nonce={nonce}&code_challenge={pkce_challenge(verifier)}"
        )
        response = redirect(url)
        secure = self.settings.secure_cookies
        for name in self.surplus_state_cookies(cookie_header):
            response.add_cookie(expire_cookie(name, secure=secure))
        response.add_cookie(
            set_cookie(STATE_COOKIE_PREFIX + state, cookie_value, max_age=STATE_LIFETIME, secure=secure)
        )
        return response

    def read_attempt(self, state: str, cookie_header: str) -> LoginAttempt | None:
        """The verified login attempt for `state`, or None when its cookie is missing or bad."""
        if not _STATE_RE.match(state):
            return None
        name = STATE_COOKIE_PREFIX + state
        for cookie_name, value in parse_cookies(cookie_header):
            if cookie_name != name:
                continue
            try:
                claims = self.signer.verify(value)
            except errors.TokenError:
                continue
            attempt = _attempt(state, claims)
            if attempt is not None:
                return attempt
        return None

    def unavailable(self, return_path: str) -> Response:
        """The page a browser gets while the provider is away, with a link that retries the login."""
        return html_response(503, pages.provider_unavailable(self.login_url(return_path)), [(b"retry-after", b"5")])

    def _failed(self, status: int, reason: str, log_reason: str, return_path: str, clear: list[str]) -> Response:
        self.metrics.logins["failure"] += 1
        log.info("login failed", extra={"event": "login_failed", "reason": log_reason})
        return self._clear(html_response(status, pages.callback_failed(reason, self.login_url(return_path))), clear)

    def _clear(self, response: Response, names: list[str]) -> Response:
        for name in names:
            response.add_cookie(expire_cookie(name, secure=self.settings.secure_cookies))
        return response

    async def callback(self, params: dict[str, str], cookie_header: str) -> Response:
        """Where the provider sends the browser back: a session and a redirect, or a page saying why not."""
        state = params.get("state", "")
        attempt = self.read_attempt(state, cookie_header)
        used_cookie = [STATE_COOKIE_PREFIX + state] if attempt else []
        error = params.get("error")
        if error is not None:
            return self._clear(self._refused_by_provider(error, params, attempt), used_cookie)
        if attempt is None:
            return self._no_attempt(state, cookie_header)
        code = params.get("code", "")
        if not code or len(code) > MAX_CODE_LENGTH:
            return self._failed(
                400, "The sign-in answer carried no usable code.", "missing_code", attempt.return_path, used_cookie
            )
        try:
            user, groups, sub = await self._identity(code, attempt)
        except errors.CodeExchangeError as exc:
            message = (
                f"The identity provider refused the sign-in code ({exc.reason}); "
                "it may have expired or been used already."
            )
            return self._failed(400, message, f"code_exchange:{exc.reason}", attempt.return_path, used_cookie)
        except errors.TokenError as exc:
            self.metrics.token_error(exc.reason)
            message = f"The identity provider's answer was refused ({exc.reason})."
            return self._failed(400, message, exc.reason, attempt.return_path, used_cookie)
        return self._logged_in(user, groups, sub, attempt.return_path, used_cookie)

    def _refused_by_provider(self, error: str, params: dict[str, str], attempt: LoginAttempt | None) -> Response:
        self.metrics.logins["failure"] += 1
        log.info("login refused by the identity provider", extra={"event": "login_failed", "reason": error[:100]})
        retry_url = self.login_url(attempt.return_path if attempt else "/")
        html = pages.login_error(error, params.get("error_description", ""), retry_url)
        return html_response(403 if error == "access_denied" else 400, html)

    def _no_attempt(self, state: str, cookie_header: str) -> Response:
        """No usable state cookie: start over once, marked as a retry; a second time, say why."""
        if state.startswith(RETRY_MARK):
            self.metrics.logins["failure"] += 1
            log.info(
                "login impossible: browser keeps no cookies",
                extra={"event": "login_failed", "reason": "no_state_cookie_twice"},
            )
            return html_response(400, pages.cookies_blocked(self.settings.secure_cookies))
        log.info(
            "login state cookie missing or expired; starting over",
            extra={"event": "login_restart", "reason": "no_state_cookie"},
        )
        return self.start("/", cookie_header, retry=True)

    async def _identity(self, code: str, attempt: LoginAttempt) -> tuple[str, tuple[str, ...], str]:
        """(user, groups, sub) from the ID token the code is exchanged for, checked as headers will carry it."""
        id_token = await self.provider.exchange_code(code, attempt.verifier)
        claims = await self.id_tokens.verify(id_token, audiences=(self.settings.client_id,), nonce=attempt.nonce)
        user, groups = identity_from_claims(claims, self.settings)
        self.identity.for_user(user, groups)
        return user, groups, str(claims.get("sub", ""))

    def _logged_in(
        self, user: str, groups: tuple[str, ...], sub: str, return_path: str, used_cookie: list[str]
    ) -> Response:
        """The session cookie and the way back, unless the groups make the cookie too large for browsers."""
        token, _ = self.codec.issue(user=user, groups=groups, sub=sub)
        session_cookie = set_cookie(
            SESSION_COOKIE, token, max_age=self.codec.lifetime, secure=self.settings.secure_cookies
        )
        if len(session_cookie) > MAX_SET_COOKIE_BYTES:
            self.metrics.logins["failure"] += 1
            log.warning(
                "login failed: session too large",
                extra={"event": "login_failed", "user": user, "reason": "too_many_groups", "groups": len(groups)},
            )
            return html_response(400, pages.session_too_large(len(groups)))
        response = redirect(self.settings.public_url + return_path)
        response.add_cookie(session_cookie)
        self._clear(response, used_cookie)
        self.metrics.logins["success"] += 1
        log.info("login", extra={"event": "login", "user": user, "groups": len(groups)})
        return response

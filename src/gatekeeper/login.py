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
from urllib.parse import quote, urlencode

import jwt

from gatekeeper import pages
from gatekeeper.config import Settings
from gatekeeper.cookies import (
    MAX_SET_COOKIE_BYTES,
    SESSION_COOKIE,
    STATE_COOKIE_PREFIX,
    expire_cookie,
    parse_cookies,
    set_cookie,
)
from gatekeeper.headers import IdentityHeaders, UnsafeIdentityError
from gatekeeper.metrics import Metrics
from gatekeeper.provider import CodeExchangeError, Provider, ProviderUnavailableError
from gatekeeper.responses import Response, html_response, redirect
from gatekeeper.sessions import STATE_AUDIENCE, SessionCodec, Signer, TokenError
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
        self.signer = Signer(settings.session_keys, STATE_AUDIENCE)
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
            raise ProviderUnavailableError(self.provider.last_error or "identity provider not ready")
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
            except TokenError:
                continue
            fields = (claims.get("st"), claims.get("nonce"), claims.get("pkce"), claims.get("rd"))
            if fields[0] == state and all(isinstance(f, str) and f for f in fields):
                return LoginAttempt(state=state, nonce=fields[1], verifier=fields[2], return_path=fields[3])
        return None

    def _failed(self, status: int, reason: str, log_reason: str, return_path: str, clear: list[str]) -> Response:
        self.metrics.logins["failure"] += 1
        log.info("login failed", extra={"event": "login_failed", "reason": log_reason})
        response = html_response(status, pages.callback_failed(reason, self.login_url(return_path)))
        for name in clear:
            response.add_cookie(expire_cookie(name, secure=self.settings.secure_cookies))
        return response

    async def callback(self, params: dict[str, str], cookie_header: str) -> Response:
        state = params.get("state", "")
        attempt = self.read_attempt(state, cookie_header)
        return_path = attempt.return_path if attempt else "/"
        used_cookie = [STATE_COOKIE_PREFIX + state] if attempt else []
        error = params.get("error")
        if error is not None:
            self.metrics.logins["failure"] += 1
            log.info("login refused by the identity provider", extra={"event": "login_failed", "reason": error[:100]})
            html = pages.login_error(error, params.get("error_description", ""), self.login_url(return_path))
            response = html_response(403 if error == "access_denied" else 400, html)
            for name in used_cookie:
                response.add_cookie(expire_cookie(name, secure=self.settings.secure_cookies))
            return response
        if attempt is None:
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
        code = params.get("code", "")
        if not code or len(code) > MAX_CODE_LENGTH:
            return self._failed(
                400, "The sign-in answer carried no usable code.", "missing_code", return_path, used_cookie
            )
        try:
            id_token = await self.provider.exchange_code(code, attempt.verifier)
        except CodeExchangeError as exc:
            return self._failed(
                400,
                f"The identity provider refused the sign-in code ({exc.reason}); "
                "it may have expired or been used already.",
                f"code_exchange:{exc.reason}",
                return_path,
                used_cookie,
            )
        try:
            claims = await self.id_tokens.verify(id_token, audiences=(self.settings.client_id,), nonce=attempt.nonce)
            user, groups = identity_from_claims(claims, self.settings)
            self.identity.for_user(user, groups)
        except (TokenError, UnsafeIdentityError) as exc:
            reason = exc.reason if isinstance(exc, TokenError) else "bad_identity"
            self.metrics.token_error(reason)
            return self._failed(
                400, f"The identity provider's answer was refused ({reason}).", reason, return_path, used_cookie
            )
        token, _ = self.codec.issue(user=user, groups=groups, sub=str(claims.get("sub", "")))
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
        for name in used_cookie:
            response.add_cookie(expire_cookie(name, secure=self.settings.secure_cookies))
        self.metrics.logins["success"] += 1
        log.info("login", extra={"event": "login", "user": user, "groups": len(groups)})
        return response

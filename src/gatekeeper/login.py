"""The browser login: the redirect to Dex with state, nonce and PKCE, and the callback.

One login cookie per browser and a signed state per attempt (login_state.py), so any number of
tabs can sign in at once and a form may stay open as long as Dex keeps its auth request
(`login-timeout`). Every callback that cannot give a session leads somewhere: a state from
another browser, an expired one or a garbled one starts a fresh sign-in; a state used already
sends the browser to its page (a session there lets it in, none starts a sign-in); a browser that
came back without the login cookie gets the page that says cookies are blocked.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from urllib.parse import quote, urlencode

from gatekeeper import errors, login_state, pages
from gatekeeper.access import verified_email
from gatekeeper.config import Settings
from gatekeeper.cookies import MAX_SET_COOKIE_BYTES, SESSION_COOKIE, set_cookie
from gatekeeper.headers import IdentityHeaders
from gatekeeper.metrics import Metrics
from gatekeeper.provider import Provider
from gatekeeper.responses import Response, html_response, redirect
from gatekeeper.revocations import Revocations
from gatekeeper.sessions import SessionCodec
from gatekeeper.tokens import IdTokenVerifier, identity_from_claims

log = logging.getLogger("gatekeeper.login")

MAX_CODE_LENGTH = 2048
USED_PREFIX = "login:"  # the key of a used attempt in `LoginFlow.used`


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


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
        self.states = login_state.LoginState(settings.session_keys, settings.login_timeout, settings.test_clock_offset)
        self.cookie_name = login_state.login_cookie_name(settings.secure_cookies)
        # Attempts that gave a session, refused when replayed until their state expires; shared by
        # the workers through a file next to the revocations file when there is one.
        used_file = settings.revocations_file + ".logins" if settings.revocations_file else ""
        self.used = Revocations(path=used_file)
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

    def start(self, return_path: str, cookie_header: str) -> Response:
        """302 to the provider's authorization endpoint; the browser's login cookie set (or kept)."""
        metadata = self.provider.metadata
        if metadata is None or not self.provider.ready:
            raise errors.ProviderUnavailableError(self.provider.last_error or "identity provider not ready")
        browser = login_state.browser_id(cookie_header, self.cookie_name) or login_state.new_browser_id()
        state, attempt = self.states.issue(return_path, browser)
        challenge = pkce_challenge(self.states.verifier(attempt, browser))
        # state (a JWT), nonce and the challenge are URL-safe already: no quoting needed.
        url = (
            f"{self._authorization_url_prefix(metadata.authorization_endpoint)}"
            f"&state={state}&nonce={self.states.nonce(attempt, browser)}&code_challenge={challenge}"
        )
        response = redirect(url)
        # Set again with the same value: it then outlives every state this browser holds.
        max_age = self.settings.login_timeout
        response.add_cookie(set_cookie(self.cookie_name, browser, max_age=max_age, secure=self.settings.secure_cookies))
        return response

    def unavailable(self, return_path: str) -> Response:
        """Where a browser goes while no sign-in can start: the page that retries by itself."""
        location = f"{self.settings.public_url}{self.settings.prefix}/unavailable?rd={quote(return_path, safe='/')}"
        return redirect(location)

    def _failed(self, status: int, reason: str, log_reason: str, return_path: str) -> Response:
        self.metrics.logins["failure"] += 1
        log.info("login failed", extra={"event": "login_failed", "reason": log_reason})
        return html_response(status, pages.callback_failed(reason, self.login_url(return_path)))

    def _restart(self, return_path: str, cookie_header: str, reason: str) -> Response:
        """A fresh sign-in for the same page, instead of an error the person cannot act on."""
        log.info("login restarted", extra={"event": "login_restart", "reason": reason})
        try:
            return self.start(return_path, cookie_header)
        except errors.ProviderUnavailableError:
            return self.unavailable(return_path)

    async def callback(self, params: dict[str, str], cookie_header: str) -> Response:
        """Where the provider sends the browser back: a session and a redirect, or where to go instead."""
        attempt = self.states.read(params.get("state", ""))
        error = params.get("error")
        if error is not None:
            return self._refused_by_provider(error, params, attempt)
        if attempt is None:
            return self._restart("/", cookie_header, "bad_state")
        browser = login_state.browser_id(cookie_header, self.cookie_name)
        if browser is None:
            return self._cookies_blocked(attempt)
        detour = self._detour(attempt, browser, cookie_header)
        if detour is not None:
            return detour
        code = params.get("code", "")
        if not code or len(code) > MAX_CODE_LENGTH:
            return self._failed(400, "The sign-in answer carried no usable code.", "missing_code", attempt.return_path)
        return await self._finish(code, attempt, browser)

    def _detour(self, attempt: login_state.Attempt, browser: str, cookie_header: str) -> Response | None:
        """Where a callback goes when its state cannot give a session; None when it may."""
        if not self.states.bound_to(attempt, browser):
            return self._restart(attempt.return_path, cookie_header, "state_of_another_browser")
        if self.states.expired(attempt):
            return self._restart(attempt.return_path, cookie_header, "state_expired")
        if USED_PREFIX + attempt.attempt_id in self.used:
            log.info("login state used already", extra={"event": "login_replayed", "reason": "state_used"})
            return redirect(self.settings.public_url + attempt.return_path)
        return None

    def _cookies_blocked(self, attempt: login_state.Attempt) -> Response:
        self.metrics.logins["failure"] += 1
        log.info(
            "login impossible: browser keeps no cookies", extra={"event": "login_failed", "reason": "no_login_cookie"}
        )
        html = pages.cookies_blocked(self.settings.secure_cookies, self.login_url(attempt.return_path))
        return html_response(400, html)

    async def _finish(self, code: str, attempt: login_state.Attempt, browser: str) -> Response:
        """The code exchanged, the ID token checked against this attempt, then the session."""
        try:
            user, groups, sub, email = await self._identity(code, attempt, browser)
        except errors.ProviderUnavailableError:
            return self.unavailable(attempt.return_path)
        except errors.CodeExchangeError as exc:
            message = (
                f"The identity provider refused the sign-in code ({exc.reason}); "
                "it may have expired or been used already."
            )
            return self._failed(400, message, f"code_exchange:{exc.reason}", attempt.return_path)
        except errors.TokenError as exc:
            self.metrics.token_error(exc.reason)
            message = f"The identity provider's answer was refused ({exc.reason})."
            return self._failed(400, message, exc.reason, attempt.return_path)
        expires = attempt.expires - self.states.clock_offset
        self.used.revoke(USED_PREFIX + attempt.attempt_id, expires)
        return self._logged_in(user, groups, sub, email, attempt.return_path)

    def _refused_by_provider(self, error: str, params: dict[str, str], attempt: login_state.Attempt | None) -> Response:
        self.metrics.logins["failure"] += 1
        log.info("login refused by the identity provider", extra={"event": "login_failed", "reason": error[:100]})
        retry_url = self.login_url(attempt.return_path if attempt else "/")
        html = pages.login_error(error, params.get("error_description", ""), retry_url)
        return html_response(403 if error == "access_denied" else 400, html)

    async def _identity(
        self, code: str, attempt: login_state.Attempt, browser: str
    ) -> tuple[str, tuple[str, ...], str, str]:
        """(user, groups, sub, verified email) from the ID token the code is exchanged for, checked
        as headers will carry it."""
        id_token = await self.provider.exchange_code(code, self.states.verifier(attempt, browser))
        nonce = self.states.nonce(attempt, browser)
        claims = await self.id_tokens.verify(id_token, audiences=(self.settings.client_id,), nonce=nonce)
        user, groups = identity_from_claims(claims, self.settings)
        self.identity.for_user(user, groups)
        return user, groups, str(claims.get("sub", "")), verified_email(claims)

    def _logged_in(self, user: str, groups: tuple[str, ...], sub: str, email: str, return_path: str) -> Response:
        """The session cookie and the way back, unless the groups make the cookie too large for browsers."""
        token, _ = self.codec.issue(user=user, groups=groups, sub=sub, email=email)
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
        self.metrics.logins["success"] += 1
        log.info("login", extra={"event": "login", "user": user, "groups": len(groups)})
        return response

"""The gatekeeper's own endpoints: operations (health, readiness, metrics), login, callback, logout,
and the two pages a browser is sent to: "sign-in not available yet" and "signed out".

Each handler takes the request value and returns a Response; a refusal is raised as an
`errors.GatekeeperError` and answered by the spine (app.py), so none builds its own error JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from time import time

from gatekeeper import cookies, errors, pages, request
from gatekeeper.check import Authenticator
from gatekeeper.login import LoginFlow
from gatekeeper.paths import safe_return_path
from gatekeeper.request import Request
from gatekeeper.responses import Response, html_response, json_response, redirect, text_response

log = logging.getLogger("gatekeeper.app")

Handler = Callable[[Request], Awaitable[Response]]
MAX_SESSION_COOKIES_LOGGED_OUT = 3


class Endpoints:
    """The handlers; they share the login flow's settings, provider and metrics."""

    def __init__(self, login: LoginFlow, auth: Authenticator) -> None:
        self.login, self.auth = login, auth
        self.settings, self.provider, self.metrics = login.settings, login.provider, login.metrics

    def handlers(self) -> dict[str, Handler]:
        """The handler of each route (request.py's names) that is not the check."""
        return {
            request.HEALTHZ: self.healthz,
            request.READYZ: self.readyz,
            request.METRICS: self.metrics_page,
            request.LOGIN: self.start_login,
            request.CALLBACK: self.callback,
            request.LOGOUT: self.logout,
            request.UNAVAILABLE: self.unavailable,
            request.SIGNED_OUT: self.signed_out,
        }

    async def healthz(self, _: Request) -> Response:
        return text_response(200, "ok\n")

    async def readyz(self, _: Request) -> Response:
        if self.provider.ready:
            return text_response(200, "ready\n")
        return text_response(503, f"not ready: {self.provider.last_error}\n")

    async def metrics_page(self, _: Request) -> Response:
        body = self.metrics.render() + (
            "# HELP gatekeeper_provider_ready 1 when discovery and keys are loaded.\n"
            "# TYPE gatekeeper_provider_ready gauge\n"
            f"gatekeeper_provider_ready {int(self.provider.ready)}\n"
        )
        return text_response(200, body, b"text/plain; version=0.0.4; charset=utf-8")

    async def start_login(self, req: Request) -> Response:
        """`<prefix>/oidc/login?rd=...`: a login started on purpose (a link, a script), not by a check."""
        params = _get_params(req)
        return_path = safe_return_path(params.get("rd", "/"), self.settings.public_url) or "/"
        try:
            return self.login.start(return_path, req.cookie_header())
        except errors.ProviderUnavailableError:
            if req.wants_json():
                raise
            return self.login.unavailable(return_path)

    async def callback(self, req: Request) -> Response:
        """`<prefix>/oidc/callback`: the provider sends the browser back here (login.py does the work)."""
        params = _get_params(req)
        try:
            return await self.login.callback(params, req.cookie_header())
        except errors.ProviderUnavailableError:
            return self.login.unavailable("/")

    async def unavailable(self, req: Request) -> Response:
        """`<prefix>/unavailable?rd=...`: 503 and a page that reloads itself until a sign-in can start,
        then the way back to the page first asked for (whose check then starts the sign-in).

        On the bypassed prefix, so the gateway shows this 503 as it is: a check answering 5xx
        would become Envoy's empty 403.
        """
        return_path = safe_return_path(_get_params(req).get("rd", "/"), self.settings.public_url) or "/"
        if self.provider.ready:
            return redirect(self.settings.public_url + return_path)
        retry = str(pages.RETRY_SECONDS).encode()
        return html_response(503, pages.provider_unavailable(return_path), [(b"retry-after", retry)])

    async def signed_out(self, req: Request) -> Response:
        """`<prefix>/signed-out`: where logout sends a browser unless after-logout-url says otherwise."""
        _get_params(req)
        return html_response(200, pages.signed_out(self.login.login_url("/")))

    async def logout(self, req: Request) -> Response:
        """Revoke every credential the request carries, expire the cookie, send the browser on."""
        if req.method not in ("GET", "POST", "HEAD"):
            raise errors.MethodNotAllowedError("use GET or POST")
        try:
            params = req.params()
        except errors.BadQueryError:
            params = {}
        users = await self._revoke(req)
        location = self.settings.public_url + self._after_logout(params.get("rd", ""))
        response = json_response(200, {"afterLogoutURL": location}) if req.wants_json() else redirect(location)
        response.add_cookie(cookies.expire_cookie(cookies.SESSION_COOKIE, secure=self.settings.secure_cookies))
        self.metrics.logouts += 1
        log.info("logout", extra={"event": "logout", "user": users[0] if users else None, "revoked": len(users)})
        return response

    def _after_logout(self, rd: str) -> str:
        """A safe `rd` first, then after-logout-url; left at `/`, the signed-out page, not a bare login form."""
        target = safe_return_path(rd, self.settings.public_url) if rd else None
        if target is None and self.settings.after_logout_url == "/":
            return f"{self.settings.prefix}/signed-out"
        return target or self.settings.after_logout_url

    async def _revoke(self, req: Request) -> list[str]:
        """The users whose tokens were revoked (a token that does not verify is passed over)."""
        credentials = req.credentials()
        tokens = credentials.sessions[:MAX_SESSION_COOKIES_LOGGED_OUT]
        if credentials.bearer is not None:
            tokens.insert(0, credentials.bearer)
        now = time()
        users: list[str] = []
        for token in tokens:
            try:
                entry = await self.auth.verify(token, now)
            except errors.TokenError:
                continue
            self.auth.revoked.revoke(entry.revocation_key, entry.exp, now)
            self.auth.cache.discard(token)
            users.append(entry.user)
        return users


def _get_params(req: Request) -> dict[str, str]:
    """The query of a GET-only endpoint."""
    if req.method not in ("GET", "HEAD"):
        raise errors.MethodNotAllowedError("use GET")
    return req.params()

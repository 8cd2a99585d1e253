"""The gatekeeper's own public endpoints: login, callback, logout (here or everywhere), and the
two pages a browser is sent to: "sign-in not available yet" and "signed out". The operations
endpoints are in operations.py.

Each handler takes the request value and returns a Response; a refusal is raised as an
`errors.GatekeeperError` and answered by the spine (app.py), so none builds its own error JSON.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from time import time

from gatekeeper import cookies, errors, jwts, pages, request
from gatekeeper.check import Authenticator
from gatekeeper.login import LoginFlow
from gatekeeper.paths import safe_return_path
from gatekeeper.request import Request
from gatekeeper.responses import Response, html_response, json_response, redirect

log = logging.getLogger("gatekeeper.app")

Handler = Callable[[Request], Awaitable[Response]]
MAX_SESSION_COOKIES_LOGGED_OUT = 3
SIGN_OUT_COOKIE = "authservice_signed_out"  # who just logged out, for "sign out of all devices"
SIGN_OUT_AUDIENCE = "dex-auth-signed-out"
SIGN_OUT_PROOF_SECONDS = 600


class Endpoints:
    """The handlers; they share the login flow's settings, provider and metrics."""

    def __init__(self, login: LoginFlow, auth: Authenticator) -> None:
        self.login, self.auth = login, auth
        self.settings, self.provider, self.metrics = login.settings, login.provider, login.metrics
        self.sign_out_proofs = jwts.Signer(self.settings.session_keys, SIGN_OUT_AUDIENCE)

    def handlers(self) -> dict[str, Handler]:
        """The handler of each route (request.py's names) that is not the check."""
        return {
            request.LOGIN: self.start_login,
            request.CALLBACK: self.callback,
            request.LOGOUT: self.logout,
            request.LOGOUT_EVERYWHERE: self.logout_everywhere,
            request.UNAVAILABLE: self.unavailable,
            request.SIGNED_OUT: self.signed_out,
            request.JWKS: self.jwks,
        }

    async def jwks(self, req: Request) -> Response:
        """`<prefix>/.well-known/jwks.json`: the keys an upstream verifies the identity assertion with.

        Cacheable for a short while: a key that starts signing is listed here before it signs.
        """
        _get_params(req)
        signer = self.auth.assertions
        if signer is None:
            raise errors.NotFoundError
        headers = [(b"content-type", b"application/json"), (b"cache-control", b"public, max-age=300")]
        return Response(200, headers, json.dumps(signer.jwks).encode())

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
        """`<prefix>/signed-out`: where logout sends a browser unless after-logout-url says otherwise.

        Just after a logout, the browser holds a short proof of who it was (SIGN_OUT_COOKIE),
        and the page offers to sign that user out on every device.
        """
        params = _get_params(req)
        everywhere = params.get("everywhere") == "1"
        offer = "" if everywhere or self._signed_out_user(req) is None else f"{self.settings.prefix}/logout/everywhere"
        return html_response(200, pages.signed_out(self.login.login_url("/"), offer, everywhere=everywhere))

    async def logout_everywhere(self, req: Request) -> Response:
        """`POST <prefix>/logout/everywhere`, from the signed-out page: every session of the user ends.

        POST and a SameSite=Strict proof cookie: another site cannot make a browser do it.
        """
        if req.method != "POST":
            raise errors.MethodNotAllowedError("use POST, from the signed-out page")
        user = self._signed_out_user(req)
        if user is None:
            raise errors.BadRequestError("no recent logout to extend: sign in, then log out again")
        self.auth.revoke_user(user, time())
        log.info("logout everywhere", extra={"event": "logout_everywhere", "user": user})
        response = redirect(f"{self.settings.public_url}{self.settings.prefix}/signed-out?everywhere=1")
        response.add_cookie(self._sign_out_cookie("", 0))
        return response

    def _signed_out_user(self, req: Request) -> str | None:
        for name, value in cookies.parse_cookies(req.cookie_header()):
            if name == SIGN_OUT_COOKIE:
                try:
                    user = self.sign_out_proofs.verify(value, required=("exp", "iat", "uid")).get("uid")
                except errors.TokenError:
                    continue
                if isinstance(user, str) and user:
                    return user
        return None

    def _sign_out_cookie(self, user: str, max_age: int) -> str:
        value = (
            self.sign_out_proofs.sign({"uid": user, "iat": int(time()), "exp": int(time()) + max_age}) if user else ""
        )
        return cookies.set_cookie(
            SIGN_OUT_COOKIE,
            value,
            max_age=max_age,
            secure=self.settings.secure_cookies,
            path=f"{self.settings.prefix}/",
            same_site="Strict",
        )

    async def logout(self, req: Request) -> Response:
        """Revoke every credential the request carries, expire the cookie, send the browser on."""
        if req.method not in ("GET", "POST", "HEAD"):
            raise errors.MethodNotAllowedError("use GET or POST")
        try:
            params = req.params()
        except errors.BadQueryError:
            params = {}
        users = await self._revoke(req)
        if params.get("everywhere") == "1" and req.method == "POST":  # a script's "sign out of all devices"
            for user in dict.fromkeys(users):
                self.auth.revoke_user(user, time())
        location = self.settings.public_url + self._after_logout(params.get("rd", ""))
        response = json_response(200, {"afterLogoutURL": location}) if req.wants_json() else redirect(location)
        response.add_cookie(cookies.expire_cookie(cookies.SESSION_COOKIE, secure=self.settings.secure_cookies))
        if users and not req.wants_json():
            response.add_cookie(self._sign_out_cookie(users[0], SIGN_OUT_PROOF_SECONDS))
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
            self.auth.revoke(entry, now)
            self.auth.cache.discard(token)
            users.append(entry.user)
        return users


def _get_params(req: Request) -> dict[str, str]:
    """The query of a GET-only endpoint."""
    if req.method not in ("GET", "HEAD"):
        raise errors.MethodNotAllowedError("use GET")
    return req.params()

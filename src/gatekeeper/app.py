"""The application: the check hot path, routing, and the gatekeeper's own endpoints.

granian serves it over RSGI (`__rsgi__`), whose hot path answers a cached token with one call;
everything else runs as ASGI (`__call__`), which is also how the unit tests drive it.

Logout revocations and the verified-token cache live in this process's memory, which is why
GATEKEEPER_WORKERS defaults to 1: with more workers a logged-out token stays refused only by the
worker that served the logout (sessions themselves verify in any worker, with no network).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from time import perf_counter, time
from typing import Any
from urllib.parse import parse_qs

from gatekeeper import errors, pages, rsgi
from gatekeeper.check import Authenticator, bearer_token, is_api_call
from gatekeeper.config import Settings, load_settings
from gatekeeper.cookies import SESSION_COOKIE, expire_cookie, parse_cookies, session_cookie_value
from gatekeeper.headers import IdentityHeaders
from gatekeeper.login import LoginFlow
from gatekeeper.logs import configure
from gatekeeper.metrics import Metrics
from gatekeeper.paths import SkipAuth, safe_return_path
from gatekeeper.provider import Provider
from gatekeeper.responses import Response, html_response, json_response, redirect, text_response
from gatekeeper.revocations import Revocations
from gatekeeper.sessions import SessionCodec
from gatekeeper.tokens import IdTokenVerifier, VerifiedCache

log = logging.getLogger("gatekeeper.app")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

MAINTENANCE_INTERVAL = 15.0  # also how soon a logout on another worker is seen


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def _query(scope: Scope) -> dict[str, str]:
    """First value of each query parameter; raises ValueError on absurd queries."""
    raw = scope.get("query_string", b"")
    if len(raw) > 8192:
        raise ValueError("query string too long")
    parsed = parse_qs(raw.decode("latin-1"), keep_blank_values=True, max_num_fields=50)
    return {key: values[0] for key, values in parsed.items()}


class Gatekeeper:
    def __init__(self, settings: Settings, provider: Provider | None = None) -> None:
        self.settings = settings
        self.provider = provider or Provider(settings)
        self.metrics = Metrics()
        self.identity = IdentityHeaders(settings)
        self.codec = SessionCodec(settings.session_keys, settings.session_lifetime)
        self.revoked = Revocations(path=settings.revocations_file)
        self.cache = VerifiedCache()
        self._cached = self.cache.get  # bound C methods: the hot path makes no Python calls for these
        self._revoked_keys = self.revoked.keys
        self.id_tokens = IdTokenVerifier(settings, self.provider)
        self.auth = Authenticator(settings, self.codec, self.revoked, self.cache, self.id_tokens, self.identity)
        self.login = LoginFlow(settings, self.provider, self.codec, self.id_tokens, self.identity, self.metrics)
        self.skip = SkipAuth(settings.skip_auth_paths)
        self._skip_enabled = bool(settings.skip_auth_paths)
        prefix = settings.prefix.encode()
        self._check_prefix = prefix + b"/check"
        self._check_len = len(self._check_prefix)
        self._forward_auth = prefix + b"/forward-auth"
        self._check_text = self._check_prefix.decode()
        self._forward_auth_text = self._forward_auth.decode()
        self._routes: dict[bytes, Callable[[Scope, Send], Awaitable[None]]] = {
            b"/healthz": self._healthz,
            b"/readyz": self._readyz,
            b"/metrics": self._metrics,
            prefix + b"/oidc/callback": self._callback,
            prefix + b"/oidc/login": self._start_login,
            prefix + b"/logout": self._logout,
        }
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle -------------------------------------------------------------------------
    async def startup(self) -> None:
        self.revoked.sync()
        self._tasks = [asyncio.create_task(self.provider.run()), asyncio.create_task(self._maintain())]

    async def shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self.provider.aclose()

    async def _maintain(self) -> None:
        while True:
            await asyncio.sleep(MAINTENANCE_INTERVAL)
            now = time()
            self.revoked.sync(now)
            self.cache.purge(now)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- RSGI: how granian serves the app ------------------------------------------------
    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.revoked.sync()
        self._tasks = [loop.create_task(self.provider.run()), loop.create_task(self._maintain())]

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.run_until_complete(self.shutdown())

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        """The hot path: a check carrying a token already verified, unrevoked and unexpired.

        It is answered with one synchronous call. A header name with "_" (a possible identity
        look-alike), a skip-auth target, or anything else goes to the ASGI code, which is thorough.
        """
        started = perf_counter()
        path = scope.path
        headers = scope.headers
        if path.startswith(self._check_text):
            rest = path[self._check_len :]
            is_check = not rest or rest[0] == "/"
        else:
            is_check = path == self._forward_auth_text
        if is_check and "_" not in "".join(headers.keys()):
            authorization = headers.get("authorization")
            if authorization is not None and authorization[:7].lower() == "bearer ":
                token = authorization[7:].strip()
            else:  # no Authorization, or one meant for the upstream app (Basic...)
                cookie = headers.get("cookie")
                token = session_cookie_value(cookie) if cookie is not None else None
            if token:
                entry = self._cached(token)
                if (
                    entry is not None
                    and entry.exp > time()
                    and entry.revocation_key not in self._revoked_keys
                    and not (self._skip_enabled and self._skip_target(path, headers))
                ):
                    proto.response_empty(200, entry.text_headers)
                    self.metrics.allowed(perf_counter() - started)
                    return
        await self(rsgi.asgi_scope(scope), rsgi.no_body, rsgi.Responder(proto))

    def _skip_target(self, path: str, headers: Any) -> bool:
        """True when the checked request is on a skip-auth path (answered without identity)."""
        if path == self._forward_auth_text:
            target = headers.get("x-forwarded-uri") or "/"
        else:
            target = rsgi.raw_path(path[self._check_len :] or "/").decode("ascii")
        return self.skip.matches(target)

    # -- dispatch --------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http":
            if kind == "lifespan":
                await self._lifespan(receive, send)
            return
        started = perf_counter()
        raw = scope.get("raw_path") or scope["path"].encode("utf-8", "replace")
        try:
            if raw.startswith(self._check_prefix):
                rest = raw[self._check_len :]
                if not rest or rest[0] == 47:  # "/"
                    target = rest.decode("latin-1") or "/"
                    query = scope["query_string"]
                    if query:
                        target += "?" + query.decode("latin-1")
                    await self._check(scope, send, scope["method"], target, started)
                    return
            elif raw == self._forward_auth:
                method = (_header(scope, b"x-forwarded-method") or "GET").upper()
                target = _header(scope, b"x-forwarded-uri") or "/"
                await self._check(scope, send, method, target, started)
                return
            handler = self._routes.get(raw)
            if handler is None:
                await json_response(404, {"error": "not_found", "reason": "no such gatekeeper endpoint"}).send(send)
                return
            await handler(scope, send)
        except Exception:  # a bug must not leak a traceback or a bare 500 to the client
            log.exception("unexpected error", extra={"event": "internal_error", "path": raw[:200].decode("latin-1")})
            with contextlib.suppress(Exception):  # the response may have started: nothing more to say
                await json_response(
                    503, {"error": "internal_error", "reason": "the gatekeeper hit an unexpected error"}
                ).send(send)

    # -- the check -------------------------------------------------------------------------
    async def _check(self, scope: Scope, send: Send, method: str, target: str, started: float) -> None:
        response, outcome = await self._decide(scope, method, target)
        await response.send(send)
        self.metrics.check(outcome, perf_counter() - started)

    async def _decide(self, scope: Scope, method: str, target: str) -> tuple[Response, str]:
        cookie = authorization = lookalike = None
        for name, value in scope["headers"]:
            if name == b"cookie":
                cookie = value if cookie is None else cookie + b"; " + value
            elif name == b"authorization":
                authorization = value
            elif self.identity.lookalike(name):
                lookalike = name
        if lookalike is not None:
            name = lookalike.decode("latin-1")
            log.info("request denied", extra={"event": "denied", "reason": "identity_header_lookalike", "header": name})
            return json_response(
                400,
                {
                    "error": "forbidden_header",
                    "reason": f"the request carries {name!r}, which reads as an identity header",
                },
            ), "bad_request"
        if self._skip_enabled and self.skip.matches(target):
            return Response(200, self.identity.empty), "skipped"
        cookie_header = cookie.decode("latin-1") if cookie else ""
        authorization_text = authorization.decode("latin-1") if authorization else None
        bearer = bearer_token(authorization_text)
        sessions = [value for name, value in parse_cookies(cookie_header) if name == SESSION_COOKIE]
        try:
            entry = await self.auth.authenticate(bearer, sessions, time())
            return Response(200, entry.headers), "allowed"
        except errors.TokenError as exc:
            error = exc
        if error.reason != "no_credentials":
            self.metrics.token_error(error.reason)
            log.info("request denied", extra={"event": "denied", "reason": error.reason, "user": error.user or None})
        api = is_api_call(
            method,
            _header(scope, b"accept"),
            _header(scope, b"x-requested-with"),
            _header(scope, b"sec-fetch-mode"),
            authorization is not None,
        )
        if api:
            challenge = f'Bearer realm="{self.settings.public_url}"'
            if bearer is not None:
                challenge += ', error="invalid_token"'
            reason = (
                "log in first, or send Authorization: Bearer <ID token>"
                if error.reason == "no_credentials"
                else error.detail
            )
            payload = {
                "error": "unauthenticated" if error.reason == "no_credentials" else error.reason,
                "reason": reason,
            }
            return json_response(401, payload, [(b"www-authenticate", challenge.encode())]), "unauthorized"
        return_path = safe_return_path(target, self.settings.public_url) or "/"
        try:
            response = self.login.start(return_path, cookie_header)
        except errors.ProviderUnavailableError:
            return self._unavailable(False, return_path), "unavailable"
        if sessions:
            response.add_cookie(expire_cookie(SESSION_COOKIE, secure=self.settings.secure_cookies))
        log.debug("login started", extra={"event": "login_redirect", "reason": error.reason})
        return response, "redirected"

    def _unavailable(self, api: bool, return_path: str) -> Response:
        retry_after = [(b"retry-after", b"5")]
        if api:
            payload = {
                "error": "provider_unavailable",
                "reason": "the identity provider is not reachable yet; retry shortly",
            }
            return json_response(503, payload, retry_after)
        return html_response(503, pages.provider_unavailable(self.login.login_url(return_path)), retry_after)

    # -- the gatekeeper's own endpoints -------------------------------------------------------
    def _wants_json(self, scope: Scope) -> bool:
        return is_api_call(
            scope["method"],
            _header(scope, b"accept"),
            _header(scope, b"x-requested-with"),
            _header(scope, b"sec-fetch-mode"),
            _header(scope, b"authorization") is not None,
        )

    async def _healthz(self, scope: Scope, send: Send) -> None:
        await text_response(200, "ok\n").send(send)

    async def _readyz(self, scope: Scope, send: Send) -> None:
        if self.provider.ready:
            await text_response(200, "ready\n").send(send)
        else:
            await text_response(503, f"not ready: {self.provider.last_error}\n").send(send)

    async def _metrics(self, scope: Scope, send: Send) -> None:
        body = self.metrics.render() + (
            "# HELP gatekeeper_provider_ready 1 when discovery and keys are loaded.\n"
            "# TYPE gatekeeper_provider_ready gauge\n"
            f"gatekeeper_provider_ready {int(self.provider.ready)}\n"
        )
        await text_response(200, body, b"text/plain; version=0.0.4; charset=utf-8").send(send)

    async def _get_params(self, scope: Scope, send: Send) -> dict[str, str] | None:
        """The query of a GET-only endpoint, or None once a 405/400 has been answered."""
        if scope["method"] not in ("GET", "HEAD"):
            await json_response(405, {"error": "method_not_allowed", "reason": "use GET"}).send(send)
            return None
        try:
            return _query(scope)
        except ValueError:
            await json_response(400, {"error": "bad_query", "reason": "the query string is not usable"}).send(send)
            return None

    async def _start_login(self, scope: Scope, send: Send) -> None:
        params = await self._get_params(scope, send)
        if params is None:
            return
        return_path = safe_return_path(params.get("rd", "/"), self.settings.public_url) or "/"
        try:
            response = self.login.start(return_path, _header_joined(scope, b"cookie"))
        except errors.ProviderUnavailableError:
            response = self._unavailable(self._wants_json(scope), return_path)
        await response.send(send)

    async def _callback(self, scope: Scope, send: Send) -> None:
        params = await self._get_params(scope, send)
        if params is None:
            return
        try:
            response = await self.login.callback(params, _header_joined(scope, b"cookie"))
        except errors.ProviderUnavailableError:
            response = self._unavailable(False, "/")
        await response.send(send)

    async def _logout(self, scope: Scope, send: Send) -> None:
        if scope["method"] not in ("GET", "POST", "HEAD"):
            await json_response(405, {"error": "method_not_allowed", "reason": "use GET or POST"}).send(send)
            return
        try:
            params = _query(scope)
        except ValueError:
            params = {}
        now = time()
        tokens = [value for name, value in parse_cookies(_header_joined(scope, b"cookie")) if name == SESSION_COOKIE][
            :3
        ]
        bearer = bearer_token(_header(scope, b"authorization"))
        if bearer is not None:
            tokens.insert(0, bearer)
        users: list[str] = []
        for token in tokens:
            try:
                entry = await self.auth.verify(token, now)
            except errors.TokenError:
                continue
            self.revoked.revoke(entry.revocation_key, entry.exp, now)
            self.cache.discard(token)
            users.append(entry.user)
        target = safe_return_path(params.get("rd", ""), self.settings.public_url) or self.settings.after_logout_url
        location = self.settings.public_url + target
        response = json_response(200, {"afterLogoutURL": location}) if self._wants_json(scope) else redirect(location)
        response.add_cookie(expire_cookie(SESSION_COOKIE, secure=self.settings.secure_cookies))
        self.metrics.logouts += 1
        log.info("logout", extra={"event": "logout", "user": users[0] if users else None, "revoked": len(users)})
        await response.send(send)


def _header_joined(scope: Scope, name: bytes) -> str:
    return "; ".join(value.decode("latin-1") for key, value in scope["headers"] if key == name)


def create_app() -> Gatekeeper:
    """The factory granian calls in each worker: settings come from the environment."""
    settings = load_settings(os.environ)
    configure(settings.log_level)
    return Gatekeeper(settings)

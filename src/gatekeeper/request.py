"""The request as every part of the gatekeeper reads it, built once by the server adapter.

The adapters (asgi.py, rsgi.py) each turn their server's request into one `Request`: the route,
found once from the path; the method and target of the request being checked (Envoy style: the
original path after `<prefix>/check`; forward-auth: the `X-Forwarded-*` headers); the headers
as the server handed them over, read in place and never converted; and the credential the
verdict cache is asked for. The check (check.py) and the endpoints (endpoints.py) read only this.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs

from gatekeeper import cookies, errors, paths

# Routes: what a request is for. A check, whichever its style, has the route CHECK once built.
CHECK = "check"
FORWARD_AUTH = "forward-auth"  # a route only from Router.route; then a check's style
ENVOY = "envoy"  # the other style: `<prefix>/check` + the original path and query
HEALTHZ, READYZ, METRICS = "healthz", "readyz", "metrics"
STORE_READY, REVOKE_USER = "readyz-store", "revoke-user"  # operations too: never routed publicly
LOGOUT_EVERYWHERE = "logout-everywhere"
LOGIN, CALLBACK, LOGOUT = "login", "callback", "logout"
UNAVAILABLE, SIGNED_OUT = "unavailable", "signed-out"
JWKS = "jwks"  # the identity assertion's public keys
NOT_FOUND = ""

MAX_QUERY_LENGTH = 8192
MAX_QUERY_FIELDS = 50
MAX_BODY = 4096  # only the operations endpoints read a body, and theirs are tiny


class Headers(Protocol):
    """What the check reads of a server's headers: granian's RSGI headers, or a dict for ASGI.

    Names are lowercase; `get` gives the first value; `in` and `keys` know every name, even one
    whose value the server will not show (RSGI hides values that are not visible ASCII).
    """

    def __contains__(self, key: str, /) -> bool: ...
    def get(self, key: str, default: Any = None, /) -> Any: ...
    def keys(self) -> Iterable[str]: ...
    def items(self) -> Iterable[tuple[str, str]]: ...


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the request offers as proof, read strictly: a bearer token, then session cookies."""

    bearer: str | None
    sessions: list[str]


@dataclass(slots=True)
class Request:
    """One request, read once by its adapter; everything after reads only this."""

    route: str  # CHECK, an endpoint (HEALTHZ, LOGIN, ...) or NOT_FOUND
    style: str  # for a check, ENVOY or FORWARD_AUTH; else ""
    own_method: str  # the method of the request sent to the gatekeeper
    checked_path: str  # for an Envoy-style check, the original path after `<prefix>/check`
    query: str  # the query string sent to the gatekeeper
    headers: Headers
    token: str | None  # the credential the verdict cache is asked for (checks only)
    path_decoded: bool = False  # the server decoded `checked_path` (RSGI): re-encode it to read it raw
    read_body: Callable[[], Awaitable[bytes]] | None = None  # endpoints only: a check's body is never read

    # The checked method and target are read when needed, not for every request: a check answered
    # from the verdict cache needs neither (unless skip-auth paths are configured).
    @property
    def method(self) -> str:
        """For a check, the method of the request being checked; else the request's own."""
        if self.style == FORWARD_AUTH:
            return (self.headers.get("x-forwarded-method") or "GET").upper()
        return self.own_method

    @property
    def target(self) -> str:
        """For a check, the path and query being checked, as the upstream app reads them; else ""."""
        if self.style == FORWARD_AUTH:
            return self.headers.get("x-forwarded-uri") or "/"
        if self.style != ENVOY:
            return ""
        path = paths.raw_path(self.checked_path) if self.path_decoded else self.checked_path
        return path + "?" + self.query if self.query else path

    def cookie_header(self) -> str:
        """Every Cookie header, joined as one (HTTP/2 clients may split them)."""
        return "; ".join(value for name, value in self.headers.items() if name == "cookie")

    def credentials(self) -> Credentials:
        """The credentials, read strictly: what the check and the logout verify (`token` is only a cache key)."""
        sessions = [
            value for name, value in cookies.parse_cookies(self.cookie_header()) if name == cookies.SESSION_COOKIE
        ]
        return Credentials(bearer_token(self.headers.get("authorization")), sessions)

    def wants_json(self) -> bool:
        """True when a login redirect would be useless to the caller (for a check: to the checked request's)."""
        headers = self.headers
        return is_api_call(
            self.method,
            headers.get("accept"),
            headers.get("x-requested-with"),
            headers.get("sec-fetch-mode"),
            "authorization" in headers,
        )

    async def body(self) -> bytes:
        """The request body, at most MAX_BODY bytes; longer is refused."""
        data = await self.read_body() if self.read_body is not None else b""
        if len(data) > MAX_BODY:
            raise errors.BadRequestError(f"the body is over {MAX_BODY} bytes")
        return data

    def params(self) -> dict[str, str]:
        """First value of each query parameter; an absurd query is refused."""
        if len(self.query) > MAX_QUERY_LENGTH:
            raise errors.BadQueryError
        try:
            parsed = parse_qs(self.query, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
        except ValueError:
            raise errors.BadQueryError from None
        return {key: values[0] for key, values in parsed.items()}


class Router:
    """Which part of the gatekeeper a path is for: exact paths, then the Envoy check's prefix."""

    def __init__(self, prefix: str) -> None:
        self.check_path = prefix + "/check"
        self._check_below = self.check_path + "/"
        self._exact = {
            "/healthz": HEALTHZ,
            "/readyz": READYZ,
            "/metrics": METRICS,
            "/readyz/store": STORE_READY,
            "/revoke-user": REVOKE_USER,
            prefix + "/oidc/login": LOGIN,
            prefix + "/oidc/callback": CALLBACK,
            prefix + "/logout": LOGOUT,
            prefix + "/logout/everywhere": LOGOUT_EVERYWHERE,
            prefix + "/unavailable": UNAVAILABLE,
            prefix + "/signed-out": SIGNED_OUT,
            prefix + "/.well-known/jwks.json": JWKS,
            self.check_path: CHECK,
            prefix + "/forward-auth": FORWARD_AUTH,
        }

    def route(self, path: str) -> str:
        route = self._exact.get(path)
        if route is not None:
            return route
        return CHECK if path.startswith(self._check_below) else NOT_FOUND

    def checked_path(self, path: str) -> str:
        """The original path an Envoy-style check carries after `<prefix>/check`."""
        return path[len(self.check_path) :] or "/"


class EveryPathRouter(Router):
    """For a gateway that sends the check to the listener's root with the original path (Istio).

    istio-pilot's EnvoyFilter names only the auth service's host and port, no path prefix, so any
    path may arrive, `/metrics` or `/revoke-user` too: each is a path to check. Only the
    gatekeeper's own pages under the prefix are answered as pages.
    """

    def __init__(self, prefix: str) -> None:
        super().__init__(prefix)
        own = prefix + "/"
        self._exact = {
            path: route
            for path, route in self._exact.items()
            if path.startswith(own) and route not in (CHECK, FORWARD_AUTH)
        }

    def route(self, path: str) -> str:
        return self._exact.get(path, CHECK)

    def checked_path(self, path: str) -> str:
        return path or "/"


def build(
    route: str,
    method: str,
    checked_path: str,
    query: str,
    headers: Headers,
    *,
    decoded: bool = False,
    read_body: Callable[[], Awaitable[bytes]] | None = None,
) -> Request:
    """The request value, once the adapter has found the route and read its server's parts.

    `checked_path` is an Envoy-style check's original path (`decoded` when the server gives it
    percent-decoded); forward-auth's target and method are in its headers, read the same for
    every adapter.
    """
    if route == CHECK:
        return Request(CHECK, ENVOY, method, checked_path, query, headers, cache_key(headers), decoded)
    if route == FORWARD_AUTH:
        return Request(CHECK, FORWARD_AUTH, method, "", query, headers, cache_key(headers))
    return Request(route, "", method, "", query, headers, None, read_body=read_body)


def cache_key(headers: Headers) -> str | None:
    """The credential to look up in the verdict cache, found cheaply: a bearer token, else a session cookie.

    A miss costs nothing but the thorough path (`Request.credentials`), which reads strictly.
    A Basic (or other) Authorization is meant for the upstream app and does not hide the cookie.
    """
    authorization = headers.get("authorization")
    if authorization is not None and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    cookie = headers.get("cookie")
    return cookies.session_cookie_value(cookie) if cookie is not None else None


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def is_api_call(
    method: str,
    accept: str | None,
    x_requested_with: str | None,
    sec_fetch_mode: str | None,
    has_authorization: bool,
) -> bool:
    """True when a login redirect would be useless (scripts, XHR/fetch, non-navigation)."""
    if has_authorization or x_requested_with:
        return True
    if sec_fetch_mode:
        return sec_fetch_mode.strip().lower() != "navigate"
    if method not in ("GET", "HEAD"):
        return True
    if accept:
        lowered = accept.lower()
        if "json" in lowered and "text/html" not in lowered:
            return True
    return False

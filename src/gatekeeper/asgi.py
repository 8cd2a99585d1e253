"""Serving over ASGI: the scope read once into a request value, the answer written as two messages.

granian serves the gatekeeper over RSGI (rsgi.py); ASGI is how the unit tests drive it in-process,
and lets any ASGI server run it. Both adapters feed the same spine (`Gatekeeper.answer`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import TYPE_CHECKING, Any

from gatekeeper import request
from gatekeeper.responses import Response

if TYPE_CHECKING:
    from gatekeeper.app import Gatekeeper

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def headers_of(pairs: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """ASGI's header pairs as text, once: the first value of each name, every Cookie header joined."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in pairs:
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
        if name not in headers:
            headers[name] = value
        elif name == "cookie":
            headers[name] += "; " + value
    return headers


def request_of(scope: Scope, router: request.Router, receive: Receive | None = None) -> request.Request:
    """The request value of an ASGI scope; the raw path, so escapes reach the path checks as sent."""
    raw = scope.get("raw_path") or scope["path"].encode("utf-8", "replace")
    path = raw.decode("latin-1")
    route = router.route(path)
    checked = router.checked_path(path) if route == request.CHECK else ""
    query = scope.get("query_string", b"").decode("latin-1")
    read_body = None if receive is None else lambda: _body(receive)
    return request.build(route, scope["method"], checked, query, headers_of(scope["headers"]), read_body=read_body)


async def _body(receive: Receive) -> bytes:
    """The whole body, stopping once it is longer than request.MAX_BODY."""
    data = b""
    while len(data) <= request.MAX_BODY:
        message = await receive()
        data += message.get("body", b"")
        if not message.get("more_body"):
            break
    return data


async def write(response: Response, send: Send) -> None:
    """The answer as ASGI's two messages; the body is never streamed (every answer is small)."""
    await send({"type": "http.response.start", "status": response.status, "headers": response.headers})
    await send({"type": "http.response.body", "body": response.body})


async def serve(app: Gatekeeper, scope: Scope, receive: Receive, send: Send) -> None:
    """One ASGI call: an HTTP request through the spine, or the lifespan; websockets are not served."""
    kind = scope["type"]
    if kind == "http":
        started = perf_counter()
        decision = await app.answer(request_of(scope, app.router, receive))
        await write(decision.response, send)
        app.count(decision.outcome, started)
    elif kind == "lifespan":
        await _lifespan(app, receive, send)


async def _lifespan(app: Gatekeeper, receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await app.startup()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await app.shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return

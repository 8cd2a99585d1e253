"""The answers the gatekeeper sends, as plain data, and how they go out over ASGI."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Header = tuple[bytes, bytes]
Send = Callable[[dict[str, Any]], Awaitable[None]]

NO_STORE: Header = (b"cache-control", b"no-store")


@dataclass
class Response:
    status: int
    headers: list[Header] = field(default_factory=list)
    body: bytes = b""

    def add_cookie(self, set_cookie_value: str) -> None:
        self.headers.append((b"set-cookie", set_cookie_value.encode()))

    async def send(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


def json_response(status: int, payload: dict[str, Any], headers: list[Header] | None = None) -> Response:
    body = json.dumps(payload).encode()
    return Response(status, [(b"content-type", b"application/json"), NO_STORE, *(headers or [])], body)


def html_response(status: int, html: str, headers: list[Header] | None = None) -> Response:
    return Response(status, [(b"content-type", b"text/html; charset=utf-8"), NO_STORE, *(headers or [])], html.encode())


def text_response(status: int, text: str, content_type: bytes = b"text/plain; charset=utf-8") -> Response:
    return Response(status, [(b"content-type", content_type), NO_STORE], text.encode())


def redirect(location: str) -> Response:
    return Response(302, [(b"location", location.encode()), NO_STORE])

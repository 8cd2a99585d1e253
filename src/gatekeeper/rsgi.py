"""Serving over granian's RSGI: what its scope and protocol object differ in from ASGI's.

The hot path answers from RSGI directly (one synchronous call, no ASGI messages); every other
request is handed to the ASGI code as an equivalent ASGI scope. Two RSGI facts shape that hand-off
(checked on granian 2.8.7, the first also on 2.8.9):

- `scope.path` arrives percent-decoded, with no raw form. It is re-encoded here, so a character
  that needs escaping comes back escaped (`%` as `%25`, `?` as `%3F`) and the path checks still
  refuse what they refused before; an escape of a plain character (`%61`, `%2F`) comes back as
  that character, read the way the upstream app will read it.
- `headers.items()` leaves out a header whose value is not visible ASCII, while `keys()` keeps
  its name. A name must not vanish with its value: a look-alike identity header is refused for
  its name alone, so such headers are kept here with an empty value.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

Header = tuple[bytes, bytes]

# RFC 3986 pchar minus "%": what may stand unescaped in a path segment, plus the separator.
_PATH_SAFE = "/!$&'()*+,;=:@"


def raw_path(decoded_path: str) -> bytes:
    """An encoded path that decodes to `decoded_path`, as close to what the client sent as RSGI allows."""
    return quote(decoded_path, safe=_PATH_SAFE).encode("ascii")


def asgi_headers(headers: Any) -> list[Header]:
    """RSGI's headers as ASGI byte pairs, keeping every header name RSGI reports."""
    pairs = [(name.encode("latin-1"), value.encode("utf-8")) for name, value in headers.items()]
    listed = {name for name, _ in pairs}
    for name in headers.keys():  # noqa: SIM118 - granian's Headers is not a dict; keys() is its API
        encoded = name.encode("latin-1")
        if encoded not in listed:
            pairs.append((encoded, b""))
    return pairs


def asgi_scope(scope: Any) -> dict[str, Any]:
    path = scope.path
    return {
        "type": "http",
        "http_version": scope.http_version,
        "method": scope.method,
        "scheme": scope.scheme,
        "path": path,
        "raw_path": raw_path(path),
        "query_string": scope.query_string.encode("utf-8"),
        "headers": asgi_headers(scope.headers),
    }


async def no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


class Responder:
    """An ASGI `send` that writes the answer through the RSGI protocol object."""

    __slots__ = ("headers", "proto", "status")

    def __init__(self, proto: Any) -> None:
        self.proto = proto
        self.status = 500
        self.headers: list[tuple[str, str]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = [(name.decode("latin-1"), value.decode("utf-8")) for name, value in message["headers"]]
        elif message["type"] == "http.response.body":
            self.proto.response_bytes(self.status, self.headers, message.get("body", b""))

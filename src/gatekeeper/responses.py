"""The answers the gatekeeper sends, as plain data; each server adapter writes them its own way."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gatekeeper import errors

Header = tuple[bytes, bytes]

NO_STORE: Header = (b"cache-control", b"no-store")
# Envoy's ext_authz takes exactly 200 for "let the request through" and hands any other status
# below 500 to the client with the body (ext_authz_http_impl.cc, toResponse): a page reached
# through a check (Istio) is sent as 203, which browsers and HTTP clients treat as 200.
EXT_AUTHZ_PAGE_STATUS = 203


@dataclass
class Response:
    status: int
    headers: list[Header] = field(default_factory=list)
    body: bytes = b""

    def add_cookie(self, set_cookie_value: str) -> None:
        self.headers.append((b"set-cookie", set_cookie_value.encode()))


def json_response(status: int, payload: dict[str, Any], headers: list[Header] | None = None) -> Response:
    body = json.dumps(payload).encode()
    return Response(status, [(b"content-type", b"application/json"), NO_STORE, *(headers or [])], body)


def html_response(status: int, html: str, headers: list[Header] | None = None) -> Response:
    return Response(status, [(b"content-type", b"text/html; charset=utf-8"), NO_STORE, *(headers or [])], html.encode())


def text_response(status: int, text: str, content_type: bytes = b"text/plain; charset=utf-8") -> Response:
    return Response(status, [(b"content-type", content_type), NO_STORE], text.encode())


def redirect(location: str) -> Response:
    return Response(302, [(b"location", location.encode()), NO_STORE])


def refusal(error: errors.GatekeeperError) -> Response:
    """Any gatekeeper error as the JSON the client reads: its status, reason and client-safe detail."""
    return json_response(error.status, {"error": error.reason, "reason": error.detail}, list(error.headers))

"""Requests sent byte for byte: the path is not normalised and header names keep their spelling
(requests/urllib3 would clean `..` segments and merge header spellings, hiding the very attacks
the tests try)."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from unittest import mock
from urllib.parse import urlsplit


@dataclass
class RawResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def json(self) -> Any:
        return json.loads(self.body)


def raw_request(
    base_url: str,
    method: str,
    target: str,
    headers: list[tuple[str, str]] | None = None,
    body: bytes | None = None,
    timeout: float = 10.0,
) -> RawResponse:
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.putrequest(method, target, skip_host=False, skip_accept_encoding=True)
        for name, value in headers or []:
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        # A hostile answer may carry many headers (e.g. one Set-Cookie per crafted cookie): read them all.
        with mock.patch.object(http.client, "_MAXHEADERS", 10_000):
            response = conn.getresponse()
        return RawResponse(response.status, response.getheaders(), response.read())
    finally:
        conn.close()

"""The upstream app behind the gateway: answers every request with JSON of what it received.

Headers are returned as received (name spelling, order and duplicates kept), so tests can see
exactly which identity headers reached an app. Run: python -m harness.upstream --port N
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1 << 20


@dataclass(frozen=True)
class Echo:
    """What the upstream saw, parsed from its answer."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: str

    @classmethod
    def parse(cls, text: str | bytes) -> Echo:
        data = json.loads(text)
        if not isinstance(data, dict) or "headers" not in data:
            raise ValueError(f"not an answer of the echo upstream: {str(text)[:200]!r}")
        return cls(data["method"], data["path"], [(k, v) for k, v in data["headers"]], data["body"])

    def values(self, name: str) -> list[str]:
        """Values of header `name`, matched case-insensitively but with `-`/`_` kept distinct."""
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def names_like(self, name: str) -> list[str]:
        """Header names equal to `name` ignoring case and `-`/`_` (every spelling that reached us)."""
        want = name.lower().replace("_", "-")
        return [k for k, _ in self.headers if k.lower().replace("_", "-") == want]


class EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "e2e-upstream"

    def _echo(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, MAX_BODY)) if length > 0 else b""
        payload = {
            "method": self.command,
            "path": self.path,
            "headers": [[name, value] for name, value in self.headers.items()],
            "body": body.decode("utf-8", errors="replace"),
        }
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _echo

    def log_message(self, format: str, *args: object) -> None:
        # Method and path only: query strings and headers may carry tokens.
        print(f"upstream {self.command} {self.path.split('?')[0]} -> {args[1] if len(args) > 1 else ''}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), EchoHandler)
    server.daemon_threads = True
    print(f"upstream listening on http://{args.host}:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

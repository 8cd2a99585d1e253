"""The upstream app behind the gateway: answers every request with what it received.

Headers are returned as received (name spelling, order and duplicates kept), so tests can see
exactly which identity headers reached an app. A browser page (Accept: text/html) gets a small
HTML page that shows the user and groups first; there the values of credential headers (Cookie,
Authorization) are left out, so the demo never shows a session cookie, and the same facts ride
in a JSON block that `Echo.parse` reads. Anything else gets the JSON alone.
Run: python -m harness.upstream --port N
"""

from __future__ import annotations

import argparse
import html
import json
import re
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1 << 20
IDENTITY_HEADERS = ("kubeflow-userid", "kubeflow-groups")
CREDENTIAL_HEADERS = ("cookie", "authorization", "proxy-authorization")
_ECHO_BLOCK = re.compile(r'<script type="application/json" id="echo">(.*?)</script>', re.DOTALL)


@dataclass(frozen=True)
class Echo:
    """What the upstream saw, parsed from its answer."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: str

    @classmethod
    def parse(cls, text: str | bytes) -> Echo:
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        block = _ECHO_BLOCK.search(text) if text.lstrip().startswith("<") else None
        data = json.loads(block.group(1) if block else text)
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
        page = "text/html" in (self.headers.get("Accept") or "")
        headers = [[name, _shown(name, value) if page else value] for name, value in self.headers.items()]
        payload = {
            "method": self.command,
            "path": self.path,
            "headers": headers,
            "body": body.decode("utf-8", "replace"),
        }
        data = (page_of(payload) if page else json.dumps(payload)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8" if page else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _echo

    def log_message(self, format: str, *args: object) -> None:
        # Method and path only: query strings and headers may carry tokens.
        print(f"upstream {self.command} {self.path.split('?')[0]} -> {args[1] if len(args) > 1 else ''}", flush=True)


def _shown(name: str, value: str) -> str:
    return f"(sent, {len(value)} characters; not shown)" if name.lower() in CREDENTIAL_HEADERS else value


def page_of(payload: dict) -> str:
    """What a person sees: who the gateway says they are, then every header the app got."""
    headers = payload["headers"]
    by_name = {name.lower(): value for name, value in headers}
    user = by_name.get(IDENTITY_HEADERS[0], "")
    groups = by_name.get(IDENTITY_HEADERS[1], "")
    rows = "".join(f"<tr><th>{html.escape(n)}</th><td>{html.escape(v)}</td></tr>" for n, v in headers)
    facts = json.dumps(payload).replace("</", "<\\/")
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>dex-auth demo app</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}}
table{{border-collapse:collapse;width:100%;font-size:14px}}
th,td{{text-align:left;padding:.3rem;border-top:1px solid #ddd;vertical-align:top;word-break:break-all}}
th{{width:14rem}}.who{{background:#eef6ee;padding:1rem;border-radius:.5rem}}</style>
</head><body><h1>dex-auth demo app</h1>
<p class="who">Signed in as <strong id="user">{html.escape(user) or "(no user header)"}</strong><br>
Groups: <span id="groups">{html.escape(groups) or "(none)"}</span></p>
<p>{html.escape(payload["method"])} <code>{html.escape(payload["path"])}</code> reached this app with these headers
(the gateway added the identity ones). <a href="/authservice/logout">Sign out</a></p>
<table>{rows}</table>
<script type="application/json" id="echo">{facts}</script></body></html>"""


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

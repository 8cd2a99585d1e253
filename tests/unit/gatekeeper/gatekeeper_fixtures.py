"""Shared helpers for the gatekeeper unit tests (imported by conftest.py and the tests).

`FakeDex` is a real HTTP server (in a thread, on 127.0.0.1) serving discovery, a JWKS built from a
real RSA key, and a token endpoint that checks the client secret, redirect URI and PKCE verifier.
Like Dex behind a gateway, it advertises its public issuer while being reached on an internal URL.
`asgi()` drives the app in-process with exact raw paths and headers (no client-side normalising).
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from gatekeeper.app import Gatekeeper
from gatekeeper.config import Settings, load_settings
from gatekeeper.provider import Provider

PUBLIC_URL = "https://kubeflow.example.com"
PUBLIC_ISSUER = PUBLIC_URL + "/dex"
CLIENT_ID = "gatekeeper-client"
CLIENT_SECRET = "client-secret-value"
KEY_A = "a" * 40
KEY_B = "b" * 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(**overrides: str) -> dict[str, str]:
    env = {
        "GATEKEEPER_PUBLIC_URL": PUBLIC_URL,
        "GATEKEEPER_ISSUER_URL": PUBLIC_ISSUER,
        "GATEKEEPER_CLIENT_ID": CLIENT_ID,
        "GATEKEEPER_CLIENT_SECRET": CLIENT_SECRET,
        "GATEKEEPER_SESSION_KEYS": f"k2026={KEY_A},k2025={KEY_B}",
    }
    env.update(overrides)
    return env


def make_settings(**overrides: str) -> Settings:
    return load_settings(base_env(**overrides))


class FakeDex:
    """A small but real OpenID Provider endpoint set, standing in for Dex at unit level."""

    def __init__(
        self, port: int | None = None, advertised_issuer: str = PUBLIC_ISSUER, tls: ssl.SSLContext | None = None
    ) -> None:
        self.port = port or free_port()
        self.tls = tls  # a server context: the provider answers over https
        self.internal_url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}/dex"
        self.advertised_issuer = advertised_issuer
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "dex-key-1"
        self.extra_keys: list[tuple[str, Any]] = []
        self.auth_methods = ["client_secret_basic"]
        self.codes: dict[str, dict[str, Any]] = {}
        self.token_requests: list[dict[str, Any]] = []
        self.jwks_fetches = 0
        self.fail_discovery = False
        self._server: ThreadingHTTPServer | None = None

    # -- tokens ---------------------------------------------------------------------------
    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.advertised_issuer,
            "aud": CLIENT_ID,
            "sub": "CiQwOGE4Njg0Yi1kYjg4",
            "email": "jane@example.com",
            "groups": ["admins", "ml"],
            "iat": now,
            "exp": now + 3600,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def sign(self, claims: dict[str, Any], *, kid: str | None = None, key: Any = None, alg: str = "RS256") -> str:
        return jwt.encode(claims, key or self.key, algorithm=alg, headers={"kid": kid or self.kid})

    def id_token(self, **overrides: Any) -> str:
        return self.sign(self.claims(**overrides))

    def rotate(self) -> None:
        """Publish a new key next to the old one and sign with it from now on."""
        self.extra_keys.append((self.kid, self.key))
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = f"dex-key-{len(self.extra_keys) + 1}"

    def authorize(self, location: str, **claims: Any) -> tuple[str, str]:
        """What Dex does after the user logs in: remember a code for this request. Returns (code, state)."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        assert query["client_id"] == CLIENT_ID
        code = uuid.uuid4().hex
        self.codes[code] = {
            "challenge": query["code_challenge"],
            "redirect_uri": query["redirect_uri"],
            "id_token": self.id_token(**{"nonce": query["nonce"], **claims}),
        }
        return code, query["state"]

    # -- JSON documents -------------------------------------------------------------------
    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.advertised_issuer,
            "authorization_endpoint": self.advertised_issuer + "/auth",
            "token_endpoint": self.advertised_issuer + "/token",
            "jwks_uri": self.advertised_issuer + "/keys",
            "token_endpoint_auth_methods_supported": self.auth_methods,
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, key in [(self.kid, self.key), *self.extra_keys]:
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": keys}

    def token(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict[str, Any]]:
        self.token_requests.append({"form": form, "authorization": authorization})
        if "client_secret_basic" in self.auth_methods:
            expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if authorization != expected:
                return 401, {"error": "invalid_client"}
        elif form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return 401, {"error": "invalid_client"}
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None or form.get("grant_type") != "authorization_code":
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if challenge != grant["challenge"] or form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "invalid_grant"}
        return 200, {"access_token": "opaque", "token_type": "bearer", "id_token": grant["id_token"]}

    # -- server ---------------------------------------------------------------------------
    def start(self) -> FakeDex:
        dex = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                if path == "/dex/.well-known/openid-configuration":
                    if dex.fail_discovery:
                        self._json(500, {"error": "boom"})
                    else:
                        self._json(200, dex.discovery())
                elif path == "/dex/keys":
                    dex.jwks_fetches += 1
                    self._json(200, dex.jwks())
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode()
                if urlsplit(self.path).path != "/dex/token":
                    self._json(404, {"error": "not found"})
                    return
                form = {k: v[0] for k, v in parse_qs(body).items()}
                status, payload = dex.token(form, self.headers.get("Authorization"))
                self._json(status, payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def dex():
    server = FakeDex().start()
    yield server
    server.stop()


def settings_for(dex: FakeDex, **overrides: str) -> Settings:
    return make_settings(GATEKEEPER_PROVIDER_URL=dex.internal_url, **overrides)


async def ready_app(dex: FakeDex, **overrides: str) -> Gatekeeper:
    """An app whose provider has done discovery and loaded keys (as the background task would)."""
    settings = settings_for(dex, **overrides)
    app = Gatekeeper(settings, Provider(settings, unknown_kid_interval=0.0))
    await app.provider.discover()
    await app.provider.refresh_keys()
    return app


# -- driving the ASGI app ---------------------------------------------------------------------
@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name.lower():
                return value
        return None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()

    def set_cookies(self) -> dict[str, str]:
        """name -> value for every Set-Cookie (value '' and Max-Age=0 means expired)."""
        out = {}
        for line in self.all("set-cookie"):
            pair = line.split(";", 1)[0]
            name, _, value = pair.partition("=")
            out[name] = value
        return out

    def expired_cookies(self) -> set[str]:
        return {line.split("=", 1)[0] for line in self.all("set-cookie") if "Max-Age=0" in line}


async def asgi(
    app: Any, method: str, target: str, headers: list[tuple[str, str]] | dict[str, str] = (), body: bytes = b""
) -> Reply:
    raw_path, _, query = target.partition("?")
    items = headers.items() if isinstance(headers, dict) else headers
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode("latin-1"),
        "query_string": query.encode("latin-1"),
        "root_path": "",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in items],
        "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 40000),
    }
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    start = [m for m in messages if m["type"] == "http.response.start"]
    assert len(start) == 1, messages
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return Reply(start[0]["status"], [(k.decode(), v.decode("latin-1")) for k, v in start[0]["headers"]], body)


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in cookies.items() if v)


async def log_in(app: Gatekeeper, dex: FakeDex, path: str = "/pipeline/runs?x=1", **claims: Any) -> Reply:
    """The whole browser flow: check -> 302 to Dex -> Dex authorizes -> callback. Returns the callback reply."""
    first = await asgi(app, "GET", "/authservice/check" + path, {"accept": "text/html"})
    assert first.status == 302, first.text
    code, state = dex.authorize(first.header("location"), **claims)
    jar = first.set_cookies()
    return await asgi(
        app, "GET", f"/authservice/oidc/callback?code={code}&state={state}", {"cookie": cookie_header(jar)}
    )

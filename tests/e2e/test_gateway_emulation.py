"""The harness's Ambassador emulation itself, against a scripted auth service: the other e2e
results are only worth something if Caddy really behaves like Emissary's AuthService."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import requests
from harness import caddy
from harness.processes import ProcessGroup, free_port, http_ready
from harness.raw_http import raw_request
from harness.stack import UPSTREAM_SERVICE, upstream_mapping
from harness.upstream import Echo

pytestmark = pytest.mark.e2e

RESOURCES = [
    {
        "apiVersion": "getambassador.io/v3alpha1",
        "kind": "Mapping",
        "metadata": {"name": "open"},
        "spec": {
            "prefix": "/open/",
            "rewrite": "/open/",
            "service": "svc.ns:9000",
            "bypass_auth": True,
            "hostname": "*",
        },
    },
    {
        "apiVersion": "getambassador.io/v3alpha1",
        "kind": "AuthService",
        "metadata": {"name": "auth"},
        "spec": {
            "auth_service": "auth.ns:8080",
            "path_prefix": "/authservice/check",
            "proto": "http",
            "allowed_request_headers": ["accept", "x-requested-with"],
            "allowed_authorization_headers": ["kubeflow-userid", "kubeflow-groups"],
        },
    },
    upstream_mapping(),
]


class ScriptedAuth(BaseHTTPRequestHandler):
    """Answers by the original path: /allow*, /deny, /boom, /allow-missing, /remove-underscore."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[dict]] = []

    def _answer(self) -> None:
        ScriptedAuth.seen.append({"method": self.command, "path": self.path, "headers": list(self.headers.items())})
        original = self.path.removeprefix("/authservice/check")
        headers: list[tuple[str, str]] = []
        body = b""
        if original.startswith("/allow-missing"):
            status, headers = 200, [("kubeflow-userid", "alice")]
        elif original.startswith("/remove-underscore"):
            status, headers = (
                200,
                [
                    ("kubeflow-userid", "alice"),
                    ("kubeflow-groups", "g"),
                    ("x-envoy-auth-headers-to-remove", "kubeflow_userid, kubeflow_groups"),
                ],
            )
        elif original.startswith("/allow"):
            status, headers = 200, [("kubeflow-userid", "alice"), ("kubeflow-groups", "g1,g2")]
        elif original.startswith("/created"):
            status = 201
        elif original.startswith("/boom"):
            status = 500
        elif original.startswith("/busy"):
            status, headers, body = 503, [("Retry-After", "5"), ("Content-Type", "text/html")], b"<p>try again</p>"
        elif original.startswith("/api"):
            status = 401
            headers = [("WWW-Authenticate", "Bearer"), ("Content-Type", "application/json")]
            body = b'{"error": "unauthenticated"}'
        else:
            status, headers = 302, [("Location", "/login"), ("Set-Cookie", "s=1")]
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = do_PUT = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("gateway")
    auth = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedAuth)
    threading.Thread(target=auth.serve_forever, daemon=True).start()
    group = ProcessGroup(root / "logs")
    try:
        upstream_port, ports = free_port(), caddy.GatewayPorts(free_port(), free_port(), free_port())
        group.start(
            "upstream",
            [__import__("sys").executable, "-m", "harness.upstream", "--port", str(upstream_port)],
            env={"PYTHONPATH": str(Path(__file__).parent)},
            ready=http_ready(f"http://127.0.0.1:{upstream_port}/"),
        )
        services = {
            "svc.ns:9000": f"127.0.0.1:{upstream_port}",
            "auth.ns:8080": f"127.0.0.1:{auth.server_port}",
            UPSTREAM_SERVICE: f"127.0.0.1:{upstream_port}",
        }
        config = root / "gateway.json"
        config.write_text(caddy.dumps(caddy.ambassador_config(RESOURCES, services, ports)))
        group.start(
            "gateway",
            ["caddy", "run", "--config", str(config)],
            env={"PATH": "/usr/bin:/bin", "HOME": str(root), "XDG_CONFIG_HOME": str(root), "XDG_DATA_HOME": str(root)},
            ready=http_ready(f"http://127.0.0.1:{ports.admin}/config/"),
        )
        yield f"http://127.0.0.1:{ports.listen}"
    finally:
        group.stop_all()
        auth.shutdown()


def last_check() -> dict:
    return ScriptedAuth.seen[-1]


def test_check_keeps_method_and_prefixes_the_raw_path_without_body(gateway: str) -> None:
    answer = raw_request(gateway, "POST", "/allow/a%2Fb/../c?x=%2F&y=1", [("Content-Type", "text/plain")], b"payload")
    assert answer.status == 200
    check = last_check()
    assert check["method"] == "POST"
    assert check["path"] == "/authservice/check/allow/a%2Fb/../c?x=%2F&y=1"
    assert not [v for k, v in check["headers"] if k.lower() == "content-length" and v != "0"]
    echo = Echo.parse(answer.body)
    assert (echo.method, echo.path, echo.body) == ("POST", "/allow/a%2Fb/../c?x=%2F&y=1", "payload")


def test_check_gets_only_allowed_and_always_sent_headers(gateway: str) -> None:
    raw_request(
        gateway,
        "GET",
        "/allow",
        [
            ("Accept", "a/b"),
            ("Cookie", "c=1"),
            ("Authorization", "Bearer t"),
            ("X-Secret-App-Header", "no"),
            ("X-Forwarded-For", "10.1.1.1"),
            ("X-Forwarded-Host", "spoof.example"),
        ],
    )
    names = {k.lower(): v for k, v in last_check()["headers"]}
    assert names["accept"] == "a/b" and names["cookie"] == "c=1" and names["authorization"] == "Bearer t"
    assert "x-secret-app-header" not in names
    assert names["x-forwarded-for"] == "10.1.1.1, 127.0.0.1"  # Envoy appends the peer
    assert names["x-forwarded-host"] == "spoof.example"  # Envoy passes the client's value on
    assert not [k for k in names if k.startswith("dexauth-")]


def test_on_200_identity_headers_replace_the_clients(gateway: str) -> None:
    answer = raw_request(gateway, "GET", "/allow", [("kubeflow-userid", "mallory"), ("KUBEFLOW-GROUPS", "admin")])
    echo = Echo.parse(answer.body)
    assert echo.values("kubeflow-userid") == ["alice"] and echo.values("kubeflow-groups") == ["g1,g2"]
    assert not [k for k, _ in echo.headers if "{" in _ or k.lower() in ("location", "set-cookie")]


def test_a_header_the_auth_service_leaves_out_is_dropped_not_passed_or_literal(gateway: str) -> None:
    answer = raw_request(gateway, "GET", "/allow-missing", [("kubeflow-groups", "admin")])
    echo = Echo.parse(answer.body)
    assert echo.values("kubeflow-groups") == []


def test_x_envoy_auth_headers_to_remove_is_honoured_for_underscore_spellings(gateway: str) -> None:
    answer = raw_request(gateway, "GET", "/remove-underscore", [("kubeflow_userid", "mallory")])
    echo = Echo.parse(answer.body)
    assert echo.names_like("kubeflow-userid") == ["Kubeflow-Userid"], echo.headers
    plain = Echo.parse(raw_request(gateway, "GET", "/allow", [("kubeflow_userid", "mallory")]).body)
    assert "Kubeflow_userid" in plain.names_like("kubeflow-userid")  # as Envoy: passed when not removed


def test_deny_answers_go_back_to_the_client_and_other_2xx_deny(gateway: str) -> None:
    answer = requests.get(gateway + "/private", allow_redirects=False, timeout=5)
    assert (
        answer.status_code == 302 and answer.headers["Location"] == "/login" and answer.headers["Set-Cookie"] == "s=1"
    )
    assert requests.get(gateway + "/created", timeout=5).status_code == 201
    assert requests.get(gateway + "/created", timeout=5).content == b""


def test_auth_errors_become_403(gateway: str) -> None:
    assert requests.get(gateway + "/boom", timeout=5).status_code == 403


def test_a_5xx_page_of_the_auth_service_never_reaches_the_client(gateway: str) -> None:
    """Envoy: any 5xx is an error, answered with status_on_error and no body (ext_authz_http_impl.cc)."""
    answer = requests.get(gateway + "/busy", timeout=5)
    assert (answer.status_code, answer.content) == (403, b"")
    assert "Retry-After" not in answer.headers


def test_a_4xx_deny_reaches_the_client_with_its_status_body_and_www_authenticate(gateway: str) -> None:
    answer = requests.get(gateway + "/api/runs", timeout=5)
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == "Bearer"
    assert answer.json() == {"error": "unauthenticated"}


def test_bypass_mapping_skips_the_check(gateway: str) -> None:
    before = len(ScriptedAuth.seen)
    answer = requests.get(gateway + "/open/thing", timeout=5)
    assert answer.status_code == 200 and Echo.parse(answer.text).path == "/open/thing"
    assert len(ScriptedAuth.seen) == before


def test_unemulated_fields_are_refused() -> None:
    bad = [{**RESOURCES[1], "spec": {**RESOURCES[1]["spec"], "include_body": {"max_bytes": 10}}}]
    with pytest.raises(caddy.GatewayConfigError, match="include_body"):
        caddy.parse_resources(bad)
    with pytest.raises(caddy.GatewayConfigError, match="no local process"):
        caddy.ambassador_config(RESOURCES, {}, caddy.GatewayPorts(1, 2, 3))
    assert json.loads(caddy.dumps({"a": 1})) == {"a": 1}

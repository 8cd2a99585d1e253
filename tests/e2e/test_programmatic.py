"""Programmatic access through the real chain: the login tool, the KFP SDK and cookie-jar scripts.

Every request goes through the gateway (Caddy as Ambassador, from the charm's resources) to the
gatekeeper and the Dex stand-in the charm configured. The upstream is a small stand-in of the
Kubeflow Pipelines API server that records what it received and answers the v2beta1 paths the
KFP SDK calls, reporting the `kubeflow-userid` it saw.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import kfp
import pytest
import requests
import yaml
from e2e.login.device_browser import approve_device
from harness.configs import base_config
from harness.stack import REPO, Stack

from dex_auth_login import (
    DevicePrompt,
    InvalidCredentialsError,
    KfpCredentials,
    TokenCache,
    login,
    obtain_tokens,
    session_cookie,
)
from dex_auth_login.tokens import jwt_claims

pytestmark = pytest.mark.e2e
API = {"Accept": "application/json"}


class PipelinesStandIn(BaseHTTPRequestHandler):
    """The KFP API server's v2beta1 healthz and experiments; an echo of the request elsewhere."""

    protocol_version = "HTTP/1.1"
    seen: list[dict[str, Any]]  # set on the subclass each server gets

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = [[name, value] for name, value in self.headers.items()]
        userids = self.headers.get_all("kubeflow-userid") or []
        self.seen.append({"method": self.command, "path": self.path, "headers": headers})
        path = self.path.split("?")[0]
        if path.endswith("/apis/v2beta1/healthz"):
            payload: Any = {"commit_sha": "stand-in", "tag_name": "2.x", "multi_user": False}
        elif path.endswith("/apis/v2beta1/experiments") and self.command == "GET":
            payload = {
                "experiments": [
                    {
                        "experiment_id": "stand-in-1",
                        "display_name": f"seen as {','.join(userids)}",
                        "namespace": "kubeflow-user",
                    }
                ],
                "total_size": 1,
            }
        else:
            payload = {
                "method": self.command,
                "path": self.path,
                "headers": headers,
                "body": body.decode(errors="replace"),
            }
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


class PipelinesStack(Stack):
    """The harness's chain with the Pipelines stand-in as the upstream app (in this process)."""

    def _start_upstream(self) -> None:  # type: ignore[override]
        handler = type("Handler", (PipelinesStandIn,), {"seen": []})
        self.upstream_server = ThreadingHTTPServer(("127.0.0.1", self.ports.upstream), handler)
        self.upstream_server.daemon_threads = True
        self.seen: list[dict[str, Any]] = handler.seen
        threading.Thread(target=self.upstream_server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        super().stop()
        server = getattr(self, "upstream_server", None)
        if server is not None:
            server.shutdown()
            server.server_close()
            self.upstream_server = None

    def userids_seen(self, path_suffix: str) -> list[list[str]]:
        """The kubeflow-userid values of each recorded request whose path ends so."""
        return [
            [v for n, v in r["headers"] if n.lower() == self.userid_header]
            for r in self.seen
            if r["path"].split("?")[0].endswith(path_suffix)
        ]


def start_stack(stacks, config: dict[str, Any], name: str) -> PipelinesStack:
    stack = PipelinesStack(stacks.tmp / f"{name}-{len(stacks.stacks)}", config)
    stacks.stacks.append(stack)  # the pool stops it and saves its logs when a test fails
    return stack.start()  # type: ignore[return-value]


@pytest.fixture(scope="module")
def chain(stacks) -> PipelinesStack:
    return start_stack(stacks, base_config(), "programmatic")


@pytest.fixture(scope="module")
def short_tokens(stacks) -> PipelinesStack:
    """ID tokens that live 3 s (`juju config dex-auth id-token-expiry=3s`)."""
    return start_stack(stacks, base_config(**{"id-token-expiry": "3s"}), "short-tokens")


@pytest.fixture
def cache_path(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "tokens.json"


def echo(answer: requests.Response) -> list[str]:
    """kubeflow-userid values the upstream reported for an echoed request."""
    assert answer.status_code == 200, answer.text[:500]
    return [v for n, v in answer.json()["headers"] if n.lower() == "kubeflow-userid"]


def run_cli(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DEX_AUTH_")}
    environment.update({"PYTHONPATH": str(REPO / "src")}, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "dex_auth_login", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )


# --- the login tool ---------------------------------------------------------------------------


def test_password_grant_token_reaches_upstream_as_the_user(chain: PipelinesStack, cache_path: Path) -> None:
    token = login(chain.public_url, username=chain.username, password=chain.password, cache_path=cache_path)
    claims = jwt_claims(token)
    assert (claims["aud"], claims["iss"]) == ("dex-auth-cli", chain.issuer)
    answer = requests.get(
        chain.url("/notebooks/api/things"), headers={"Authorization": f"Bearer {token}", **API}, timeout=10
    )
    assert echo(answer) == [chain.username]


def test_the_command_as_the_readme_shows_it(chain: PipelinesStack, tmp_path: Path) -> None:
    env = {
        "DEX_AUTH_URL": chain.public_url,
        "DEX_AUTH_USERNAME": chain.username or "",
        "DEX_AUTH_PASSWORD": chain.password or "",
        "XDG_CACHE_HOME": str(tmp_path / "xdg"),
    }
    exported = run_cli("--export", env=env)
    assert exported.returncode == 0, exported.stderr
    shell = subprocess.run(
        [
            "bash",
            "-c",
            'eval "$1"; curl -s -H "Authorization: Bearer $KF_TOKEN" "$2"',
            "_",
            exported.stdout,
            chain.url("/pipeline/apis/v2beta1/runs"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert [v for n, v in json.loads(shell.stdout)["headers"] if n.lower() == "kubeflow-userid"] == [chain.username]
    cache = tmp_path / "xdg" / "dex-auth" / "tokens.json"
    assert oct(cache.stat().st_mode & 0o777) == "0o600"
    assert oct(cache.parent.stat().st_mode & 0o777) == "0o700"
    header = run_cli("--header", env={"DEX_AUTH_URL": chain.public_url, "XDG_CACHE_HOME": str(tmp_path / "xdg")})
    assert header.returncode == 0, header.stderr  # from the cache: no credentials needed
    name, value = header.stdout.strip().split(": ", 1)
    assert echo(requests.get(chain.url("/x"), headers={name: value}, timeout=10)) == [chain.username]


def test_device_flow_approved_in_the_browser_through_the_gateway(chain: PipelinesStack) -> None:
    prompts: list[DevicePrompt] = []
    approvals: list[threading.Thread] = []

    def on_prompt(prompt: DevicePrompt) -> None:
        prompts.append(prompt)
        thread = threading.Thread(
            target=approve_device,
            daemon=True,
            args=(prompt.verification_uri, prompt.user_code, chain.username, chain.password),
        )
        thread.start()
        approvals.append(thread)

    tokens = obtain_tokens(chain.public_url, device=True, on_device_prompt=on_prompt)
    assert prompts[0].verification_uri == chain.url("/dex/device")  # the public URL, through the gateway
    answer = requests.get(chain.url("/x"), headers={"Authorization": f"Bearer {tokens.id_token}", **API}, timeout=10)
    assert echo(answer) == [chain.username]
    approvals[0].join(10)


def test_the_device_prompt_of_the_command(chain: PipelinesStack) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "dex_auth_login", chain.public_url, "--device", "--no-cache"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        match = re.match(r"To log in, open (\S+) in a browser and enter the code (\S+)$", first.strip())
        assert match, first
        approve_device(match.group(1), match.group(2), chain.username or "", chain.password or "")
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0, err
    assert echo(requests.get(chain.url("/x"), headers={"Authorization": f"Bearer {out.strip()}"}, timeout=10)) == [
        chain.username
    ]


def test_wrong_password_is_a_clear_error(chain: PipelinesStack, cache_path: Path) -> None:
    with pytest.raises(InvalidCredentialsError, match=f"user '{chain.username}'"):
        login(
            chain.public_url, username=chain.username, password="wrong-" + (chain.password or ""), cache_path=cache_path
        )
    result = run_cli(chain.public_url, "-u", chain.username or "", "--password-stdin", "--no-cache", stdin="nope\n")
    assert (result.returncode, result.stdout) == (5, "")
    assert result.stderr.startswith("dex-auth-login: error: Dex refused the username or password")


def test_a_token_for_another_audience_is_refused(chain: PipelinesStack) -> None:
    """Another app registered at the same Dex: its users' ID tokens must not open this gateway."""
    config = yaml.safe_load(chain.dex_config_path.read_text())
    config["staticClients"].append(
        {"id": "some-other-app", "name": "Other", "public": True, "redirectURIs": ["http://localhost:9999/callback"]}
    )
    chain.dex_config_path.write_text(yaml.safe_dump(config))
    chain.stop_provider()
    chain.start_provider()  # keeps its signing key, as Dex keeps it in its storage
    other = obtain_tokens(
        chain.public_url, username=chain.username, password=chain.password, client_id="some-other-app"
    )
    assert jwt_claims(other.id_token)["aud"] == "some-other-app"
    refused = requests.get(chain.url("/x"), headers={"Authorization": f"Bearer {other.id_token}", **API}, timeout=10)
    assert refused.status_code == 401, refused.text
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    accepted = obtain_tokens(chain.public_url, username=chain.username, password=chain.password)
    assert echo(
        requests.get(chain.url("/x"), headers={"Authorization": f"Bearer {accepted.id_token}"}, timeout=10)
    ) == [chain.username]


def test_an_expired_token_is_refreshed_without_the_password(short_tokens: PipelinesStack, cache_path: Path) -> None:
    cache = TokenCache(cache_path)
    first = obtain_tokens(
        short_tokens.public_url,
        username=short_tokens.username,
        password=short_tokens.password,
        cache=cache,
        min_validity=0,
    )
    assert first.expires_at - jwt_claims(first.id_token)["iat"] == 3
    time.sleep(max(0.0, first.expires_at - time.time()) + 0.2)

    def no_password() -> str:
        raise AssertionError("the refresh token should have been used")

    second = obtain_tokens(
        short_tokens.public_url, username=short_tokens.username, password=no_password, cache=cache, min_validity=0
    )
    assert second.expires_at > first.expires_at and second.refresh_token != first.refresh_token
    answer = requests.get(short_tokens.url("/x"), headers={"Authorization": f"Bearer {second.id_token}"}, timeout=10)
    assert echo(answer) == [short_tokens.username]


# --- cookie mode and cookie-jar scripts ----------------------------------------------------------


def test_cookie_mode_gets_a_session_cookie_without_csrf_error(chain: PipelinesStack, cache_path: Path) -> None:
    cookie = session_cookie(chain.public_url, username=chain.username, password=chain.password, cache_path=cache_path)
    assert cookie.startswith("authservice_session=")
    assert echo(requests.get(chain.url("/x"), headers={"Cookie": cookie, **API}, timeout=10)) == [chain.username]
    again = session_cookie(
        chain.public_url, username=chain.username, password=lambda: pytest.fail("asked"), cache_path=cache_path
    )
    assert again == cookie  # cached until the session ends
    gatekeeper_log = chain.logs().get("gatekeeper.log", "")
    assert "csrf" not in gatekeeper_log.lower() and "state cookie" not in gatekeeper_log.lower()


def test_cookie_mode_wrong_password(chain: PipelinesStack) -> None:
    with pytest.raises(InvalidCredentialsError):
        session_cookie(chain.public_url, username=chain.username, password="wrong", use_cache=False)


def test_cookie_mode_command_header(chain: PipelinesStack) -> None:
    result = run_cli(
        chain.public_url,
        "-u",
        chain.username or "",
        "--password-stdin",
        "--cookie",
        "--header",
        "--no-cache",
        stdin=(chain.password or "") + "\n",
    )
    assert result.returncode == 0, result.stderr
    name, value = result.stdout.strip().split(": ", 1)
    assert (name, value.split("=", 1)[0]) == ("Cookie", "authservice_session")
    assert echo(requests.get(chain.url("/x"), headers={name: value, **API}, timeout=10)) == [chain.username]


def test_the_readme_cookie_jar_script_logs_in(chain: PipelinesStack) -> None:
    """The 'browser login itself' example of the README, as written there."""
    URL, PASSWORD = chain.public_url, chain.password  # noqa: N806 - the README's names
    session = requests.Session()
    page = session.get(f"{URL}/authservice/oidc/login?rd=/", headers={"Accept": "text/html"})
    action = re.search(r'<form[^>]*action="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    session.post(requests.compat.urljoin(page.url, action), data={"login": "user@example.com", "password": PASSWORD})
    cookie = session.cookies["authservice_session"]
    assert echo(session.get(chain.url("/x"), headers=API, timeout=10)) == ["user@example.com"]
    assert cookie


# --- the real KFP SDK -----------------------------------------------------------------------------


def test_kfp_client_with_existing_token(chain: PipelinesStack, cache_path: Path) -> None:
    token = login(chain.public_url, username=chain.username, password=chain.password, cache_path=cache_path)
    before = len(chain.seen)
    client = kfp.Client(host=f"{chain.public_url}/pipeline", existing_token=token)
    experiments = client.list_experiments()
    assert experiments.total_size == 1
    assert experiments.experiments[0].display_name == f"seen as {chain.username}"
    calls = chain.seen[before:]
    assert [c["path"].split("?")[0] for c in calls] == [
        "/pipeline/apis/v2beta1/healthz",
        "/pipeline/apis/v2beta1/experiments",
    ]
    for call in calls:
        headers = {n.lower(): v for n, v in call["headers"]}
        assert headers["authorization"] == f"Bearer {token}"
        assert headers["kubeflow-userid"] == chain.username


def test_kfp_client_with_cookies(chain: PipelinesStack, cache_path: Path) -> None:
    cookie = session_cookie(chain.public_url, username=chain.username, password=chain.password, cache_path=cache_path)
    client = kfp.Client(host=f"{chain.public_url}/pipeline", cookies=cookie)
    assert client.list_experiments().experiments[0].display_name == f"seen as {chain.username}"
    assert chain.userids_seen("/apis/v2beta1/experiments")[-1] == [chain.username]


def test_kfp_client_with_renewing_credentials_outlives_the_token(
    short_tokens: PipelinesStack, cache_path: Path
) -> None:
    credentials = KfpCredentials(
        short_tokens.public_url,
        username=short_tokens.username,
        password=short_tokens.password,
        cache_path=cache_path,
        min_validity=1,
    )
    client = kfp.Client(host=f"{short_tokens.public_url}/pipeline", credentials=credentials)
    assert client.list_experiments().experiments[0].display_name == f"seen as {short_tokens.username}"
    first = credentials.token()
    time.sleep(3)
    assert client.list_experiments().experiments[0].display_name == f"seen as {short_tokens.username}"
    assert credentials.token() != first


def test_kfp_client_with_a_bad_token_is_refused_at_the_gateway(chain: PipelinesStack) -> None:
    before = len(chain.seen)
    answer = requests.get(
        chain.url("/pipeline/apis/v2beta1/experiments"),
        headers={"Authorization": "Bearer not-a-token", **API},
        timeout=10,
    )
    assert answer.status_code == 401
    assert len(chain.seen) == before  # never reached the Pipelines stand-in


@pytest.fixture(autouse=True)
def _no_kfp_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """KFP reads ~/.config/kfp/context.json; keep the tests independent of the machine's."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    yield

"""`python -m gatekeeper` as a real process: bad settings stop it cleanly, good ones serve."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gatekeeper_fixtures import base_env, free_port

SRC = Path(__file__).resolve().parents[3] / "src"


def _env(**overrides):
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(SRC), **base_env(**overrides)}
    return env


@pytest.mark.parametrize(
    "overrides, named",
    [
        ({"GATEKEEPER_CLIENT_SECRET": ""}, "GATEKEEPER_CLIENT_SECRET"),
        ({"GATEKEEPER_SESSION_KEYS": "k=short"}, "GATEKEEPER_SESSION_KEYS"),
        ({"GATEKEEPER_PORT": "eighty"}, "GATEKEEPER_PORT"),
    ],
)
def test_bad_settings_exit_2_with_one_clear_line(overrides, named):
    done = subprocess.run(
        [sys.executable, "-m", "gatekeeper"], env=_env(**overrides), capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0] and lines[0].startswith("gatekeeper: configuration error:")
    assert "Traceback" not in done.stderr + done.stdout


@pytest.fixture
def running(dex):
    port = free_port()
    env = _env(
        GATEKEEPER_PROVIDER_URL=dex.internal_url,
        GATEKEEPER_HOST="127.0.0.1",
        GATEKEEPER_PORT=str(port),
        GATEKEEPER_SECURE_COOKIES="false",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "gatekeeper"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.1)
        else:
            pytest.fail("gatekeeper did not become ready")
        yield base, proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_serves_health_and_a_whole_login_over_http(running, dex):
    base, proc = running
    assert httpx.get(base + "/healthz").text == "ok\n"
    with httpx.Client(base_url=base, follow_redirects=False) as client:
        first = client.get("/authservice/check/notebooks?ns=a", headers={"Accept": "text/html"})
        assert first.status_code == 302
        code, state = dex.authorize(first.headers["location"])
        done = client.get("/authservice/oidc/callback", params={"code": code, "state": state})
        assert done.status_code == 302 and done.headers["location"] == "https://kubeflow.example.com/notebooks?ns=a"
        ok = client.get("/authservice/check/notebooks")
        assert ok.status_code == 200 and ok.headers["kubeflow-userid"] == "jane@example.com"
        token = client.cookies["authservice_session"]
        client.get("/authservice/logout")
        replay = httpx.get(
            base + "/authservice/check/x",
            headers={"Accept": "application/json"},
            cookies={"authservice_session": token},
        )
        assert replay.status_code == 401
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert any(line.get("event") == "login" and line.get("user") == "jane@example.com" for line in lines)
    assert any(line.get("event") == "logout" for line in lines)
    assert token not in out + err and "client-secret-value" not in out + err

"""`python -m gatekeeper` as a real process: bad settings stop it cleanly, good ones serve."""

import json
import signal
import subprocess
import sys

import httpx
import pytest
from gatekeeper_process import process_env as _env
from gatekeeper_process import serving


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
    with serving(dex) as served:
        yield served


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

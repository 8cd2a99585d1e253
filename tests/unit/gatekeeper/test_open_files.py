"""Each client connection holds a descriptor, so the open-files limit caps a unit's connections.

containerd 2.x starts containers at systemd's default of 1024 (soft) and 524288 (hard) and leaves
it to servers that need more to raise their soft limit (containerd/containerd#8924); Envoy keeps
up to 1024 connections to an auth service by default. granian raises its soft limit to the hard
one when it is imported (seen on 2.8.7), before it forks its workers: this holds it to that.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from gatekeeper_fixtures import base_env, free_port

SRC = Path(__file__).resolve().parents[3] / "src"


def test_every_gatekeeper_worker_runs_at_the_hard_open_files_limit() -> None:
    """`python3 -m gatekeeper` with 2 workers, started under containerd 2.x's soft limit of 1024."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY or hard <= 1024:
        pytest.fail(f"this machine's hard open-files limit ({hard}) is not one to raise 1024 to")
    port = free_port()
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(SRC)}
    env |= base_env(GATEKEEPER_HOST="127.0.0.1", GATEKEEPER_PORT=str(port), GATEKEEPER_WORKERS="2")
    process = subprocess.Popen(
        [sys.executable, "-m", "gatekeeper"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard)),
        start_new_session=True,
    )
    try:
        workers = _workers_once_serving(process.pid, port, count=2)
        assert {pid: _soft_open_files(pid) for pid in [process.pid, *workers]} == dict.fromkeys(
            [process.pid, *workers], hard
        )
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL to the whole group if granian's graceful stop overruns (seen on a
    loaded machine); how fast it stops is not what this test is about."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)


def _workers_once_serving(pid: int, port: int, count: int) -> list[int]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
                if answer.status == 200 and len(children) >= count:
                    return [int(c) for c in children]
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the gatekeeper did not serve /healthz with {count} workers within 20 s")


def _soft_open_files(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError(f"no open-files line in /proc/{pid}/limits")

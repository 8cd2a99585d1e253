"""`python -m gatekeeper` as a real process, against the unit tests' small real OpenID Provider."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from gatekeeper_fixtures import FakeDex, base_env, free_port

SRC = Path(__file__).resolve().parents[3] / "src"


def process_env(**overrides: str) -> dict[str, str]:
    """The environment of `python -m gatekeeper` run as a process: only what it needs."""
    return {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(SRC), **base_env(**overrides)}


@contextmanager
def serving(dex: FakeDex, **overrides: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`python -m gatekeeper` as granian serves it, ready; yields (base URL, process)."""
    port = free_port()
    env = process_env(
        GATEKEEPER_PROVIDER_URL=dex.internal_url,
        GATEKEEPER_HOST="127.0.0.1",
        GATEKEEPER_PORT=str(port),
        GATEKEEPER_SECURE_COOKIES="false",
        **overrides,
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
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
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

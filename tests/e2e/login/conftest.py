"""Fixtures of the login tool's end-to-end tests: a real Dex stand-in per test, a private cache file."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from login_support import PROVIDER_JS, RunningProvider, dex_config, free_port

START_SECONDS = 30


def _launch(tmp_path: Path, overrides: dict[str, Any], started: list[RunningProvider]) -> RunningProvider | None:
    """One provider on a free port; None when another process took the port first, or when node
    did not say it listens within START_SECONDS (seen once in CI: only node's version warning in
    the log, the process alive; a fresh process then starts at once)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config_path = tmp_path / f"dex-{port}.yaml"
    config_path.write_text(yaml.safe_dump(dex_config(f"{url}/dex", port, **overrides)))
    log_path = tmp_path / f"provider-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["node", str(PROVIDER_JS), "--config", str(config_path), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    running = RunningProvider(url, f"{url}/dex", process, log_path)
    started.append(running)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            if "EADDRINUSE" in running.log():
                return None
            raise RuntimeError(f"the provider exited: {running.log()}")
        # Its own "listening" line, not an HTTP probe: the probe could reach another
        # process that took the port first.
        if '"msg":"listening"' in running.log():
            return running
        time.sleep(0.05)
    _stop(running)
    return None


def _stop(running: RunningProvider) -> None:
    running.process.terminate()
    try:
        running.process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        running.process.kill()
        running.process.wait(timeout=5)


@pytest.fixture
def start_provider(tmp_path: Path) -> Iterator[Callable[..., RunningProvider]]:
    """Start the provider with Dex config overrides (a top-level key set to None is removed)."""
    started: list[RunningProvider] = []

    def start(**overrides: Any) -> RunningProvider:
        for _ in range(3):  # another process may grab the free port before node binds it
            running = _launch(tmp_path, overrides, started)
            if running is not None:
                return running
        raise RuntimeError(f"the provider did not start in three tries (last log): {started[-1].log()}")

    yield start
    for running in started:
        _stop(running)


@pytest.fixture
def provider(start_provider: Callable[..., RunningProvider]) -> RunningProvider:
    return start_provider()


@pytest.fixture
def cache_file(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "dex-auth" / "tokens.json"

"""Fixtures of the end-to-end suite: real stacks built from the charm's outputs.

Stacks are module-scoped (tests in a module share one unless they need their own). When a test
fails, the logs of every process of the stacks it used, the rendered outputs and the gateway
config are copied to test-artifacts/<module>/<test>/.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from harness import form_login
from harness.configs import base_config
from harness.processes import ProcessGroup
from harness.stack import PROVIDER_DIR, REPO, Stack

ARTIFACTS = REPO / "test-artifacts"


def _missing_prerequisites() -> list[str]:
    missing = [tool for tool in ("caddy", "node") if shutil.which(tool) is None]
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        missing.append(f"npm packages in {PROVIDER_DIR}")
    return missing


@pytest.fixture(scope="session", autouse=True)
def e2e_prerequisites() -> None:
    missing = _missing_prerequisites()
    if missing:
        pytest.fail(f"end-to-end prerequisites missing: {', '.join(missing)}; run scripts/setup", pytrace=False)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[Any]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


class StackPool:
    """Stacks of one module, stopped at the end of it."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.stacks: list[Stack] = []

    def start(
        self, config: dict[str, Any] | None = None, gateway_mode: str = "ambassador", name: str = "stack"
    ) -> Stack:
        root = self.tmp / f"{name}-{len(self.stacks)}"
        stack = Stack(root, config if config is not None else base_config(), gateway_mode=gateway_mode)
        self.stacks.append(stack)
        return stack.start()

    def stop_all(self) -> None:
        for stack in self.stacks:
            stack.stop()


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[StackPool]:
    pool = StackPool(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]))
    yield pool
    pool.stop_all()


@pytest.fixture(autouse=True)
def _artifacts_on_failure(request: pytest.FixtureRequest) -> Iterator[Path]:
    """Where a failing test's evidence goes; also handed to tests (screenshots)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    target = ARTIFACTS / request.module.__name__.rsplit(".", 1)[-1] / safe
    yield target
    report = getattr(request.node, "rep_call", None)
    failed = report is not None and report.failed
    if failed and "stacks" in request.fixturenames:
        pool: StackPool = request.getfixturevalue("stacks")
        for index, stack in enumerate(pool.stacks):
            stack.save_artifacts(target / f"stack-{index}")


@pytest.fixture
def group(tmp_path: Path) -> Iterator[ProcessGroup]:
    """Processes a test starts itself (an issuer, a second server), stopped after it."""
    processes = ProcessGroup(tmp_path / "logs")
    yield processes
    processes.stop_all()


@pytest.fixture
def artifacts(_artifacts_on_failure: Path) -> Path:
    return _artifacts_on_failure


@pytest.fixture(scope="module")
def stack(stacks: StackPool) -> Stack:
    """The default chain: Caddy emulating Ambassador from the rendered resources."""
    return stacks.start(base_config(), "ambassador", name="ambassador")


@pytest.fixture
def login(stack: Stack) -> Callable[..., requests.Session]:
    """login(path="/", stack=stack) -> a requests.Session holding a session cookie."""

    def do_login(path: str = "/", on: Stack | None = None) -> requests.Session:
        target = on or stack
        session = requests.Session()
        result = form_login.login(session, target.url(path), target.username or "", target.password or "")
        assert result.response.status_code == 200, result.describe()
        return session

    return do_login

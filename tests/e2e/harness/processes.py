"""Real processes on free local ports, with log files, bounded waits and certain teardown.

Every process is started in its own session so that stopping it stops whatever it spawned
(granian workers, node), and nothing outlives the test run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests


class ProcessStartError(RuntimeError):
    """A process exited or never became ready; the message carries the tail of its log."""


_handed_out: set[int] = set()


def free_port() -> int:
    """A port nobody listens on right now, and never one this process handed out before.

    A stack asks for several ports before anything binds them; the kernel may offer a port
    again once its probing socket is closed, so repeats are refused here.
    """
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise ProcessStartError("no fresh free port after 100 tries")


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class ManagedProcess:
    """One running process and where its output goes (stdout and stderr in one file)."""

    name: str
    argv: list[str]
    log_path: Path
    popen: subprocess.Popen
    env: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM the process group, then SIGKILL it if it lingers."""
        if self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=timeout)


def wait_until(
    check: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    process: ManagedProcess | None = None,
    interval: float = 0.05,
) -> None:
    """Poll `check` until it is true; fail early if `process` dies."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and not process.running():
            raise ProcessStartError(
                f"{process.name} exited with code {process.popen.returncode} while waiting for {what};"
                f" log {process.log_path}:\n{tail(process.log_path)}"
            )
        try:
            if check():
                return
        except (requests.RequestException, OSError):
            pass
        if time.monotonic() > deadline:
            log = f"; log {process.log_path}:\n{tail(process.log_path)}" if process else ""
            raise ProcessStartError(f"timed out after {timeout:.0f}s waiting for {what}{log}")
        time.sleep(interval)


def http_ready(url: str, ok_statuses: Sequence[int] = (200,)) -> Callable[[], bool]:
    def check() -> bool:
        return requests.get(url, timeout=1, allow_redirects=False).status_code in ok_statuses

    return check


class ProcessGroup:
    """Starts named processes with logs under one directory; `stop_all` always cleans up."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.processes: dict[str, ManagedProcess] = {}
        self._starts: dict[str, int] = {}

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        ready: Callable[[], bool] | None = None,
        ready_what: str = "readiness",
        timeout: float = 20.0,
    ) -> ManagedProcess:
        if name in self.processes and self.processes[name].running():
            raise RuntimeError(f"{name} is already running (pid {self.processes[name].pid})")
        count = self._starts.get(name, 0)
        self._starts[name] = count + 1
        suffix = "" if count == 0 else f".{count}"
        log_path = self.log_dir / f"{name}{suffix}.log"
        full_env = dict(env) if env is not None else dict(os.environ)
        log = open(log_path, "wb")  # noqa: SIM115 - the child owns it until exit
        try:
            popen = subprocess.Popen(
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=full_env,
                cwd=cwd,
                start_new_session=True,
            )
        finally:
            log.close()
        process = ManagedProcess(name, list(argv), log_path, popen, full_env)
        self.processes[name] = process
        if ready is not None:
            try:
                wait_until(ready, timeout=timeout, what=f"{name} {ready_what}", process=process)
            except ProcessStartError:
                process.stop()
                raise
        return process

    def stop(self, name: str) -> None:
        process = self.processes.get(name)
        if process is not None:
            process.stop()

    def stop_all(self) -> None:
        errors = []
        for process in reversed(list(self.processes.values())):
            try:
                process.stop()
            except Exception as err:  # keep stopping the others
                errors.append(f"{process.name}: {err}")
        if errors:
            raise RuntimeError("could not stop: " + "; ".join(errors))

    def logs(self) -> dict[str, str]:
        """Every log file of this group (restarts included), by file name."""
        return {p.name: p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log"))}

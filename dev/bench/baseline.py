"""The floors the gatekeeper is measured against: Caddy `respond 200`, and the do-nothing app on
the gatekeeper's own server stack. The Caddy listener doubles as the upstream of the chain runs,
so "Caddy straight to the upstream" and "Caddy, auth hop, upstream" end at the same fast server.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from harness.processes import ManagedProcess, ProcessGroup, free_port, http_ready

BENCH_DIR = Path(__file__).resolve().parent


def respond_caddyfile(port: int) -> str:
    """A Caddyfile whose only job is `respond 200`: no admin API, no logs, no TLS."""
    return "\n".join(
        [
            "{",
            "\tadmin off",
            "\tauto_https off",
            "}",
            "",
            f"http://127.0.0.1:{port} {{",
            "\trespond 200",
            "}",
            "",
        ]
    )


def caddy_env(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
    }


def start_caddy_respond(group: ProcessGroup, work: Path) -> tuple[ManagedProcess, str]:
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    path = work / "respond.caddyfile"
    path.write_text(respond_caddyfile(port))
    url = f"http://127.0.0.1:{port}"
    process = group.start(
        "caddy-respond",
        ["caddy", "run", "--config", str(path), "--adapter", "caddyfile"],
        env=caddy_env(work / "caddy-home"),
        cwd=work,
        ready=http_ready(url + "/"),
        ready_what="respond 200",
    )
    return process, url


def start_noop_app(
    group: ProcessGroup, work: Path, workers: int, *, least_check: bool = False
) -> tuple[ManagedProcess, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(BENCH_DIR.parent), "PYTHONUNBUFFERED": "1"}
    process = group.start(
        "noop-app",
        [sys.executable, "-m", "bench.noop_app", "--port", str(port), "--workers", str(workers)]
        + (["--least-check"] if least_check else []),
        env=env,
        cwd=work,
        ready=http_ready(url + "/"),
        ready_what="HTTP",
    )
    return process, url

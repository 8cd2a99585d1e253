"""Where the check path spends its time: py-spy on the gatekeeper's worker under wrk load.

    python -m bench.profile [--seconds 15] [--native] [--target envoy|forward-auth|bearer|302]

Starts the stack, logs in, loads one check with wrk while py-spy samples the granian worker,
then prints the functions by share of samples (self and inclusive) and keeps the collapsed
stacks (bench-results/profile-<target>-<timestamp>.txt, loadable in speedscope or flamegraph.pl).
py-spy is pinned in requirements.txt, so scripts/setup installs it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests
from harness import form_login
from harness.configs import base_config
from harness.stack import REPO, Stack

from bench import process_tree, wrk

PAGE = "/some/page"
NATIVE_ONLY = "(a thread with no Python frame: granian's Rust runtime)"
BROWSER = {"Accept": "text/html,application/xhtml+xml", "Sec-Fetch-Mode": "navigate"}


@dataclass(frozen=True)
class Share:
    frame: str
    self_pct: float
    total_pct: float


def collapsed_shares(text: str, top: int = 25) -> tuple[int, list[Share]]:
    """(sample count, frames by inclusive share) from py-spy's raw (collapsed) output.

    Each line is `frame;frame;...;leaf COUNT`; a frame counted once per stack even when recursive.
    A line with no frames is a thread running without any Python frame (granian's Rust threads).
    """
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    samples = 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";") if stack else [NATIVE_ONLY]
        samples += n
        self_counts[frames[-1]] += n
        for frame in set(frames):
            total_counts[frame] += n
    if samples == 0:
        return 0, []
    ranked = sorted(total_counts, key=lambda f: (-total_counts[f], -self_counts[f]))[:top]
    return samples, [Share(f, 100 * self_counts[f] / samples, 100 * total_counts[f] / samples) for f in ranked]


def worker_pids(main_pid: int) -> list[int]:
    return [pid for pid in process_tree.descendants(main_pid, process_tree.parents()) if pid != main_pid]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rate", type=int, default=500, help="py-spy samples per second")
    parser.add_argument("--native", action="store_true", help="also sample native (Rust/C) frames")
    parser.add_argument("--target", choices=("envoy", "forward-auth", "bearer", "302"), default="envoy")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        print("profile: py-spy is not installed: .venv/bin/pip install py-spy==0.4.3", file=sys.stderr)
        return 2

    root = Path(tempfile.mkdtemp(prefix="dex-auth-profile-"))
    stack = Stack(root, base_config(**{"log-level": "info"}))
    try:
        stack.start()
        with requests.Session() as browser:
            form_login.login(browser, stack.url(PAGE), stack.username or "", stack.password or "")
            cookie = f"authservice_session={browser.cookies.get('authservice_session')}"
        gk = stack.gatekeeper_url
        envoy = f"{gk}{stack.prefix}/check{PAGE}"
        if args.target == "envoy":
            url, headers = envoy, {"Cookie": cookie}
        elif args.target == "forward-auth":
            url, headers = (
                f"{gk}{stack.prefix}/forward-auth",
                {
                    "Cookie": cookie,
                    "X-Forwarded-Method": "GET",
                    "X-Forwarded-Uri": PAGE,
                    "X-Forwarded-Proto": "http",
                    "X-Forwarded-Host": stack.public_url.split("://", 1)[1],
                },
            )
        elif args.target == "bearer":
            from dex_auth_login import login

            token = login(stack.public_url, username=stack.username, password=stack.password, use_cache=False)
            url, headers = envoy, {"Authorization": f"Bearer {token}"}
        else:
            url, headers = envoy, BROWSER
        workers = worker_pids(stack.processes.processes["gatekeeper"].pid)
        if len(workers) != 1:
            print(f"profile: expected one granian worker, found {workers}", file=sys.stderr)
            return 1
        wrk.run(url, headers, seconds=3, expect_errors=True)  # warm-up
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out = REPO / "bench-results" / f"profile-{args.target}-{stamp}.txt"
        out.parent.mkdir(exist_ok=True)
        argv = [
            py_spy,
            "record",
            "--pid",
            str(workers[0]),
            "--rate",
            str(args.rate),
            "--duration",
            str(args.seconds),
            "--format",
            "raw",
            "--output",
            str(out),
        ]
        # --nonblocking disturbs the worker least; native frames need py-spy to pause it.
        argv.append("--native" if args.native else "--nonblocking")
        loaded: list[wrk.WrkResult] = []
        load = threading.Thread(
            target=lambda: loaded.append(wrk.run(url, headers, seconds=args.seconds, expect_errors=True))
        )
        load.start()
        spy = subprocess.run(argv, capture_output=True, text=True, timeout=args.seconds + 60)
        load.join()
        if spy.returncode != 0:
            print(f"profile: py-spy failed: {spy.stderr.strip()}", file=sys.stderr)
            return 1
        samples, shares = collapsed_shares(out.read_text(), args.top)
        rate = f"{loaded[0].requests_per_second:,.0f} req/s under py-spy" if loaded else "wrk failed"
        print(f"{args.target}: {rate}; {samples} samples; stacks in {out}\n")
        print(f"{'self %':>7} {'total %':>7}  frame")
        for share in shares:
            print(f"{share.self_pct:7.1f} {share.total_pct:7.1f}  {share.frame}")
        return 0
    finally:
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

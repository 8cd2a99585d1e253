"""Does the shared revocation store cost the check anything? One unit, with Redis and without.

    scripts/bench-redis [--rounds 3] [--seconds 8] [--revoked 5000] [--logouts-per-second 20]

The same gatekeeper (one unit, the charm's environment) is measured alternately without
GATEKEEPER_REDIS_URL and with it, `--rounds` times each, so both see the same machine and the
same hour; the figure is the ratio of the medians (with / without). With Redis the store holds
`--revoked` revocations and another unit logs out `--logouts-per-second` sessions while wrk runs,
so the measured unit keeps taking in pub/sub messages: the cost of following the store, not only
of being connected to it.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from harness import form_login
from harness.configs import base_config
from harness.redis_server import RedisServer
from harness.stack import Stack

from bench import process_tree, wrk
from gatekeeper.config import parse_session_keys
from gatekeeper.sessions import SessionCodec

PAGE = "/some/page"


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Logouts:
    """Sessions of throw-away users, logged out on unit 1 at a steady rate, in a thread."""

    def __init__(self, stack: Stack, per_second: float) -> None:
        keys = parse_session_keys("GATEKEEPER_SESSION_KEYS", stack.env["GATEKEEPER_SESSION_KEYS"])
        self.codec, self.stack, self.interval = SessionCodec(keys, 3600), stack, 1 / per_second
        self.done = threading.Event()
        self.count = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        url = f"{self.stack.unit_url(1)}{self.stack.prefix}/logout"
        with requests.Session() as http:
            while not self.done.wait(self.interval):
                token = self.codec.issue(user=f"churn-{self.count}@example.com", groups=(), sub="x")[0]
                http.post(url, headers={"Cookie": f"authservice_session={token}"}, timeout=5)
                self.count += 1

    def __enter__(self) -> Logouts:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.done.set()
        self.thread.join()


def preload(redis_url: str, stack: Stack, count: int) -> None:
    """`count` live revocations in the store, as many logouts over a day would leave."""
    import redis as redis_client  # the sync client, for the set-up only

    client = redis_client.Redis.from_url(redis_url)
    expiry = time.time() + 3600
    key = f"gatekeeper:{stack.client_id}:revoked"
    client.zadd(key, {f"preloaded-{i}": expiry for i in range(count)})
    client.close()


def measure(stack: Stack, cookie: str, seconds: int) -> tuple[float, float]:
    """(req/s, server CPU µs per request) of unit 0's Envoy-style check with a valid session."""
    url = f"{stack.unit_url(0)}{stack.prefix}/check{PAGE}"
    headers = {"Cookie": f"authservice_session={cookie}"}
    wrk.run(url, headers, seconds=2, expect_errors=True)
    pid = stack.processes.processes["gatekeeper"].pid
    cpu = process_tree.tree_cpu_seconds(pid)
    result = wrk.run(url, headers, seconds=seconds)
    return result.requests_per_second, (process_tree.tree_cpu_seconds(pid) - cpu) / result.requests * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.redis_ab")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--revoked", type=int, default=5000)
    parser.add_argument("--logouts-per-second", type=float, default=20.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as tmp:
        stack = Stack(Path(tmp) / "stack", base_config(**{"log-level": "info"}), units=2)
        redis = RedisServer(stack.processes, Path(tmp) / "redis", password=secrets.token_urlsafe(16))
        redis.start()
        stack.runner.related_redis = redis.relation_data
        try:
            stack.start()
            preload(redis.url, stack, args.revoked)
            session = requests.Session()
            flow = form_login.login(session, stack.url(PAGE), stack.username or "", stack.password or "")
            assert flow.response.status_code == 200, flow.describe()
            cookie = session.cookies["authservice_session"]
            figures: dict[str, list[tuple[float, float]]] = {"without": [], "with": []}
            for round_ in range(args.rounds):
                for mode in ("without", "with"):
                    stack.stop_gatekeeper(0)
                    extra = {"GATEKEEPER_REDIS_URL": ""} if mode == "without" else {}
                    stack.start_gatekeeper(unit=0, extra_env=extra)
                    with Logouts(stack, args.logouts_per_second) as churn:
                        rps, cpu = measure(stack, cookie, args.seconds)
                    figures[mode].append((rps, cpu))
                    say(
                        f"round {round_ + 1}, {mode} Redis: {rps:,.0f} req/s, {cpu:.0f} µs CPU/request,"
                        f" {churn.count} logouts on unit 1 meanwhile"
                    )
        finally:
            stack.stop()
    rps = {mode: statistics.median(r for r, _ in runs) for mode, runs in figures.items()}
    cpu = {mode: statistics.median(c for _, c in runs) for mode, runs in figures.items()}
    print(f"check, session cookie, one unit, {args.rounds} interleaved rounds of {args.seconds}s (medians):")
    print(f"  without Redis: {rps['without']:,.0f} req/s, {cpu['without']:.0f} µs CPU/request")
    print(
        f"  with Redis ({args.revoked} revocations, {args.logouts_per_second:g} logouts/s on another unit):"
        f" {rps['with']:,.0f} req/s, {cpu['with']:.0f} µs CPU/request"
    )
    print(f"  ratio with/without: req/s {rps['with'] / rps['without']:.3f}, CPU {cpu['with'] / cpu['without']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

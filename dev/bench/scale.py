"""Does the check stay as cheap with many users, many connections, more workers? Issue 15's rows.

    scripts/bench-scale [--rounds 3] [--seconds 8] [--sizes 1 1000 10000 100000 200000]
                        [--bearer 1000] [--connections 50 500 2000] [--workers-at 500]

Three sections, all on the Envoy-style check (straight to the gatekeeper, as Ambassador's
ext_authz filter reaches it):

- working set: N distinct valid sessions (session JWTs signed with the deployment's key, one
  user each) or N distinct bearer ID tokens (the provider's password grant), sent round-robin by
  a wrk Lua script, at 50 connections. 200,000 is past the verified-token cache's bound.
- connections: 1,000 sessions at 50, 500 and 2,000 connections, and beside each the least check
  on the same server stack (`bench.noop_app --least-check`): at saturation a closed loop's latency
  is its connections over its rate, so this is the floor of the p99 at that many connections.
- workers: 1,000 sessions at 500 connections with 1 and 2 granian workers (`gatekeeper-workers`,
  rendered by the charm), without a CPU limit (this machine's cores, shared with wrk) and under a
  unit's CPU limit of one core (a CFS quota, as the kubelet sets it).

Every process starts with the open-files limit a containerd 2.x container gets (soft 1024, the
hard limit of this machine); the gatekeeper is left to raise its own, as it must in a pod. wrk's
is raised, as anyone running a load generator would. Before each row the gatekeeper is
restarted, so its RSS after the row is that row's alone; a warm-up long enough to verify every
token once comes first, then the measured run, each of whose checks must have been allowed:
counted by the gatekeeper's own counters with one worker, by wrk (status 200) in the workers
section, where a scrape sees one worker's counters. Rows are interleaved, round after round
(A B C ... A B C ...), and each figure is the median of the rounds with its spread.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from harness.configs import base_config
from harness.stack import REPO, Stack

from bench import baseline, counters, process_tree, wrk
from bench.cpu_limit import CpuLimit, CpuLimitError
from gatekeeper.config import parse_session_keys
from gatekeeper.sessions import SessionCodec
from gatekeeper.tokens import DEFAULT_CACHE_LIMIT

PAGE = "/some/page"
MISS_SECONDS = 150e-6  # a generous cost of one first check (verify and cache), for the warm-up's length
CONTAINER_SOFT_NOFILE = 1024  # containerd 2.x: systemd's default, containerd/containerd#8924

# Each thread starts at its own offset and goes round every value, one request each; the requests
# are formatted once in init so that wrk spends as little CPU per request as with a fixed header.
ROUND_ROBIN = """\
local threads = {}
function setup(thread) table.insert(threads, thread); thread:set("id", #threads) end
function init(args)
  local path, name, nthreads = args[1], args[2], tonumber(args[3])
  requests = {}
  for value in io.lines(path) do
    local headers = {}
    for k, v in pairs(wrk.headers) do headers[k] = v end
    headers[name] = value
    requests[#requests + 1] = wrk.format(nil, nil, headers)
  end
  n = #requests
  i = (id - 1) * math.floor(n / nthreads)
  seen, wrong_status = 0, 0
end
function request()
  i = i % n + 1
  return requests[i]
end
"""

# The same, counting answers other than 200 in the line wrk.parse reads (it costs wrk some CPU).
CHECKED_ROUND_ROBIN = (
    ROUND_ROBIN
    + """\
function response(status, headers, body)
  seen = seen + 1
  if status ~= 200 then wrong_status = wrong_status + 1 end
end
function done(summary, latency, requests)
  local s, w = 0, 0
  for _, t in ipairs(threads) do s = s + t:get("seen"); w = w + t:get("wrong_status") end
  io.write(string.format("bench-check: seen=%d wrong_status=%d missing_header=0\\n", s, w))
end
"""
)


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Row:
    name: str
    section: str
    header: str
    values_file: Path
    count: int
    connections: int = 50
    workers: int = 1
    cpu_limit: float | None = None
    least_check: bool = False  # the floor app instead of the gatekeeper

    @property
    def counted_by_wrk(self) -> bool:
        return self.section == "workers"


@dataclass(frozen=True)
class Run:
    rps: float
    p99_ms: float
    cpu_us: float
    rss_startup_mib: float
    rss_after_mib: float
    socket_errors: int = 0
    open_files_limit: int = 0
    throttled_periods: int = 0


@dataclass
class Bench:
    stack: Stack
    seconds: int
    threads: int
    workers: int = 1
    limits: dict[float, CpuLimit] = field(default_factory=dict)

    def measure(self, row: Row) -> Run:
        if row.least_check:
            return self._measure_least_check(row)
        if row.workers != self.workers:
            self.stack.reconfigure({**self.stack.charm_config, "gatekeeper-workers": row.workers})
            self.workers = row.workers
        self.stack.stop_gatekeeper(0)
        self.stack.start_gatekeeper(unit=0)
        pid = self.stack.processes.processes["gatekeeper"].pid
        tree = process_tree.descendants(pid, process_tree.parents())
        limit = self._cpu_limit(row.cpu_limit)
        if limit is not None:
            limit.add(tree)
        startup = process_tree.tree_rss_kib(pid) / 1024
        url = f"{self.stack.gatekeeper_url}{self.stack.prefix}/check{PAGE}"
        script = CHECKED_ROUND_ROBIN if row.counted_by_wrk else ROUND_ROBIN
        load = {
            "connections": row.connections,
            "threads": self.threads,
            "lua": (script, (str(row.values_file), row.header, str(self.threads))),
            "tolerated_socket_errors": 1.0,  # counted and reported: the 2,000-connection target is none
        }
        warmup = max(3, math.ceil(row.count * MISS_SECONDS * 1.5 * (2 if limit else 1)))
        wrk.run(url, seconds=warmup, expect_errors=True, **load)
        before, cpu = counters.read(self.stack.gatekeeper_url), process_tree.tree_cpu_seconds(pid)
        throttled = limit.throttled_periods() if limit else 0
        result = wrk.run(url, seconds=self.seconds, **load)
        cpu_us = (process_tree.tree_cpu_seconds(pid) - cpu) / result.requests * 1e6
        if row.counted_by_wrk:
            if result.check is None or result.check.failures or result.check.seen < result.requests:
                raise counters.CounterError(f"{row.name}: not every answer was a 200: {result.check}")
        else:
            counters.verify_outcomes(before, counters.read(self.stack.gatekeeper_url), "allowed", result.requests)
        return Run(
            rps=result.requests_per_second,
            p99_ms=result.p99_ms,
            cpu_us=cpu_us,
            rss_startup_mib=startup,
            rss_after_mib=process_tree.tree_rss_kib(pid) / 1024,
            socket_errors=result.socket_errors,
            open_files_limit=min(open_files_limit(p) for p in tree),
            throttled_periods=(limit.throttled_periods() - throttled) if limit else 0,
        )

    def _measure_least_check(self, row: Row) -> Run:
        group = self.stack.processes
        process, url = baseline.start_noop_app(group, self.stack.root, 1, least_check=True)
        try:
            tree = process_tree.descendants(process.pid, process_tree.parents())
            startup = process_tree.tree_rss_kib(process.pid) / 1024
            lua = (CHECKED_ROUND_ROBIN, (str(row.values_file), row.header, str(self.threads)))
            load = {"connections": row.connections, "threads": self.threads, "lua": lua, "tolerated_socket_errors": 1.0}
            wrk.run(url + PAGE, seconds=3, expect_errors=True, **load)
            cpu = process_tree.tree_cpu_seconds(process.pid)
            result = wrk.run(url + PAGE, seconds=self.seconds, **load)
            cpu_us = (process_tree.tree_cpu_seconds(process.pid) - cpu) / result.requests * 1e6
            if result.check is None or result.check.failures:
                raise counters.CounterError(f"{row.name}: not every answer was a 200: {result.check}")
            return Run(
                rps=result.requests_per_second,
                p99_ms=result.p99_ms,
                cpu_us=cpu_us,
                rss_startup_mib=startup,
                rss_after_mib=process_tree.tree_rss_kib(process.pid) / 1024,
                socket_errors=result.socket_errors,
                open_files_limit=min(open_files_limit(p) for p in tree),
            )
        finally:
            process.stop()

    def _cpu_limit(self, cpus: float | None) -> CpuLimit | None:
        if cpus is None:
            return None
        if cpus not in self.limits:
            self.limits[cpus] = CpuLimit(cpus)
        return self.limits[cpus]

    def close(self) -> None:
        for limit in self.limits.values():
            limit.close()


def open_files_limit(pid: int) -> int:
    """The soft open-files limit a process runs with (/proc/<pid>/limits)."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise process_tree.ProcReadError(f"no open-files line in /proc/{pid}/limits")


def session_cookies(stack: Stack, count: int) -> list[str]:
    keys = parse_session_keys("GATEKEEPER_SESSION_KEYS", stack.env["GATEKEEPER_SESSION_KEYS"])
    codec = SessionCodec(keys, 3 * 3600)
    return [
        "authservice_session="
        + codec.issue(user=f"user-{i}@example.com", groups=("kubeflow-users", f"team-{i % 50}"), sub=f"sub-{i}")[0]
        for i in range(count)
    ]


def bearer_tokens(stack: Stack, count: int) -> list[str]:
    tokens = []
    for _ in range(count):
        answer = stack.password_grant()
        answer.raise_for_status()
        tokens.append("Bearer " + answer.json()["id_token"])
    return tokens


def spread(values: Iterable[float]) -> dict[str, float]:
    values = list(values)
    return {"median": round(statistics.median(values), 2), "low": round(min(values), 2), "high": round(max(values), 2)}


def summary(runs: list[Run]) -> dict[str, object]:
    return {
        "rps": spread(r.rps for r in runs),
        "p99_ms": spread(r.p99_ms for r in runs),
        "cpu_us_per_check": spread(r.cpu_us for r in runs),
        "rss_growth_mib": spread(r.rss_after_mib - r.rss_startup_mib for r in runs),
        "rss_startup_mib": round(statistics.median(r.rss_startup_mib for r in runs), 1),
        "socket_errors": max(r.socket_errors for r in runs),
        "open_files_limit": min(r.open_files_limit for r in runs),
        "throttled_periods": spread(r.throttled_periods for r in runs),
    }


def build_rows(args: argparse.Namespace, tmp: Path, cookies: list[str], bearer: list[str]) -> list[Row]:
    def values(name: str, lines: list[str]) -> Path:
        path = tmp / f"{name}.txt"
        path.write_text("\n".join(lines) + "\n")
        return path

    rows = [Row(f"sessions-{n}", "working set", "Cookie", values(f"sessions-{n}", cookies[:n]), n) for n in args.sizes]
    if bearer:
        rows.append(Row(f"bearer-{len(bearer)}", "working set", "Authorization", values("bearer", bearer), len(bearer)))
    many = values("sessions-1000-load", cookies[:1000])
    for c in args.connections:
        rows.append(Row(f"connections-{c}", "connections", "Cookie", many, 1000, connections=c))
        rows.append(Row(f"least-check-{c}", "connections", "Cookie", many, 1000, connections=c, least_check=True))
    for workers in (1, 2):
        for cpus in (None, 1.0):
            name = f"workers-{workers}" + ("" if cpus is None else f"-cpu-{cpus:g}")
            rows.append(Row(name, "workers", "Cookie", many, 1000, args.workers_at, workers, cpus))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench-scale", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 1000, 10_000, 100_000, 200_000])
    parser.add_argument("--bearer", type=int, default=1000, help="distinct bearer ID tokens (0 leaves the row out)")
    parser.add_argument("--connections", type=int, nargs="+", default=[50, 500, 2000])
    parser.add_argument("--workers-at", type=int, default=500, help="connections for the workers section")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--results-dir", type=Path, default=REPO / "bench-results")
    args = parser.parse_args(argv)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(CONTAINER_SOFT_NOFILE, hard), hard))
    load_at_start = os.getloadavg()[0]
    figures: dict[str, list[Run]] = {}
    sections: dict[str, str] = {}
    left_out: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        stack = Stack(Path(tmp) / "stack", base_config(**{"log-level": "info"}), gateway_mode="ambassador")
        bench = Bench(stack, args.seconds, args.threads)
        try:
            stack.start()
            count = max([*args.sizes, 1000])
            say(f"minting {count:,} session JWTs with the deployment's key...")
            cookies = session_cookies(stack, count)
            say(f"{args.bearer:,} ID tokens from the provider's password grant...")
            rows = build_rows(args, Path(tmp), cookies, bearer_tokens(stack, args.bearer))
            for round_ in range(args.rounds):
                for row in rows:
                    if row.name in left_out:
                        continue
                    try:
                        run = bench.measure(row)
                    except CpuLimitError as exc:
                        left_out[row.name] = str(exc)
                        say(f"{row.name} left out: {exc}")
                        continue
                    figures.setdefault(row.name, []).append(run)
                    sections[row.name] = row.section
                    say(
                        f"round {round_ + 1} {row.name}: {run.rps:,.0f} req/s, p99 {run.p99_ms:.2f} ms,"
                        f" {run.cpu_us:.0f} µs CPU/check, RSS {run.rss_startup_mib:.1f} -> {run.rss_after_mib:.1f} MiB,"
                        f" {run.socket_errors} socket errors"
                    )
        finally:
            bench.close()
            stack.stop()
    results = {name: {"section": sections[name], **summary(runs)} for name, runs in figures.items()}
    data = {
        "what": "issue 15: the Envoy-style check with many credentials, many connections, 1 or 2 workers",
        "settings": {**vars(args), "results_dir": None, "verified_cache_limit": DEFAULT_CACHE_LIMIT},
        "load_average_1m": {"start": round(load_at_start, 2), "end": round(os.getloadavg()[0], 2)},
        "cpus": os.cpu_count(),
        "left_out": left_out,
        "results": results,
        "runs": {name: [vars(r) for r in runs] for name, runs in figures.items()},
    }
    print(table(results))
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / ("scale-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + ".json")
    out.write_text(json.dumps(data, indent=2, default=str) + "\n")
    print(f"\nresults: {out}")
    return 0


def table(results: dict[str, dict[str, object]]) -> str:
    """Medians with (lowest-highest) of the rounds; CPU per check against the 1-session row."""
    base = results.get("sessions-1", {}).get("cpu_us_per_check")
    lines = [
        "| row | req/s | p99 ms | CPU µs per check | × 1 session | RSS growth MiB | socket errors |",
        "|---|---|---|---|---|---|---|",
    ]

    def cell(value: object, fmt: str) -> str:
        v = value if isinstance(value, dict) else {}
        return f"{v['median']:{fmt}} ({v['low']:{fmt}}-{v['high']:{fmt}})"

    for name, row in results.items():
        cpu = row["cpu_us_per_check"]
        ratio = f"{cpu['median'] / base['median']:.2f}" if isinstance(base, dict) and isinstance(cpu, dict) else "-"
        lines.append(
            f"| {name} | {cell(row['rps'], ',.0f')} | {cell(row['p99_ms'], '.2f')} | {cell(cpu, '.0f')} | {ratio}"
            f" | {cell(row['rss_growth_mib'], '.1f')} | {row.get('socket_errors', 0)} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

"""Does the check stay as cheap with many users as with one? Issue 15's working-set rows.

    scripts/bench-working-set [--rounds 3] [--seconds 8] [--sizes 1 1000 10000 100000 200000]
                              [--bearer 1000]

Each row loads the Envoy-style check with N distinct valid sessions (session JWTs signed with
the deployment's key, one user each) that a wrk Lua script sends round-robin, or with N distinct
bearer ID tokens from the provider's password grant. Before each row the gatekeeper is restarted,
so its RSS after the row is that working set's alone; a warm-up long enough for every token to
be verified once comes first, then the measured run, whose every check the gatekeeper must count
as allowed. Rows are interleaved, round after round (A B C A B C ...), and each figure is the
median of the rounds with its spread (lowest to highest). The 1-session row goes through the same
script as the others, so the ratios compare like with like. 200,000 is past the verified-token
cache's bound (150,000): that row shows what happens beyond it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from harness.configs import base_config
from harness.stack import REPO, Stack

from bench import counters, process_tree, wrk
from gatekeeper.config import parse_session_keys
from gatekeeper.sessions import SessionCodec
from gatekeeper.tokens import DEFAULT_CACHE_LIMIT

PAGE = "/some/page"
MISS_SECONDS = 150e-6  # a generous cost of one first check (verify and cache), for the warm-up's length

# Each thread starts at its own offset and goes round every value, one request each; the requests
# are formatted once in init so that wrk spends as little CPU per request as with a fixed header.
ROUND_ROBIN = """\
local count = 0
function setup(thread) count = count + 1; thread:set("id", count) end
function init(args)
  local path, name, threads = args[1], args[2], tonumber(args[3])
  requests = {}
  for value in io.lines(path) do
    local headers = {}
    for k, v in pairs(wrk.headers) do headers[k] = v end
    headers[name] = value
    requests[#requests + 1] = wrk.format(nil, nil, headers)
  end
  n = #requests
  i = (id - 1) * math.floor(n / threads)
end
function request()
  i = i % n + 1
  return requests[i]
end
"""


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Row:
    name: str
    header: str
    values_file: Path
    count: int


@dataclass(frozen=True)
class Run:
    rps: float
    p99_ms: float
    cpu_us: float
    rss_startup_mib: float
    rss_after_mib: float


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


def measure(stack: Stack, row: Row, seconds: int, threads: int, connections: int) -> Run:
    stack.stop_gatekeeper(0)
    stack.start_gatekeeper(unit=0)
    pid = stack.processes.processes["gatekeeper"].pid
    startup = process_tree.tree_rss_kib(pid) / 1024
    url = f"{stack.gatekeeper_url}{stack.prefix}/check{PAGE}"
    lua = (ROUND_ROBIN, (str(row.values_file), row.header, str(threads)))
    load = {"connections": connections, "threads": threads, "lua": lua}
    warmup = max(3, math.ceil(row.count * MISS_SECONDS * 1.5))
    wrk.run(url, seconds=warmup, expect_errors=True, **load)
    before, cpu = counters.read(stack.gatekeeper_url), process_tree.tree_cpu_seconds(pid)
    result = wrk.run(url, seconds=seconds, **load)
    cpu_us = (process_tree.tree_cpu_seconds(pid) - cpu) / result.requests * 1e6
    counters.verify_outcomes(before, counters.read(stack.gatekeeper_url), "allowed", result.requests)
    after = process_tree.tree_rss_kib(pid) / 1024
    return Run(result.requests_per_second, result.p99_ms, cpu_us, startup, after)


def summary(runs: list[Run]) -> dict[str, object]:
    def spread(values: list[float]) -> dict[str, float]:
        return {
            "median": round(statistics.median(values), 2),
            "low": round(min(values), 2),
            "high": round(max(values), 2),
        }

    return {
        "rps": spread([r.rps for r in runs]),
        "p99_ms": spread([r.p99_ms for r in runs]),
        "cpu_us_per_check": spread([r.cpu_us for r in runs]),
        "rss_growth_mib": spread([r.rss_after_mib - r.rss_startup_mib for r in runs]),
        "rss_startup_mib": round(statistics.median(r.rss_startup_mib for r in runs), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench-working-set", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 1000, 10_000, 100_000, 200_000])
    parser.add_argument("--bearer", type=int, default=1000, help="distinct bearer ID tokens (0 leaves the row out)")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--results-dir", type=Path, default=REPO / "bench-results")
    args = parser.parse_args(argv)
    load_at_start = os.getloadavg()[0]
    figures: dict[str, list[Run]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-working-set-") as tmp:
        stack = Stack(Path(tmp) / "stack", base_config(**{"log-level": "info"}), gateway_mode="ambassador")
        try:
            stack.start()
            say(f"minting {max(args.sizes):,} session JWTs with the deployment's key...")
            cookies = session_cookies(stack, max(args.sizes))
            rows = []
            for size in args.sizes:
                path = Path(tmp) / f"sessions-{size}.txt"
                path.write_text("\n".join(cookies[:size]) + "\n")
                rows.append(Row(f"sessions-{size}", "Cookie", path, size))
            if args.bearer:
                say(f"{args.bearer:,} ID tokens from the provider's password grant...")
                path = Path(tmp) / "bearer.txt"
                path.write_text("\n".join(bearer_tokens(stack, args.bearer)) + "\n")
                rows.append(Row(f"bearer-{args.bearer}", "Authorization", path, args.bearer))
            for round_ in range(args.rounds):
                for row in rows:
                    run = measure(stack, row, args.seconds, args.threads, args.connections)
                    figures.setdefault(row.name, []).append(run)
                    say(
                        f"round {round_ + 1} {row.name}: {run.rps:,.0f} req/s, p99 {run.p99_ms:.2f} ms,"
                        f" {run.cpu_us:.0f} µs CPU/check, RSS {run.rss_startup_mib:.1f} -> {run.rss_after_mib:.1f} MiB"
                    )
        finally:
            stack.stop()
    results = {name: summary(runs) for name, runs in figures.items()}
    data = {
        "what": "issue 15 working set: the Envoy-style check with N distinct credentials round-robin",
        "settings": {**vars(args), "results_dir": None, "verified_cache_limit": DEFAULT_CACHE_LIMIT},
        "load_average_1m": {"start": round(load_at_start, 2), "end": round(os.getloadavg()[0], 2)},
        "cpus": os.cpu_count(),
        "results": results,
        "runs": {name: [vars(r) for r in runs] for name, runs in figures.items()},
    }
    print(table(results))
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / ("working-set-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + ".json")
    out.write_text(json.dumps(data, indent=2, default=str) + "\n")
    print(f"\nresults: {out}")
    return 0


def table(results: dict[str, dict[str, object]]) -> str:
    """Medians with (lowest-highest) of the rounds, and CPU per check against the 1-session row."""
    base = results.get("sessions-1", {}).get("cpu_us_per_check")
    lines = [
        "| credentials | req/s | p99 ms | CPU µs per check | × 1 session | RSS growth MiB |",
        "|---|---|---|---|---|---|",
    ]

    def cell(value: object, fmt: str) -> str:
        v = value if isinstance(value, dict) else {}
        return f"{v['median']:{fmt}} ({v['low']:{fmt}}-{v['high']:{fmt}})"

    for name, row in results.items():
        cpu = row["cpu_us_per_check"]
        ratio = f"{cpu['median'] / base['median']:.2f}" if isinstance(base, dict) and isinstance(cpu, dict) else "-"
        lines.append(
            f"| {name} | {cell(row['rps'], ',.0f')} | {cell(row['p99_ms'], '.2f')} | {cell(cpu, '.0f')} | {ratio}"
            f" | {cell(row['rss_growth_mib'], '.1f')} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

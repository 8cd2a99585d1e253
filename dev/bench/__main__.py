"""The benchmark of issue 6: the gatekeeper's check path against the floors and mod_auth_openidc.

    scripts/bench [--seconds 10] [--repeat 3] [--soak 20] [--workers 1] [--skip-apache]
                  [--gateway-idle-conns 32] [--only NAME ...] [--keep-work]

Everything runs in one go on this machine: the end-to-end stack rendered by the charm (provider,
gatekeeper, Caddy), a Caddy `respond 200`, the do-nothing app on granian, the gatekeeper's check
with a session cookie, an ID token, a Kubernetes ServiceAccount token (from the harness's issuer
process, listed in `extra-jwt-issuers`) and the session cookie with the identity assertion on (a
second gatekeeper: bench/check_variants.py), the chain with and without the auth hop, and
Apache + mod_auth_openidc against the same provider. Each figure is
wrk at -t2 -c50 after a warm-up; results go to stdout and to bench-results/<timestamp>.json.

`--repeat N` is the number of interleaved rounds: each round measures every figure once, in
the same order (fresh servers, warm-up, one run), so figure A's rounds sit between figure B's
(A B A B ...). A figure is the median of its rounds with the lowest and highest, and a ratio is
the median of its per-round ratios, so a slow minute on a shared machine lowers both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests
from harness import form_login
from harness.configs import base_config
from harness.jwt_issuer import JwtIssuer
from harness.processes import ManagedProcess, ProcessGroup
from harness.stack import REPO, Stack

from bench import apache, baseline, chain, check_variants, counters, process_tree, report, wrk
from dex_auth_login import login as token_login
from gatekeeper.assertion_keys import generate_pem

SESSION_COOKIE = "authservice_session"
PAGE = "/some/page"
BROWSER = {"Accept": "text/html,application/xhtml+xml", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
SCENARIOS = tuple(report.LABELS)


class BenchError(RuntimeError):
    """A part of the benchmark could not run or measured the wrong thing."""


@dataclass(frozen=True)
class Load:
    seconds: int
    warmup: int
    connections: int
    threads: int


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def expect(url: str, headers: dict[str, str], status: int, what: str) -> requests.Response:
    """One request before loading: the answer under test really is the one we mean to measure."""
    answer = requests.get(url, headers=headers, allow_redirects=False, timeout=10)
    if answer.status_code != status:
        raise BenchError(f"{what}: expected {status} from {url}, got {answer.status_code}: {answer.text[:200]}")
    return answer


def _version(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr).strip() else "unknown"


def granian_event_loop() -> str:
    """What granian's default `loop=auto` picks here: rloop, then uvloop, else asyncio (the image's)."""
    from importlib.util import find_spec

    return next((name for name in ("rloop", "uvloop") if find_spec(name)), "asyncio")


def machine_facts() -> dict[str, object]:
    import granian

    return {
        "granian_event_loop": granian_event_loop(),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "granian": granian.__version__,
        "caddy": _version(["caddy", "version"]),
        "wrk": _version(["wrk", "-v"]),
        "apache": _version(["apache2", "-v"]),
        "mod_auth_openidc": _version(["dpkg-query", "-W", "-f=${Version}", "libapache2-mod-auth-openidc"]),
        "git_commit": _version(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]),
    }


def check_prerequisites(with_apache: bool) -> None:
    missing = [tool for tool in ("wrk", "caddy", "node") if shutil.which(tool) is None]
    if missing:
        raise BenchError(f"missing {', '.join(missing)}: run WITH_BENCH=1 scripts/setup (scripts/bench does)")
    if with_apache:
        apache.check_installed()


@contextmanager
def running(start: Callable[[], tuple[ManagedProcess, str]]) -> Iterator[tuple[str, int]]:
    """(url, pid) of a server for the runs that need it, stopped right after so it takes no CPU
    from the next."""
    process, url = start()
    try:
        yield url, process.pid
    finally:
        process.stop()


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.load = Load(args.seconds, args.warmup, args.connections, args.threads)
        self.group = ProcessGroup(work / "logs")
        options: dict[str, object] = {"log-level": "info", "gatekeeper-workers": args.workers}
        # The ServiceAccount tokens' issuer: its URL is known now, it starts before the stack
        # (start()), and the stack's gatekeeper lists it, as `juju config extra-jwt-issuers=` would.
        self.issuer: JwtIssuer | None = None
        if self.wanted(report.SERVICE_ACCOUNT_CHECK):
            self.issuer = JwtIssuer(self.group, work / "jwt-issuer", name="jwt-issuer")
            options["extra-jwt-issuers"] = check_variants.issuer_entry(self.issuer.url)
        self.stack = Stack(work / "stack", base_config(**options), gateway_mode="ambassador")
        # The identity assertion's key, the same for every round's second gatekeeper (an app's key).
        self.assertion_keys = generate_pem()
        self.apache_client = apache.free_client()
        self.figures = report.Figures()
        self.shortfalls: dict[str, list[int]] = {}
        self.rss: dict[str, int] = {}
        self.soak: report.Soak | None = None
        self.cookie = self.bearer = self.apache_cookie = self.sa_token = ""

    def wanted(self, name: str) -> bool:
        if name == report.APACHE and self.args.skip_apache:
            return False
        return not self.args.only or name in self.args.only

    # -- set-up --------------------------------------------------------------------------
    def start(self) -> None:
        if self.issuer is not None:
            say(f"starting the ServiceAccount token issuer at {self.issuer.url} (in extra-jwt-issuers)...")
            self.issuer.run()
        say("starting the stack (charm render, provider, gatekeeper, Caddy)...")
        self.stack.start()
        if self.wanted(report.APACHE):
            # One more static client in the Dex config, then the provider restarts on it.
            path = self.stack.dex_config_path
            path.write_text(apache.with_client(path.read_text(), self.apache_client))
            self.stack.stop_provider()
            self.stack.start_provider()
        say("logging in (browser form through the gateway; password grant for the bearer token)...")
        with requests.Session() as browser:
            flow = form_login.login(browser, self.stack.url(PAGE), self.stack.username or "", self.stack.password or "")
            if flow.response.status_code != 200:
                raise BenchError(f"login through the gateway ended at {flow.response.status_code}:\n{flow.describe()}")
            value = browser.cookies.get(SESSION_COOKIE)
        if not value:
            raise BenchError("the login set no session cookie")
        self.cookie = f"{SESSION_COOKIE}={value}"
        self.bearer = token_login(
            self.stack.public_url, username=self.stack.username, password=self.stack.password, use_cache=False
        )
        if self.issuer is not None:
            args = self.args
            lifetime = check_variants.token_lifetime(len(SCENARIOS), args.repeat, args.warmup, args.seconds, args.soak)
            self.sa_token = self.issuer.service_account_token(
                check_variants.SA_NAMESPACE, check_variants.SA_NAME, [check_variants.SA_AUDIENCE], lifetime=lifetime
            )

    @property
    def gatekeeper_pid(self) -> int:
        return self.stack.processes.processes["gatekeeper"].pid

    def gatekeeper_rss(self) -> int:
        return process_tree.tree_rss_kib(self.gatekeeper_pid)

    # -- runs ------------------------------------------------------------------------------
    def measure(
        self,
        name: str,
        url: str,
        headers: dict[str, str],
        servers: list[int],
        *,
        expected_outcome: str | None = None,
        check: wrk.ResponseCheck | None = None,
        tolerated_socket_errors: float = 0.0,
        gatekeeper_url: str | None = None,
    ) -> None:
        """Warm-up, then this round's run, kept with the CPU time the `servers` (process trees)
        spent per request in it.

        `expected_outcome`: every check of the run must be counted so by the gatekeeper at
        `gatekeeper_url` (default: the stack's).

        `tolerated_socket_errors` is for Apache only: its event MPM closes a handful of keep-alive
        connections under load (wrk counts a read error and reconnects); never error answers.
        """
        say(f"  {name}: {self.load.warmup}s warm-up + {self.load.seconds}s ...")
        # Warm-up: servers start threads, pools and caches; its errors do not count, the run's do.
        wrk.run(
            url,
            headers,
            seconds=self.load.warmup,
            connections=self.load.connections,
            threads=self.load.threads,
            check=check,
            expect_errors=True,
        )
        counted_at = gatekeeper_url or self.stack.gatekeeper_url
        before = counters.read(counted_at) if expected_outcome else {}
        cpu_before = sum(process_tree.tree_cpu_seconds(pid) for pid in servers)
        result = wrk.run(
            url,
            headers,
            seconds=self.load.seconds,
            connections=self.load.connections,
            threads=self.load.threads,
            check=check,
            tolerated_socket_errors=tolerated_socket_errors,
        )
        cpu_us = (sum(process_tree.tree_cpu_seconds(pid) for pid in servers) - cpu_before) / result.requests * 1e6
        if expected_outcome:
            _, shortfall = counters.verify_outcomes(
                before, counters.read(counted_at), expected_outcome, result.requests
            )
            if shortfall:
                self.shortfalls.setdefault(name, []).append(shortfall)
                say(
                    f"    warning: the gatekeeper counted {shortfall} fewer {expected_outcome!r} checks"
                    f" than the {result.requests} requests wrk completed"
                )
        self.figures.add(name, result, cpu_us)
        say(
            f"    {result.requests_per_second:,.0f} req/s, p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms,"
            f" {cpu_us:.0f} us server CPU per request"
        )

    def floors(self) -> None:
        if self.wanted(report.CADDY):
            with running(lambda: baseline.start_caddy_respond(self.group, self.work)) as (url, pid):
                expect(url + PAGE, {}, 200, "Caddy respond")
                self.measure(report.CADDY, url + PAGE, {}, [pid])
        if self.wanted(report.NOOP):
            with running(lambda: baseline.start_noop_app(self.group, self.work, self.args.workers)) as (url, pid):
                expect(url + PAGE, {}, 200, "do-nothing app")
                self.measure(report.NOOP, url + PAGE, {}, [pid])
        if self.wanted(report.LEAST_CHECK):
            start = lambda: baseline.start_noop_app(self.group, self.work, self.args.workers, least_check=True)  # noqa: E731
            with running(start) as (url, pid):
                expect(url + PAGE, {"Cookie": self.cookie}, 200, "least check")
                self.measure(report.LEAST_CHECK, url + PAGE, {"Cookie": self.cookie}, [pid])

    def checks(self) -> None:
        gk = self.stack.gatekeeper_url
        envoy = f"{gk}{self.stack.prefix}/check{PAGE}"
        forward = f"{gk}{self.stack.prefix}/forward-auth"
        forwarded = {
            "X-Forwarded-Method": "GET",
            "X-Forwarded-Uri": PAGE,
            "X-Forwarded-Proto": "http",
            "X-Forwarded-Host": self.stack.public_url.split("://", 1)[1],
        }
        user = self.stack.username or ""
        plans = [  # (name, url, headers, the user the 200 must name)
            ("check-envoy-cookie", envoy, {"Cookie": self.cookie}, user),
            ("check-forward-auth-cookie", forward, {**forwarded, "Cookie": self.cookie}, user),
            ("check-bearer", envoy, {"Authorization": f"Bearer {self.bearer}"}, user),
            (
                report.SERVICE_ACCOUNT_CHECK,
                envoy,
                {"Authorization": f"Bearer {self.sa_token}"},
                check_variants.service_account_userid(),
            ),
        ]
        for name, url, headers, who in plans:
            if self.wanted(name):
                self.expect_identity(name, expect(url, headers, 200, name), who, assertion=False)
                self.measure(name, url, headers, [self.gatekeeper_pid], expected_outcome="allowed")
        if self.wanted(report.ASSERTION_CHECK):
            self.assertion_check()
        if self.wanted("check-302"):
            answer = expect(envoy, BROWSER, 302, "unauthenticated browser")
            if "set-cookie" not in answer.headers:
                raise BenchError("the 302 to the provider sets no login cookie")
            self.measure(
                "check-302",
                envoy,
                BROWSER,
                [self.gatekeeper_pid],
                expected_outcome="redirected",
                check=wrk.ResponseCheck(302, "set-cookie"),
            )

    def expect_identity(self, name: str, answer: requests.Response, user: str, *, assertion: bool) -> None:
        """The 200 names `user`, and carries an identity assertion exactly when that row is meant to."""
        named = answer.headers.get(self.stack.userid_header)
        if named != user:
            raise BenchError(f"{name}: the 200 names {named!r}, not {user!r}")
        if (check_variants.ASSERTION_HEADER in answer.headers) != assertion:
            raise BenchError(f"{name}: the 200 {'lacks' if assertion else 'carries'} {check_variants.ASSERTION_HEADER}")

    def assertion_check(self) -> None:
        """The session cookie at a second gatekeeper with the identity assertion on, started for
        this round only (as the floors are), its CPU and counters its own."""
        name = report.ASSERTION_CHECK
        env = check_variants.assertion_env(self.assertion_keys)
        with running(lambda: check_variants.start_second_gatekeeper(self.stack, env)) as (gk, pid):
            url, headers = f"{gk}{self.stack.prefix}/check{PAGE}", {"Cookie": self.cookie}
            answer = expect(url, headers, 200, name)
            self.expect_identity(name, answer, self.stack.username or "", assertion=True)
            jwks = expect(f"{gk}{self.stack.prefix}/.well-known/jwks.json", {}, 200, f"{name} JWKS").json()
            check_variants.verify_assertion(
                answer.headers[check_variants.ASSERTION_HEADER],
                jwks,
                issuer=self.stack.public_url,
                audience=self.stack.public_url,
                subject=self.stack.username or "",
            )
            self.measure(name, url, headers, [pid], expected_outcome="allowed", gatekeeper_url=gk)

    def chains(self) -> None:
        plans = []  # (name, style, auth: None | "gatekeeper" | "free")
        for style, (with_auth, direct) in report.CHAINS.items():
            plans += [(direct, style, None), (report.FREE_AUTH[style], style, "free"), (with_auth, style, "gatekeeper")]
        plans = [p for p in plans if self.wanted(p[0])]
        if not plans:
            return
        with running(lambda: baseline.start_caddy_respond(self.group, self.work / "upstream")) as (upstream, up_pid):
            for name, style, auth in plans:
                config = chain.stack_chain_config(
                    self.stack,
                    style,
                    auth is not None,
                    upstream,
                    self.args.gateway_idle_conns,
                    auth_url=upstream if auth == "free" else None,
                )
                with running(lambda c=config: chain.start_chain(self.group, self.work, c)) as (gateway, gw_pid):
                    headers = {"Cookie": self.cookie}
                    expect(gateway + PAGE, {**headers, **BROWSER}, 200, name)
                    if auth == "gatekeeper":
                        expect(gateway + PAGE, BROWSER, 302, f"{name} without a cookie")
                    servers = [gw_pid, up_pid] + ([self.gatekeeper_pid] if auth == "gatekeeper" else [])
                    self.measure(
                        name,
                        gateway + PAGE,
                        headers,
                        servers,
                        expected_outcome="allowed" if auth == "gatekeeper" else None,
                    )

    def mod_auth_openidc(self) -> None:
        if not self.wanted(report.APACHE):
            return
        client = self.apache_client
        with running(
            lambda: (apache.start(self.group, self.work / "apache", client, self.stack.issuer), client.url)
        ) as (_, apache_pid):
            say("  logging in through mod_auth_openidc...")
            cookie = apache.login(client, self.stack.username or "", self.stack.password or "")
            url = client.url + apache.PAGE
            expect(url, {"Cookie": cookie}, 200, "mod_auth_openidc with its session")
            expect(url, BROWSER, 302, "mod_auth_openidc without a session")
            self.measure(report.APACHE, url, {"Cookie": cookie}, [apache_pid], tolerated_socket_errors=0.001)
            expect(url, {"Cookie": cookie}, 200, "mod_auth_openidc's session after the run")

    def soak_run(self) -> None:
        if self.args.soak <= 0:
            return
        url = f"{self.stack.gatekeeper_url}{self.stack.prefix}/check{PAGE}"
        say(f"  soak: session check for {self.args.soak}s, gatekeeper RSS before and after...")
        before = self.gatekeeper_rss()
        checks = counters.read(self.stack.gatekeeper_url)
        result = wrk.run(
            url,
            {"Cookie": self.cookie},
            seconds=self.args.soak,
            connections=self.load.connections,
            threads=self.load.threads,
        )
        self.soak = report.Soak(self.args.soak, before, self.gatekeeper_rss())
        _, shortfall = counters.verify_outcomes(
            checks, counters.read(self.stack.gatekeeper_url), "allowed", result.requests
        )
        if shortfall:
            self.shortfalls.setdefault("soak", []).append(shortfall)

    def run(self) -> None:
        self.start()
        self.rss["before"] = self.gatekeeper_rss()
        for round_ in range(self.args.repeat):
            say(f"measuring, round {round_ + 1} of {self.args.repeat}:")
            self.floors()
            self.checks()
            self.chains()
            self.mod_auth_openidc()
        self.rss["after_runs"] = self.gatekeeper_rss()
        self.soak_run()
        self.rss["after"] = self.gatekeeper_rss()

    def stop(self) -> None:
        try:
            self.group.stop_all()
        finally:
            self.stack.stop()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10, help="length of each measured run (default 10)")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="interleaved rounds: each measures every figure once; figures and ratios are"
        " medians of the rounds, with the lowest and highest (default 3)",
    )
    parser.add_argument("--warmup", type=int, default=3, help="warm-up before each run, not measured (default 3)")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="gatekeeper-workers charm option, also used for the do-nothing app (default 1)",
    )
    parser.add_argument(
        "--soak",
        type=int,
        default=20,
        metavar="SECONDS",
        help="session-check soak for RSS growth; the target is for 60 (default 20, 0 skips)",
    )
    parser.add_argument(
        "--gateway-idle-conns",
        type=int,
        default=chain.CADDY_IDLE_PER_HOST,
        metavar="N",
        help="idle upstream connections each chain proxy keeps per host"
        f" (default {chain.CADDY_IDLE_PER_HOST}, Caddy's own default)",
    )
    parser.add_argument("--skip-apache", action="store_true", help="leave out Apache + mod_auth_openidc")
    parser.add_argument(
        "--only", nargs="+", choices=SCENARIOS, metavar="NAME", help=f"run only these: {', '.join(SCENARIOS)}"
    )
    parser.add_argument("--results-dir", type=Path, default=REPO / "bench-results")
    parser.add_argument("--keep-work", action="store_true", help="keep the work directory (logs, configs)")
    args = parser.parse_args(argv)
    for name in ("seconds", "repeat", "warmup", "connections", "threads", "workers", "gateway_idle_conns"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.soak < 0:
        parser.error("--soak must be 0 (skip) or more seconds")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        check_prerequisites(not args.skip_apache and (not args.only or report.APACHE in args.only))
    except (BenchError, apache.ApacheError) as err:
        say(f"bench: {err}")
        return 2
    load = os.getloadavg()[0]
    warn_about_environment(load)
    work = Path(tempfile.mkdtemp(prefix="dex-auth-bench-"))
    bench = Bench(args, work)
    started = time.time()
    try:
        bench.run()
    except Exception as err:
        say(f"bench: failed: {type(err).__name__}: {err}\nlogs: {work / 'logs'} and {work / 'stack' / 'logs'}")
        args.keep_work = True
        return 1
    finally:
        bench.stop()
        if not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)
    found = report.targets(bench.figures, bench.soak)
    out = save_results(args, bench, found, load, round(time.time() - started))
    print_summary(args, bench, found)
    print(f"\nresults: {out}")
    return 0


def warn_about_environment(load: float) -> None:
    if load > 0.5:
        say(
            f"bench: warning: load average is {load:.2f} before starting; other work on this machine"
            " will lower every figure (ratios suffer less, but still)"
        )
    if granian_event_loop() != "asyncio":
        say(
            f"bench: warning: {granian_event_loop()} is installed in this environment and granian will use it;"
            " the gatekeeper image runs asyncio"
        )


def save_results(
    args: argparse.Namespace, bench: Bench, found: list[report.Target], load: float, duration_s: int
) -> Path:
    # Only the second gatekeeper of the assertion row has it on; the stack's never does.
    assertion_header = check_variants.ASSERTION_HEADER if report.ASSERTION_CHECK in bench.figures else ""
    settings = {
        "load_average_1m_at_start": round(load, 2),
        "seconds": args.seconds,
        "repeat": args.repeat,
        "warmup": args.warmup,
        "connections": args.connections,
        "threads": args.threads,
        "gatekeeper_workers": args.workers,
        "gateway_idle_conns_per_host": args.gateway_idle_conns,
        "soak_seconds": args.soak,
        "extra_jwt_issuers": bench.stack.charm_config.get("extra-jwt-issuers", ""),
        "identity_assertion_header": assertion_header,
        "duration_s": duration_s,
    }
    data = report.as_json(bench.figures, found, bench.soak, bench.rss, settings, machine_facts())
    data["counter_shortfalls"] = bench.shortfalls
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / (datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + ".json")
    out.write_text(json.dumps(data, indent=2) + "\n")
    return out


def print_summary(args: argparse.Namespace, bench: Bench, found: list[report.Target]) -> None:
    repeat = f", median (lowest-highest) of {args.repeat} interleaved rounds" if args.repeat > 1 else ", one round"
    print(
        f"\nwrk -t{args.threads} -c{args.connections}, {args.seconds}s per run{repeat} after {args.warmup}s warm-up;"
        f" gatekeeper workers: {args.workers} ({granian_event_loop()} event loop);"
        f" {os.cpu_count()} CPUs shared by everything\n"
    )
    print(report.markdown_table(bench.figures))
    versus = report.next_to_session_cookie_table(report.next_to_session_cookie(bench.figures))
    if versus:
        print("\n" + versus)
    for name, runs in bench.figures.runs.items():
        errors, requests_ = sum(r.socket_errors for r in runs), sum(r.requests for r in runs)
        if errors:
            print(
                f"{name}: {errors} of {requests_:,} requests met a closed keep-alive"
                " connection (wrk read errors; it reconnected)"
            )
    for name, shortfalls in bench.shortfalls.items():
        print(
            f"{name}: the gatekeeper's counters fell short of wrk's completed requests by {shortfalls}"
            " in some runs (see counters.py)"
        )
    rss = ", ".join(f"{k} {v / 1024:.1f} MiB" for k, v in bench.rss.items())
    print(f"\ngatekeeper RSS (process + workers): {rss}")
    if bench.soak is not None:
        print(
            f"soak of {bench.soak.seconds}s: {bench.soak.rss_before_kib / 1024:.1f} -> "
            f"{bench.soak.rss_after_kib / 1024:.1f} MiB ({bench.soak.growth_mib:+.1f} MiB)"
        )
    costs = report.chain_costs_text(report.chain_costs(bench.figures))
    if costs:
        print("\n" + costs)
    print("\n" + report.targets_table(found))


if __name__ == "__main__":
    sys.exit(main())

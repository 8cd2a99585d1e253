"""Ratios, targets (issue 6) and the printed/JSON forms of one benchmark run. Pure: no processes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from bench.wrk import WrkResult

CADDY = "caddy-respond"
APACHE = "apache-openidc"
SESSION_CHECKS = ("check-envoy-cookie", "check-forward-auth-cookie")
CHAINS = {
    "ambassador": ("chain-ambassador-auth", "chain-ambassador-direct"),
    "forward-auth": ("chain-forward-auth-auth", "chain-forward-auth-direct"),
}
FREE_AUTH = {"ambassador": "chain-ambassador-freeauth", "forward-auth": "chain-forward-auth-freeauth"}

LABELS = {
    CADDY: "Caddy `respond 200` (floor of an HTTP round trip)",
    "noop-granian": "do-nothing RSGI app on granian (gatekeeper's server stack)",
    "check-envoy-cookie": "gatekeeper check, session cookie, Envoy style",
    "check-forward-auth-cookie": "gatekeeper check, session cookie, forward-auth style",
    "check-bearer": "gatekeeper check, bearer ID token (RS256), Envoy style",
    "check-302": "gatekeeper, unauthenticated browser: 302 + login cookie",
    "chain-ambassador-direct": "chain: Caddy (Ambassador emulation) -> upstream, no auth hop",
    "chain-ambassador-freeauth": "chain: Caddy (Ambassador emulation) -> `respond 200` as auth -> upstream",
    "chain-ambassador-auth": "chain: Caddy (Ambassador emulation) -> gatekeeper -> upstream",
    "chain-forward-auth-direct": "chain: Caddy -> upstream, no auth hop",
    "chain-forward-auth-freeauth": "chain: Caddy forward_auth -> `respond 200` as auth -> upstream",
    "chain-forward-auth-auth": "chain: Caddy forward_auth -> gatekeeper -> upstream",
    APACHE: "Apache + mod_auth_openidc, valid session (client-cookie)",
}

MIN_X_CADDY = 0.6
MIN_X_APACHE = 3.0
MAX_P99_MS = 5.0
MAX_RSS_GROWTH_MIB = 10.0
SOAK_TARGET_SECONDS = 60
MIN_CHAIN_FRACTION = 0.5


@dataclass(frozen=True)
class Soak:
    seconds: int
    rss_before_kib: int
    rss_after_kib: int

    @property
    def growth_mib(self) -> float:
        return (self.rss_after_kib - self.rss_before_kib) / 1024


@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    wanted: str
    passed: bool
    note: str = ""

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "MISS"


def median_run(runs: list[WrkResult]) -> WrkResult:
    """The run with the median rate (the lower middle one of an even count): a real run, not a blend."""
    if not runs:
        raise ValueError("no runs to choose from")
    ordered = sorted(runs, key=lambda r: r.requests_per_second)
    return ordered[(len(ordered) - 1) // 2]


def ratio(results: Mapping[str, WrkResult], name: str, reference: str) -> float | None:
    if name not in results or reference not in results or results[reference].requests_per_second <= 0:
        return None
    return results[name].requests_per_second / results[reference].requests_per_second


def cpu_ratio(cpu_us: Mapping[str, float], cheaper: str, dearer: str) -> float | None:
    """How many times less server CPU per request `cheaper` needs than `dearer`."""
    if cheaper not in cpu_us or dearer not in cpu_us or cpu_us[cheaper] <= 0:
        return None
    return cpu_us[dearer] / cpu_us[cheaper]


def targets(
    results: Mapping[str, WrkResult], soak: Soak | None, cpu_us: Mapping[str, float] | None = None
) -> list[Target]:
    """Issue 6's targets, for whatever this run measured (a skipped part yields no target).

    The targets are on req/s. With `cpu_us`, each ratio is also given on server CPU time per
    request, which other load on the machine disturbs far less (marked "by CPU").
    """
    cpu_us = cpu_us or {}
    out: list[Target] = []
    for name in SESSION_CHECKS:
        if name not in results:
            continue
        for floor, label, minimum in (
            (CADDY, "Caddy respond 200", MIN_X_CADDY),
            (APACHE, "mod_auth_openidc", MIN_X_APACHE),
        ):
            for how, measured in (("", ratio(results, name, floor)), (", by CPU", cpu_ratio(cpu_us, name, floor))):
                if measured is not None:
                    out.append(
                        Target(
                            f"{name} >= {minimum:g}x {label}{how}",
                            f"{measured:.2f}x",
                            f">= {minimum:g}x",
                            measured >= minimum,
                        )
                    )
        p99 = results[name].p99_ms
        out.append(
            Target(
                f"{name} p99 < {MAX_P99_MS:g} ms at 50 connections",
                f"{p99:.2f} ms",
                f"< {MAX_P99_MS:g} ms",
                p99 < MAX_P99_MS,
            )
        )
    if soak is not None:
        note = (
            ""
            if soak.seconds >= SOAK_TARGET_SECONDS
            else (f"measured over {soak.seconds} s, shorter than the target's {SOAK_TARGET_SECONDS} s (use --soak 60)")
        )
        out.append(
            Target(
                f"gatekeeper RSS growth < {MAX_RSS_GROWTH_MIB:g} MB over a {soak.seconds} s session-check soak",
                f"{soak.growth_mib:+.1f} MiB",
                f"< {MAX_RSS_GROWTH_MIB:g} MiB",
                soak.growth_mib < MAX_RSS_GROWTH_MIB,
                note,
            )
        )
    for style, (with_auth, direct) in CHAINS.items():
        fraction = ratio(results, with_auth, direct)
        if fraction is not None:
            cost = 1 / fraction if fraction > 0 else float("inf")
            out.append(
                Target(
                    f"chain ({style}) with auth hop costs <= 2x the chain without",
                    f"{cost:.2f}x cost ({fraction:.3f}x the req/s)",
                    f"<= {1 / MIN_CHAIN_FRACTION:g}x cost",
                    fraction >= MIN_CHAIN_FRACTION,
                )
            )
        by_cpu = cpu_ratio(cpu_us, direct, with_auth)
        if by_cpu is not None:
            out.append(
                Target(
                    f"chain ({style}) with auth hop costs <= 2x the chain without, by CPU",
                    f"{by_cpu:.2f}x cost",
                    f"<= {1 / MIN_CHAIN_FRACTION:g}x cost",
                    by_cpu <= 1 / MIN_CHAIN_FRACTION,
                )
            )
    return out


@dataclass(frozen=True)
class ChainCost:
    """Wall-clock microseconds per request at saturation (1e6 / req/s) of one chain style, split."""

    style: str
    direct_us: float
    auth_us: float
    free_auth_us: float | None

    @property
    def gateway_hop_us(self) -> float | None:
        """What the gateway's own sub-request costs, with an auth service that does nothing."""
        return None if self.free_auth_us is None else self.free_auth_us - self.direct_us

    @property
    def gatekeeper_us(self) -> float | None:
        """What the gatekeeper adds on top of a do-nothing auth service."""
        return None if self.free_auth_us is None else self.auth_us - self.free_auth_us


def chain_costs(results: Mapping[str, WrkResult]) -> list[ChainCost]:
    out = []
    for style, (with_auth, direct) in CHAINS.items():
        if with_auth in results and direct in results:
            free = results.get(FREE_AUTH[style])
            out.append(
                ChainCost(
                    style,
                    1e6 / results[direct].requests_per_second,
                    1e6 / results[with_auth].requests_per_second,
                    None if free is None else 1e6 / free.requests_per_second,
                )
            )
    return out


def chain_costs_text(costs: list[ChainCost]) -> str:
    lines = []
    for c in costs:
        line = f"chain ({c.style}): {c.direct_us:.0f} us/request without the auth hop, {c.auth_us:.0f} with it"
        if c.gateway_hop_us is not None and c.gatekeeper_us is not None:
            line += (
                f"; of the {c.auth_us - c.direct_us:.0f} us added, the gateway's sub-request to a do-nothing"
                f" auth service is {c.gateway_hop_us:.0f} and the gatekeeper {c.gatekeeper_us:.0f}"
            )
        lines.append(line)
    return "\n".join(lines)


def _fmt_ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}x"


def markdown_table(results: Mapping[str, WrkResult], cpu_us: Mapping[str, float] | None = None) -> str:
    """One row per figure; `cpu_us` is the server side's CPU time per request (all its processes)."""
    cpu_us = cpu_us or {}
    lines = [
        "| what | req/s | p50 ms | p99 ms | x Caddy | x mod_auth_openidc | server CPU us/req |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, result in results.items():
        cpu = f"{cpu_us[name]:.0f}" if name in cpu_us else ""
        lines.append(
            f"| {LABELS.get(name, name)} | {result.requests_per_second:,.0f} | {result.p50_ms:.2f} | "
            f"{result.p99_ms:.2f} | {_fmt_ratio(ratio(results, name, CADDY))} | "
            f"{_fmt_ratio(ratio(results, name, APACHE))} | {cpu} |"
        )
    return "\n".join(lines)


def targets_table(found: list[Target]) -> str:
    lines = ["| target | measured | wanted | verdict |", "|---|---:|---:|---|"]
    for target in found:
        note = f" ({target.note})" if target.note else ""
        lines.append(f"| {target.name}{note} | {target.measured} | {target.wanted} | {target.verdict} |")
    return "\n".join(lines)


def as_json(
    results: Mapping[str, WrkResult],
    found: list[Target],
    soak: Soak | None,
    rss: Mapping[str, int],
    settings: Mapping[str, object],
    machine: Mapping[str, object],
    cpu_us: Mapping[str, float] | None = None,
) -> dict:
    return {
        "settings": dict(settings),
        "machine": dict(machine),
        "results": {
            name: {
                **r.as_dict(),
                "label": LABELS.get(name, name),
                "server_cpu_us_per_request": (cpu_us or {}).get(name),
                "x_caddy": ratio(results, name, CADDY),
                "x_mod_auth_openidc": ratio(results, name, APACHE),
            }
            for name, r in results.items()
        },
        "gatekeeper_rss_kib": dict(rss),
        "soak": None if soak is None else {**asdict(soak), "growth_mib": round(soak.growth_mib, 2)},
        "targets": [{**asdict(t), "verdict": t.verdict} for t in found],
        "chain_costs_us": [
            {**asdict(c), "gateway_hop_us": c.gateway_hop_us, "gatekeeper_us": c.gatekeeper_us}
            for c in chain_costs(results)
        ],
    }

"""The gatekeeper's own count of check outcomes (its /metrics), to prove what a wrk run measured.

wrk only knows "2xx/3xx or not": a session check that silently turned into a 302 would still
count as a success. The gatekeeper counts every check by outcome, so the difference of its
counters across a run says exactly how many answers were allowed, redirected, refused.
"""

from __future__ import annotations

import re

import requests

_CHECK = re.compile(r'^gatekeeper_checks_total\{outcome="([^"]+)"\}\s+([0-9.eE+]+)$', re.M)


class CounterError(RuntimeError):
    """The counters are missing, or a run produced other outcomes than expected."""


def check_outcomes(metrics_text: str) -> dict[str, int]:
    found = {name: int(float(value)) for name, value in _CHECK.findall(metrics_text)}
    if not found:
        raise CounterError("the gatekeeper's /metrics has no gatekeeper_checks_total lines")
    return found


def read(gatekeeper_url: str) -> dict[str, int]:
    response = requests.get(gatekeeper_url + "/metrics", timeout=5)
    response.raise_for_status()
    return check_outcomes(response.text)


MAX_SHORTFALL = 0.05


def verify_outcomes(before: dict[str, int], after: dict[str, int], expected: str, completed: int) -> tuple[int, int]:
    """Every check of the run had the `expected` outcome; returns (how many, how many short of wrk's).

    The counters may exceed wrk's count by the requests still in flight when wrk stopped. They
    have also, rarely, fallen about 1% short of it in the forward_auth chain (docs/benchmark.md):
    a shortfall up to MAX_SHORTFALL is returned for the report to show; more means answers that
    did not come from the gatekeeper, and fails the run.
    """
    delta = {name: after.get(name, 0) - before.get(name, 0) for name in after}
    others = {name: n for name, n in delta.items() if name != expected and n}
    if others:
        raise CounterError(f"expected only {expected!r} checks, the gatekeeper also counted {others}")
    counted = delta.get(expected, 0)
    shortfall = max(0, completed - counted)
    if shortfall > MAX_SHORTFALL * completed:
        raise CounterError(
            f"wrk completed {completed} requests but the gatekeeper counted only {counted} {expected!r} checks"
        )
    return counted, shortfall

"""Prometheus counters and a latency histogram, kept as plain numbers (cheap on the hot path).

Each worker process counts for itself; with GATEKEEPER_WORKERS > 1 a scrape sees one worker.
"""

from __future__ import annotations

from bisect import bisect_left

LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
CHECK_OUTCOMES = ("allowed", "skipped", "redirected", "unauthorized", "forbidden", "unavailable", "bad_request")


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    def __init__(self) -> None:
        self.checks: dict[str, int] = dict.fromkeys(CHECK_OUTCOMES, 0)
        self.logins = dict.fromkeys(("success", "failure"), 0)
        self.logouts = 0
        self.token_errors: dict[str, int] = {}
        self._bucket_counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self._latency_sum = 0.0
        self._allowed = 0

    def check(self, outcome: str, seconds: float) -> None:
        self.checks[outcome] = self.checks.get(outcome, 0) + 1
        self._bucket_counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self._latency_sum += seconds

    def allowed(self, seconds: float) -> None:
        """check("allowed", ...) for the hot path, counted apart to save a dict update."""
        self._allowed += 1
        self._bucket_counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self._latency_sum += seconds

    def token_error(self, reason: str) -> None:
        if reason in self.token_errors or len(self.token_errors) < 50:
            self.token_errors[reason] = self.token_errors.get(reason, 0) + 1

    def render(self) -> str:
        lines = [
            "# HELP gatekeeper_checks_total Auth checks answered, by outcome.",
            "# TYPE gatekeeper_checks_total counter",
        ]
        counts = {**self.checks, "allowed": self.checks["allowed"] + self._allowed}
        lines += [f'gatekeeper_checks_total{{outcome="{_label(k)}"}} {v}' for k, v in counts.items()]
        lines += [
            "# HELP gatekeeper_check_duration_seconds Time to answer an auth check.",
            "# TYPE gatekeeper_check_duration_seconds histogram",
        ]
        running = 0
        for bound, count in zip(LATENCY_BUCKETS, self._bucket_counts, strict=False):
            running += count
            lines.append(f'gatekeeper_check_duration_seconds_bucket{{le="{bound}"}} {running}')
        running += self._bucket_counts[-1]
        lines += [
            f'gatekeeper_check_duration_seconds_bucket{{le="+Inf"}} {running}',
            f"gatekeeper_check_duration_seconds_sum {self._latency_sum!r}",
            f"gatekeeper_check_duration_seconds_count {running}",
            "# HELP gatekeeper_logins_total Completed login callbacks, by result.",
            "# TYPE gatekeeper_logins_total counter",
        ]
        lines += [f'gatekeeper_logins_total{{result="{k}"}} {v}' for k, v in self.logins.items()]
        lines += [
            "# HELP gatekeeper_logouts_total Logouts served.",
            "# TYPE gatekeeper_logouts_total counter",
            f"gatekeeper_logouts_total {self.logouts}",
            "# HELP gatekeeper_token_errors_total Tokens and cookies refused, by reason.",
            "# TYPE gatekeeper_token_errors_total counter",
        ]
        lines += [f'gatekeeper_token_errors_total{{reason="{_label(k)}"}} {v}' for k, v in self.token_errors.items()]
        return "\n".join(lines) + "\n"

"""Turn what Pebble's checks report about Dex and the gatekeeper into a unit status.

Pure (no `ops`): the charm hands over each check's counters and the last line Pebble logged for
it, and gets back a level and a message a user can act on. A running process is not a working
one: Dex deployed without `--trust` keeps running, retries its Kubernetes storage every 30 s,
and answers 503 on `/healthz`; only the check says so.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

Level = Literal["active", "waiting", "blocked"]


@dataclass(frozen=True)
class CheckReport:
    """One Pebble check as the charm read it; `successes` is None where Pebble does not count."""

    name: str
    up: bool
    failures: int
    threshold: int
    successes: int | None = None
    last_log: str = ""


@dataclass(frozen=True)
class WorkloadStatus:
    level: Level
    message: str


MAX_REASON = 160
# Pebble's task log lines: "<RFC 3339 time> <KIND> <message>" (internals/overlord/state/task.go).
_TASK_LOG_PREFIX = re.compile(r"^\S+ (?:ERROR|INFO) ")


def failure_reason(last_log: str) -> str:
    """The check's error as Pebble logged it, shortened for `juju status`.

    An HTTP check logs "non-2xx status code N; <first lines of the body>"
    (internals/overlord/checkstate/checkers.go); a body in JSON is reduced to its error messages.
    """
    text = _TASK_LOG_PREFIX.sub("", last_log.strip(), count=1)
    head, _, body = text.partition("; ")
    messages = _error_messages(body)
    reason = f"{head}: {'; '.join(messages)}" if messages else text
    reason = " ".join(reason.split())
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 1] + "…"


def _error_messages(body: str) -> list[str]:
    """Dex's /healthz body maps each health check (only "storage") to its result."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return []
    if not isinstance(parsed, dict):
        return []
    found = []
    for name, result in parsed.items():
        if not isinstance(result, dict):
            continue
        error = result.get("error")
        if isinstance(error, dict):
            error = error.get("message")
        if error:
            found.append(f"{name}: {error}")
    return found


def dex_status(check: CheckReport, app_name: str) -> WorkloadStatus:
    """Dex's /healthz runs one health check, its storage (cmd/dex/serve.go, storage/health.go).

    So an HTTP error there is the storage failing, which on Kubernetes means the CRDs could not
    be created: the app lacks `--trust`. Any other error means Dex is not answering at all.
    """
    if not check.up:
        reason = failure_reason(check.last_log)
        if reason and not reason.startswith("non-2xx"):
            return WorkloadStatus("blocked", f"dex does not answer its health check: {reason} (see juju debug-log)")
        detail = f" ({reason})" if reason else ""
        return WorkloadStatus(
            "blocked",
            f"dex storage is failing{detail}; was {app_name} deployed with --trust? "
            f"run: juju trust {app_name} --scope=cluster",
        )
    if check.successes == 0:
        return WorkloadStatus("waiting", "dex is starting")
    return WorkloadStatus("active", "")


def gatekeeper_status(check: CheckReport) -> WorkloadStatus:
    """Not ready usually means it cannot reach Dex yet, which Dex's own status explains."""
    if not check.up:
        reason = failure_reason(check.last_log) or "its readiness check fails"
        return WorkloadStatus("waiting", f"gatekeeper is not ready: {reason}")
    if check.successes == 0:
        return WorkloadStatus("waiting", "gatekeeper is starting")
    return WorkloadStatus("active", "")


def store_status(check: CheckReport) -> WorkloadStatus:
    """The gatekeeper keeps serving without Redis; the unit says so and why, and stays active.

    Its `/readyz/store` answers "revocation store unreachable: <reason>" (gatekeeper/operations.py),
    a reason made of fixed phrases that never carry the URL or the password.
    """
    if check.up:
        return WorkloadStatus("active", "")
    reason = failure_reason(check.last_log)
    head, _, body = reason.partition("; ")
    reason = (body or head).removeprefix("revocation store unreachable: ") or "its check fails"
    return WorkloadStatus("active", f"degraded: {reason}; logouts stay on this unit until Redis answers")

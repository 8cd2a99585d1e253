"""Check reports as Pebble gives them, turned into statuses a user can act on."""

from __future__ import annotations

from workload_status import MAX_REASON, CheckReport, dex_status, failure_reason, gatekeeper_status, store_status

# Pebble's task log format (internals/overlord/state/task.go) around an HTTP check's error
# (internals/overlord/checkstate/checkers.go); the body is Dex's /healthz JSON.
DEX_503 = (
    '2026-12-02T07:00:00Z ERROR non-2xx status code 503; {"storage":{"message":"failed",'
    '"error":{"message":"create auth request: authrequests.dex.coreos.com is forbidden"}}}'
)
REFUSED = (
    '2026-12-02T07:00:00Z ERROR Get "http://localhost:5558/healthz": dial tcp [::1]:5558: connect: connection refused'
)


def down(log: str) -> CheckReport:
    return CheckReport("dex-ready", up=False, failures=3, threshold=3, successes=0, last_log=log)


def test_the_reason_is_the_error_without_pebble_prefix() -> None:
    assert failure_reason(DEX_503) == (
        "non-2xx status code 503: storage: create auth request: authrequests.dex.coreos.com is forbidden"
    )
    assert failure_reason("2026-12-02T07:00:00Z ERROR non-2xx status code 503; not ready: timeout") == (
        "non-2xx status code 503; not ready: timeout"
    )


def test_a_long_reason_is_cut() -> None:
    reason = failure_reason("2026-12-02T07:00:00Z ERROR non-2xx status code 500; " + "x" * 1000)
    assert len(reason) == MAX_REASON and reason.endswith("…")


def test_dex_storage_failure_gives_the_trust_hint_with_dexs_reason() -> None:
    status = dex_status(down(DEX_503), "auth")
    assert status.level == "blocked"
    assert "forbidden" in status.message and "juju trust auth --scope=cluster" in status.message


def test_dex_not_answering_is_not_blamed_on_trust() -> None:
    status = dex_status(down(REFUSED), "auth")
    assert status.level == "blocked" and "trust" not in status.message and "connection refused" in status.message


def test_starting_and_ready() -> None:
    starting = CheckReport("dex-ready", up=True, failures=0, threshold=3, successes=0)
    assert dex_status(starting, "auth").level == "waiting"
    assert gatekeeper_status(starting).message == "gatekeeper is starting"
    ready = CheckReport("dex-ready", up=True, failures=1, threshold=3, successes=4)
    assert dex_status(ready, "auth").level == "active" and gatekeeper_status(ready).level == "active"


def test_gatekeeper_not_ready_waits_and_says_why() -> None:
    log = "2026-12-02T07:00:00Z ERROR non-2xx status code 503; not ready: discovery: connection refused"
    status = gatekeeper_status(CheckReport("gatekeeper-ready", up=False, failures=3, threshold=3, last_log=log))
    assert status.level == "waiting" and "discovery: connection refused" in status.message


def test_a_store_that_is_away_keeps_the_unit_active_and_says_why() -> None:
    """The body is what the gatekeeper's /readyz/store answers while Redis is away (operations.py)."""
    log = (
        "2026-12-02T07:00:00Z ERROR non-2xx status code 503; "
        "revocation store unreachable: cannot connect to Redis, or the connection was lost"
    )
    report = CheckReport("gatekeeper-store", up=False, failures=3, threshold=3, successes=0, last_log=log)
    verdict = store_status(report)
    assert verdict.level == "active"
    assert verdict.message == (
        "degraded: cannot connect to Redis, or the connection was lost; logouts stay on this unit until Redis answers"
    )
    assert store_status(CheckReport("gatekeeper-store", up=True, failures=0, threshold=3)).message == ""

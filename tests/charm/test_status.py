"""The unit's status follows the workloads' Pebble checks, not only whether the processes run."""

from __future__ import annotations

import dataclasses
import pathlib

from charm_state import context, state
from ops import pebble, testing


def settled(tmp_path: pathlib.Path) -> testing.State:
    return context().run(context().on.config_changed(), state(tmp_path))


def with_check(
    out: testing.State,
    container: str,
    check: str,
    *,
    status: pebble.CheckStatus = pebble.CheckStatus.UP,
    successes: int | None = 5,
    failures: int = 0,
) -> testing.State:
    target = out.get_container(container)
    infos = {info for info in target.check_infos if info.name != check}
    infos.add(
        testing.CheckInfo(
            check, level=pebble.CheckLevel.READY, status=status, successes=successes, failures=failures, threshold=3
        )
    )
    return dataclasses.replace(
        out,
        containers={
            dataclasses.replace(c, check_infos=frozenset(infos)) if c.name == container else c for c in out.containers
        },
    )


def status_after(out: testing.State) -> testing.StatusBase:
    return context().run(context().on.update_status(), out).unit_status


def test_active_only_when_both_readiness_checks_pass(tmp_path: pathlib.Path) -> None:
    out = with_check(with_check(settled(tmp_path), "dex", "dex-ready"), "gatekeeper", "gatekeeper-ready")
    assert status_after(out) == testing.ActiveStatus()


def test_a_failing_dex_storage_check_is_blocked_with_the_trust_hint(tmp_path: pathlib.Path) -> None:
    out = with_check(settled(tmp_path), "dex", "dex-ready", status=pebble.CheckStatus.DOWN, successes=0, failures=3)
    status = status_after(out)
    assert isinstance(status, testing.BlockedStatus)
    assert "dex storage is failing" in status.message
    assert "--trust" in status.message and "juju trust dex-auth --scope=cluster" in status.message


def test_waiting_while_dex_has_not_passed_its_first_check(tmp_path: pathlib.Path) -> None:
    out = with_check(settled(tmp_path), "dex", "dex-ready", successes=0)
    assert status_after(out) == testing.WaitingStatus("dex is starting")


def test_waiting_while_the_gatekeeper_is_not_ready(tmp_path: pathlib.Path) -> None:
    out = with_check(
        settled(tmp_path), "gatekeeper", "gatekeeper-ready", status=pebble.CheckStatus.DOWN, successes=0, failures=3
    )
    status = status_after(out)
    assert isinstance(status, testing.WaitingStatus) and status.message.startswith("gatekeeper is not ready")


def test_dex_blocked_wins_over_the_gatekeeper_waiting_for_it(tmp_path: pathlib.Path) -> None:
    out = with_check(settled(tmp_path), "dex", "dex-ready", status=pebble.CheckStatus.DOWN, successes=0, failures=3)
    out = with_check(out, "gatekeeper", "gatekeeper-ready", status=pebble.CheckStatus.DOWN, successes=0, failures=3)
    assert isinstance(status_after(out), testing.BlockedStatus)


def test_both_workloads_have_a_readiness_check(tmp_path: pathlib.Path) -> None:
    out = settled(tmp_path)
    assert out.get_container("dex").plan.checks["dex-ready"].http["url"].endswith(":5558/healthz")
    assert out.get_container("gatekeeper").plan.checks["gatekeeper-ready"].http["url"].endswith(":8080/readyz")

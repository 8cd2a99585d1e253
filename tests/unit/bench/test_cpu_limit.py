"""The CPU limit is written as the kubelet writes it, in either cgroup layout."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from bench.cpu_limit import CpuLimit, CpuLimitError


def test_cgroup_v1_gets_a_cfs_quota_of_the_limit_per_100_ms(tmp_path: Path) -> None:
    (tmp_path / "cpu").mkdir()
    limit = CpuLimit(1.5, root=tmp_path)
    assert (limit.path / "cpu.cfs_quota_us").read_text() == "150000\n"
    assert (limit.path / "cpu.cfs_period_us").read_text() == "100000\n"
    assert limit.path.parent == tmp_path / "cpu"


def test_cgroup_v2_gets_cpu_max(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    limit = CpuLimit(1, root=tmp_path)
    assert (limit.path / "cpu.max").read_text() == "100000 100000\n"


def test_throttled_periods_are_read_from_cpu_stat(tmp_path: Path) -> None:
    (tmp_path / "cpu").mkdir()
    limit = CpuLimit(1, root=tmp_path)
    (limit.path / "cpu.stat").write_text("nr_periods 31\nnr_throttled 30\nthrottled_time 2970037504\n")
    assert limit.throttled_periods() == 30


def test_no_writable_cgroup_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CpuLimitError, match="cannot set a CPU quota"):
        CpuLimit(1, root=tmp_path / "absent")


def test_a_real_quota_throttles_a_busy_process() -> None:
    """On this machine's own cgroups: two busy loops under one core's quota wait for their periods."""
    try:
        limit = CpuLimit(0.5)
    except CpuLimitError as exc:
        pytest.fail(f"the scale benchmark's CPU-limit rows need a writable cgroup here: {exc}")
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        limit.add([busy.pid])
        time.sleep(0.6)
        assert limit.throttled_periods() >= 2
    finally:
        busy.kill()
        busy.wait()
        limit.close()
    assert not limit.path.exists()

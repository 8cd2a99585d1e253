"""A unit's CPU limit, as Kubernetes sets it: a CFS quota on the container's cgroup.

The kubelet turns `limits.cpu: N` into a quota of N x 100 ms per 100 ms period (its default
--cpu-cfs-quota-period) on the container's cgroup; a process that spends its quota waits for the
next period. Putting the gatekeeper's processes in a cgroup with that quota reproduces it here
(cgroup v1's cpu controller or cgroup v2's cpu.max, whichever the machine mounts writable).
"""

from __future__ import annotations

import os
from pathlib import Path

PERIOD_US = 100_000
CGROUP_ROOT = Path("/sys/fs/cgroup")


class CpuLimitError(RuntimeError):
    """This machine gives no writable cgroup with a CPU controller."""


class CpuLimit:
    def __init__(self, cpus: float, root: Path = CGROUP_ROOT) -> None:
        quota = int(cpus * PERIOD_US)
        v2 = (root / "cgroup.controllers").exists() and "cpu" in (root / "cgroup.controllers").read_text().split()
        parent = root if v2 else root / "cpu"
        self.path = parent / f"dex-auth-bench-{os.getpid()}-{quota}"
        self.parent = parent
        try:
            self.path.mkdir(exist_ok=True)
            if v2:
                (self.path / "cpu.max").write_text(f"{quota} {PERIOD_US}\n")
            else:
                (self.path / "cpu.cfs_period_us").write_text(f"{PERIOD_US}\n")
                (self.path / "cpu.cfs_quota_us").write_text(f"{quota}\n")
        except OSError as exc:
            raise CpuLimitError(f"cannot set a CPU quota under {parent}: {exc}") from exc
        self.cpus = cpus

    def add(self, pids: list[int]) -> None:
        for pid in pids:
            (self.path / "cgroup.procs").write_text(f"{pid}\n")

    def throttled_periods(self) -> int:
        """Periods in which the processes used up their quota and waited (cpu.stat)."""
        for line in (self.path / "cpu.stat").read_text().splitlines():
            name, value = line.split()
            if name in ("nr_throttled",):
                return int(value)
        raise CpuLimitError(f"no nr_throttled in {self.path / 'cpu.stat'}")

    def close(self) -> None:
        """Hand any process left back to the parent cgroup, then remove this one."""
        procs = self.path / "cgroup.procs"
        if procs.exists():
            for pid in procs.read_text().split():
                try:
                    (self.parent / "cgroup.procs").write_text(f"{pid}\n")
                except OSError:
                    continue  # gone meanwhile
            self.path.rmdir()

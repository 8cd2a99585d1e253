"""Memory and CPU time of a process and everything it spawned (granian runs its workers as children).

CPU time per request is disturbed less than req/s by other work on a shared machine (it does not
count the time spent waiting for a core), though contention still inflates it somewhat.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

PROC = Path("/proc")


class ProcReadError(RuntimeError):
    """/proc did not say what was expected about a process."""


def vm_rss_kib(status_text: str) -> int:
    """The VmRSS line of /proc/<pid>/status, in KiB."""
    match = re.search(r"^VmRSS:\s+(\d+)\s+kB$", status_text, re.M)
    if match is None:
        raise ProcReadError("no VmRSS line in the process status (a kernel thread or a zombie?)")
    return int(match[1])


def _stat_fields(stat_text: str) -> list[str]:
    """Fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses)."""
    return stat_text[stat_text.rindex(")") + 2 :].split()


def parent_pid(stat_text: str) -> int:
    return int(_stat_fields(stat_text)[1])


def cpu_ticks(stat_text: str) -> int:
    """utime + stime of /proc/<pid>/stat (fields 14 and 15), in clock ticks."""
    fields = _stat_fields(stat_text)
    return int(fields[11]) + int(fields[12])


def descendants(root: int, parents: dict[int, int]) -> list[int]:
    """`root` and every pid below it, given each pid's parent."""
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return sorted(found)


def parents(proc: Path = PROC) -> dict[int, int]:
    parents = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = parent_pid((entry / "stat").read_text())
            except (FileNotFoundError, ProcessLookupError, ValueError):
                continue  # gone meanwhile
    return parents


def tree_rss_kib(root: int, proc: Path = PROC) -> int:
    """Sum of VmRSS over `root` and its descendants (shared pages counted once per process)."""
    if not (proc / str(root)).exists():
        raise ProcReadError(f"process {root} is not running")
    total = 0
    for pid in descendants(root, parents(proc)):
        try:
            total += vm_rss_kib((proc / str(pid) / "status").read_text())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def tree_cpu_seconds(root: int, proc: Path = PROC) -> float:
    """CPU time (user + system) used so far by `root` and its live descendants."""
    if not (proc / str(root)).exists():
        raise ProcReadError(f"process {root} is not running")
    ticks = 0
    for pid in descendants(root, parents(proc)):
        try:
            ticks += cpu_ticks((proc / str(pid) / "stat").read_text())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")

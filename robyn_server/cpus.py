"""How many CPUs this process may use, counted as Robyn's Rust side counts them (the
stream cap in config.py is derived from it)."""

from __future__ import annotations

import os
from pathlib import Path

# Where the CPU quota is read (tests point these elsewhere).
PROC_CGROUP = Path("/proc/self/cgroup")
CGROUP_ROOT = Path("/sys/fs/cgroup")


def _cgroup_cpu_limit() -> int | None:
    """The CPU quota of this process's cgroups in whole CPUs (at least 1), as Rust's
    `available_parallelism` reads it: cgroup v2 `cpu.max`, or v1 `cpu.cfs_quota_us` over
    `cpu.cfs_period_us`, the smallest along the hierarchy; None without a quota."""
    try:
        lines = PROC_CGROUP.read_text().splitlines()
    except OSError:
        return None
    limits: list[int] = []
    files: tuple[str, ...]
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # v2: "quota period", or "max period"
            root, files = CGROUP_ROOT, ("cpu.max",)
        elif "cpu" in controllers.split(","):
            root, files = CGROUP_ROOT / "cpu", ("cpu.cfs_quota_us", "cpu.cfs_period_us")
        else:
            continue
        relative = Path(path.lstrip("/"))
        for directory in (relative, *relative.parents):
            try:
                words = [w for name in files for w in (root / directory / name).read_text().split()]
                quota, period = int(words[0]), int(words[1])
            except (OSError, ValueError, IndexError):  # absent, or "max": no quota here
                continue
            if quota > 0 and period > 0:
                limits.append(max(quota // period, 1))
    return min(limits) if limits else None


def available_cpus() -> int:
    """The CPUs this process may use, counted as Rust's `available_parallelism` (and so
    tokio and actix) counts them: the affinity mask (taskset, cpusets), capped by a
    cgroup CPU quota (containers); os.cpu_count() counts every CPU of the machine."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpu_limit()
    return max(min(cpus, quota) if quota is not None else cpus, 1)

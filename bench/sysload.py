"""How much CPU did processes other than the benchmark's use during a measurement?

On a small shared machine a test suite running next to the benchmark can take a whole
core; this makes such a run visible in the results instead of silently skewing them.
"Ours" is this process and all its descendants (servers, wrk), plus the PostgreSQL
backends whose command line names the benchmark's database (the system under test).
The figure is approximate: a process that exits between two snapshots is not counted.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _snapshot() -> dict[int, tuple[int, int, str]]:
    """pid -> (ppid, utime+stime ticks, comm)."""
    procs: dict[int, tuple[int, int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        comm = raw[raw.find("(") + 1 : raw.rfind(")")]
        fields = raw[raw.rfind(")") + 2 :].split()
        procs[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]), comm)
    return procs


def _tree(procs: dict[int, tuple[int, int, str]], root: int) -> set[int]:
    """`root` and its living descendants."""
    tree, changed = {root}, True
    while changed:
        changed = False
        for pid, (ppid, _, _) in procs.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                changed = True
    return tree


def _ours(procs: dict[int, tuple[int, int, str]], markers: tuple[str, ...]) -> set[int]:
    ours = _tree(procs, os.getpid())
    for pid, (_, _, comm) in procs.items():
        if markers and comm.startswith("postgres"):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if any(m in cmdline for m in markers):
                ours.add(pid)
    return ours


def process_ticks(pid: int) -> int:
    """CPU ticks (user + system, all threads) used so far by a process and its living
    descendants: `robyn-server` is a supervisor whose forked child does the serving."""
    procs = _snapshot()
    return sum(procs[p][1] for p in _tree(procs, pid) if p in procs)


def marked_ticks(markers: tuple[str, ...]) -> int:
    """CPU ticks used so far by the PostgreSQL backends serving the benchmark database."""
    procs = _snapshot()
    ours = _ours(procs, markers) - _ours(procs, ())
    return sum(procs[pid][1] for pid in ours if pid in procs)


class ForeignCpu:
    """`start()` then `stop()` -> percent of one core used by other processes meanwhile."""

    markers: tuple[str, ...] = ()

    def __init__(self) -> None:
        self._before: dict[int, tuple[int, int, str]] = {}
        self._t0 = 0.0

    def start(self) -> ForeignCpu:
        self._before = _snapshot()
        self._t0 = time.monotonic()
        return self

    def stop(self) -> float:
        after = _snapshot()
        elapsed = time.monotonic() - self._t0
        ours = _ours(after, self.markers)
        ticks = 0
        for pid, (_, total, _) in after.items():
            if pid in ours:
                continue
            before = self._before.get(pid)
            ticks += max(0, total - (before[1] if before else 0))
        return round(100 * ticks / CLK_TCK / elapsed, 1) if elapsed > 0 else 0.0


class Quiet:
    """Before a measurement, wait (up to `max_wait` seconds) for other processes to leave
    the CPUs alone: proceed after a `window` in which they used under `threshold`% of a
    core. Waiting is skipped with `max_wait` 0, and once `budget` seconds have been spent
    waiting in all (so that the whole run stays bounded)."""

    max_wait = 0.0
    budget = 0.0
    threshold = 15.0
    window = 0.5
    waited = 0.0
    gave_up = 0

    @classmethod
    async def wait(cls) -> None:
        import asyncio

        started = time.monotonic()
        limit = min(cls.max_wait, cls.budget - cls.waited)
        while time.monotonic() - started < limit:
            watch = ForeignCpu().start()
            await asyncio.sleep(cls.window)
            if watch.stop() < cls.threshold:
                break
        else:
            if limit > 0:
                cls.gave_up += 1
        cls.waited += time.monotonic() - started

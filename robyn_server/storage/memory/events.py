"""`EventLog` in memory: the contract of storage/event_log.py for one process (the
in-memory server does not need it: its broker holds every event)."""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field

from robyn_server.storage.event_log import EventKey, EventLog, LoggedEvent, RunEnd


@dataclass
class _Log:
    thread_id: str
    created: float
    resumable: bool
    events: list[LoggedEvent] = field(default_factory=list)
    end: RunEnd | None = None
    expires: float | None = None


class MemoryEventLog(EventLog):
    def __init__(self) -> None:
        self._logs: dict[str, _Log] = {}

    async def append(
        self,
        run_id: str,
        thread_id: str,
        events: list[LoggedEvent],
        *,
        end: RunEnd | None = None,
        keep_seconds: float = 0.0,
        notify: tuple[str, str] | None = None,
        resumable: bool = False,
    ) -> None:
        log = self._logs.get(run_id)
        if log is None:
            log = self._logs[run_id] = _Log(thread_id, time.monotonic(), resumable)
        log.events.extend(events)
        if end is not None:
            log.end = end
            log.expires = time.monotonic() + keep_seconds

    async def read(
        self, run_id: str, after: EventKey = (-1, -1), limit: int = 10_000
    ) -> tuple[list[LoggedEvent], RunEnd | None]:
        log = self._logs.get(run_id)
        if log is None:
            return [], None
        keys = [event.key for event in log.events]
        start = bisect.bisect_right(keys, after)
        events = log.events[start : start + limit]
        complete = start + limit >= len(log.events)
        if log.end is None or not complete:
            return events, None
        left = max(0.0, (log.expires or 0.0) - time.monotonic())
        return events, RunEnd(log.end.result, left)

    async def read_thread(
        self, thread_id: str, after: EventKey, limit: int = 10_000
    ) -> list[LoggedEvent]:
        events = [
            event
            for log in self._logs.values()
            if log.thread_id == thread_id and log.resumable
            for event in log.events
            if event.key > after
        ]
        events.sort(key=lambda event: event.key)
        return events[:limit]

    async def sweep(self, stale_seconds: float) -> int:
        now = time.monotonic()
        gone = [
            run_id
            for run_id, log in self._logs.items()
            if (log.expires is not None and log.expires <= now)
            or (log.end is None and log.created + stale_seconds <= now)
        ]
        for run_id in gone:
            del self._logs[run_id]
        return len(gone)

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
    last_ms: int = -1


@dataclass(slots=True)
class _ThreadEvent:
    thread_id: str
    event: LoggedEvent
    expires: float


class MemoryEventLog(EventLog):
    def __init__(self) -> None:
        self._logs: dict[str, _Log] = {}
        self._thread_events: dict[tuple[str, EventKey], _ThreadEvent] = {}

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
        thread_events: list[LoggedEvent] | None = None,
    ) -> None:
        log = self._logs.get(run_id)
        if log is None:
            log = self._logs[run_id] = _Log(thread_id, time.monotonic(), resumable)
        stored = {event.key for event in log.events}
        log.events.extend(event for event in events if event.key not in stored)
        for event in thread_events or ():
            self._keep_thread_event(thread_id, event, keep_seconds)
        if end is not None:
            log.end = end
            log.expires = time.monotonic() + keep_seconds
            keys = [e.key[0] for e in (*log.events, *(thread_events or ()))]
            log.last_ms = max([log.last_ms, *keys])

    async def append_thread_event(
        self,
        thread_id: str,
        event: LoggedEvent,
        *,
        keep_seconds: float,
        notify: tuple[str, str] | None = None,
    ) -> None:
        self._keep_thread_event(thread_id, event, keep_seconds)

    def _keep_thread_event(self, thread_id: str, event: LoggedEvent, keep: float) -> None:
        kept = _ThreadEvent(thread_id, event, time.monotonic() + keep)
        self._thread_events.setdefault((thread_id, event.key), kept)

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
        self,
        thread_id: str,
        after: EventKey,
        limit: int = 10_000,
        *,
        live: bool = False,
        thread_after: EventKey | None = None,
    ) -> list[LoggedEvent]:
        t_after = after if thread_after is None else thread_after
        events = [
            LoggedEvent(event.key, event.name, event.data, log.resumable)
            for log in self._logs.values()
            if log.thread_id == thread_id and (log.resumable or live)
            for event in log.events
            if event.key > after
        ]
        events.extend(
            LoggedEvent(kept.event.key, kept.event.name, kept.event.data, True, True)
            for kept in self._thread_events.values()
            if kept.thread_id == thread_id and kept.event.key > t_after
        )
        events.sort(key=lambda event: event.key)
        return events[:limit]

    async def thread_tail(self, thread_id: str, run_id: str) -> tuple[int, list[str]]:
        logs = [(rid, log) for rid, log in self._logs.items() if log.thread_id == thread_id]
        floor = max((log.last_ms for _, log in logs if log.end is not None), default=-1)
        own = self._logs.get(run_id)
        if own is not None and own.events:
            floor = max(floor, own.events[-1].key[0])
        return floor, [rid for rid, log in logs if log.end is None and rid != run_id]

    async def abandon(self, run_ids: list[str], keep_seconds: float) -> None:
        for run_id in run_ids:
            log = self._logs.get(run_id)
            if log is not None and log.end is None:
                log.end = RunEnd(b"null")
                log.expires = time.monotonic() + keep_seconds
                log.last_ms = max([log.last_ms, *(e.key[0] for e in log.events)])

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
        for key in [k for k, kept in self._thread_events.items() if kept.expires <= now]:
            del self._thread_events[key]
        return len(gone)

"""The run event log: where a run's events are kept so that other server processes can
read them, and resumable streams can be replayed after the run's process is gone.

Only PostgreSQL has one (storage/postgres/events.py); the in-memory backend serves a
single process, whose broker already holds every event (storage/memory/events.py is the
same contract in memory, for tests and tools).

A run's events are rows `(ms, seq, name, data)` keyed by the event id `"{ms}-{seq}"`,
written by the one process executing the run, in id order, in batches. Its end is one
row more: the answer /wait and /join give (`result`, the encoded JSON) and when the log
may be swept (`expires_at`). A run suspended by a shutdown has no end: the next attempt
appends to the same log, with later ids.

Thread-level events (a run's `run_done`, `state_update`) are kept by thread, with the
same ids: a thread stream reads them and the events of the thread's stored runs as one
sequence in id order (`read_thread`). A log's end also records its last id's `ms`
(`thread_tail`), so that the thread's next run, wherever it executes, gives later ids.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

# (ms, seq): an event id as a comparable key.
EventKey = tuple[int, int]


@dataclass(slots=True)
class LoggedEvent:
    key: EventKey
    name: str
    data: bytes
    # From `read_thread`: False for events of a run that is not resumable (followed
    # live, never replayed by `Last-Event-ID`); True for thread-level events.
    replayable: bool = True
    thread_level: bool = False


@dataclass(slots=True)
class RunEnd:
    """How a logged run ended: the encoded answer /wait and /join return."""

    result: bytes
    # Seconds until the log is swept (from the reader's point of view).
    expires_in: float = 0.0


class EventLog(ABC):
    @abstractmethod
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
        """Store `events` (ids increasing, all later than those stored before) and, with
        `end`, the run's end, to be swept `keep_seconds` after now. `notify` is a
        (channel, payload) signal sent when, and only if, the write commits. Events of
        `resumable` runs are also replayed by thread (`read_thread`). `thread_events`
        (the run's `run_done`) are stored for the thread in the same write."""

    @abstractmethod
    async def append_thread_event(
        self,
        thread_id: str,
        event: LoggedEvent,
        *,
        keep_seconds: float,
        notify: tuple[str, str] | None = None,
    ) -> None:
        """Store one thread-level event, swept `keep_seconds` after now."""

    @abstractmethod
    async def read(
        self, run_id: str, after: EventKey = (-1, -1), limit: int = 10_000
    ) -> tuple[list[LoggedEvent], RunEnd | None]:
        """Events of a run with ids after `after`, in id order (at most `limit`), and
        its end if it has ended (only given once every event has been read)."""

    @abstractmethod
    async def read_thread(
        self,
        thread_id: str,
        after: EventKey,
        limit: int = 10_000,
        *,
        live: bool = False,
        thread_after: EventKey | None = None,
    ) -> list[LoggedEvent]:
        """The thread's events in id order: those of its resumable runs (of every
        stored run if `live`: what a watcher following the thread now sees) with ids
        after `after`, and its thread-level events with ids after `thread_after`
        (default `after`)."""

    @abstractmethod
    async def thread_tail(self, thread_id: str, run_id: str) -> tuple[int, list[str]]:
        """Before `run_id` starts storing events: the greatest `ms` of the ids of the
        thread's ended logs and of `run_id`'s own earlier attempts (-1 if none), and the
        runs, other than `run_id`, whose logs have no end yet."""

    @abstractmethod
    async def abandon(self, run_ids: list[str], keep_seconds: float) -> None:
        """End logs that will never get an end (their process is gone): with no
        answer (`RunEnd.result` is `null`), swept `keep_seconds` after now."""

    @abstractmethod
    async def sweep(self, stale_seconds: float) -> int:
        """Drop the logs (and thread events) whose keep time has passed, and the logs
        of runs that never ended within `stale_seconds`; returns how many run logs
        went."""

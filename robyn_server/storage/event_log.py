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
    ) -> None:
        """Store `events` (ids increasing, all later than those stored before) and, with
        `end`, the run's end, to be swept `keep_seconds` after now. `notify` is a
        (channel, payload) signal sent when, and only if, the write commits. Events of
        `resumable` runs are also replayed by thread (`read_thread`)."""

    @abstractmethod
    async def read(
        self, run_id: str, after: EventKey = (-1, -1), limit: int = 10_000
    ) -> tuple[list[LoggedEvent], RunEnd | None]:
        """Events of a run with ids after `after`, in id order (at most `limit`), and
        its end if it has ended (only given once every event has been read)."""

    @abstractmethod
    async def read_thread(
        self, thread_id: str, after: EventKey, limit: int = 10_000
    ) -> list[LoggedEvent]:
        """Events of the thread's resumable runs with ids after `after`, in id order."""

    @abstractmethod
    async def sweep(self, stale_seconds: float) -> int:
        """Drop the logs whose keep time has passed, and those of runs that never ended
        within `stale_seconds`; returns how many run logs went."""

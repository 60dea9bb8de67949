"""Thread streams across processes (see engine/event_bus.py): `ThreadFollowers` feed
the thread watchers of a process from the event log, and `RunsInOrder` keeps one order
for a thread's events whichever processes execute its runs.

A thread stream reads the event log by id: the events of every stored run of the
thread and its thread-level events (`run_done`, `state_update`). That order is right
only if the runs of a thread, which execute one at a time but maybe each on another
process, store their events one after the other, with increasing ids. Two things make
it so:

- The process executing a run stores its events before it writes the run's final
  status (`EventBus.flush`), and its end with its `run_done` a moment after.
- `RunsInOrder.wait`, before the thread's next run publishes anything, waits until the
  logs of the thread's earlier runs have ended, then gives ids after their last ones
  (`observe_event_id`), whatever the processes' clocks say; a run executed again
  (recovered elsewhere) likewise gives ids after its earlier attempts'. A log that does
  not end within `WAIT_SECONDS` (its process died after the status write) is ended,
  empty handed, so that it holds nobody up again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from robyn_server.engine.broker import ThreadWatch, next_event_id, observe_event_id
from robyn_server.engine.event_relay import ThreadMirror
from robyn_server.serialization import dumps
from robyn_server.storage.event_log import EventLog, LoggedEvent

logger = logging.getLogger("robyn_server.engine")

WAIT_SECONDS = 2.0
# Between two looks at the logs, should the signal of an end be lost.
RECHECK_SECONDS = 0.25


class ThreadFollowers:
    """One `ThreadMirror` per thread watched in this process, shared by its watchers."""

    def __init__(
        self,
        log: EventLog,
        watches: dict[str, set[ThreadWatch]],
        signal: str,
        keep_seconds: float,
    ) -> None:
        self.log = log
        self.signal = signal
        # Thread-level events are kept for replay as long as resumable runs' events.
        self.keep_seconds = keep_seconds
        self._watches = watches
        self._mirrors: dict[str, ThreadMirror] = {}

    def follow(self, thread_id: str, watch: ThreadWatch, after: tuple[int, int] | None) -> bool:
        """Feed `watch` from now on, or from `after`, which it replays; True if the
        thread was not watched here before."""
        now = (next_event_id()[0], -1)
        watch.last_key = watch.start = now if after is None else after
        watch.replay_until = now
        mirror = self._mirrors.get(thread_id)
        first = mirror is None
        if mirror is None:
            mirror = ThreadMirror(self.log, thread_id, lambda: self._watches.get(thread_id, ()))
            self._mirrors[thread_id] = mirror
        mirror.poke()
        return first

    def unfollow(self, thread_id: str) -> None:
        """After a watcher left: stop reading once the thread has none left."""
        if thread_id not in self._watches:
            mirror = self._mirrors.pop(thread_id, None)
            if mirror is not None:
                mirror.stop()

    def poke(self, thread_id: str) -> None:
        mirror = self._mirrors.get(thread_id)
        if mirror is not None:
            mirror.poke()

    def poke_all(self) -> None:
        for mirror in list(self._mirrors.values()):
            mirror.poke()

    def stop(self) -> None:
        for mirror in self._mirrors.values():
            mirror.stop()

    async def publish(self, thread_id: str, name: str, data: Any) -> None:
        """Store a thread-level event (a state update) and wake the thread's watchers."""
        key = next_event_id()
        try:
            await self.log.append_thread_event(
                thread_id,
                LoggedEvent(key, name, dumps(data)),
                keep_seconds=self.keep_seconds,
                notify=(self.signal, f"- {thread_id} {key[0]}-{key[1]}"),
            )
        except Exception as exc:  # the state itself is saved; only its watchers miss it
            logger.warning("Storing a state update of thread %s failed: %s", thread_id, exc)


class RunsInOrder:
    def __init__(self, log: EventLog, abandoned_keep_seconds: float) -> None:
        self.log = log
        self.abandoned_keep_seconds = abandoned_keep_seconds
        # Set when a run's log ends (the signal of its end write).
        self._ended: dict[str, asyncio.Event] = {}

    def log_ended(self, run_id: str) -> None:
        ended = self._ended.get(run_id)
        if ended is not None:
            ended.set()

    async def wait(self, thread_id: str, run_id: str) -> None:
        """Before `run_id` of `thread_id` publishes its first event (to be stored)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_SECONDS
        try:
            while True:
                floor, open_runs = await self.log.thread_tail(thread_id, run_id)
                if not open_runs:
                    break
                left = deadline - loop.time()
                if left <= 0:
                    logger.info(
                        "Thread %s: the event logs of runs %s never ended; ending them",
                        thread_id,
                        ", ".join(open_runs),
                    )
                    await self.log.abandon(open_runs, self.abandoned_keep_seconds)
                    floor, _ = await self.log.thread_tail(thread_id, run_id)
                    break
                await self._wait_ends(open_runs, min(left, RECHECK_SECONDS))
        except Exception as exc:
            logger.warning("Thread %s: reading its event logs failed: %s", thread_id, exc)
            return
        finally:
            for other in [r for r, ended in self._ended.items() if ended.is_set()]:
                del self._ended[other]
        if floor >= 0:
            observe_event_id(floor)

    async def _wait_ends(self, run_ids: list[str], seconds: float) -> None:
        waits = [
            asyncio.ensure_future(self._ended.setdefault(r, asyncio.Event()).wait())
            for r in run_ids
        ]
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

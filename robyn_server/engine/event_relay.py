"""The two ends of a run's events crossing processes through the event log (see
engine/event_bus.py): `Writer` on the process executing the run, `Mirror` on a process
watching it, and `ThreadMirror` on a process watching a thread.

`Writer` batches: the first event queued starts a task that waits `BATCH_SECONDS`,
then writes everything queued by then in one statement (which also signals readers),
and goes on while more is queued; so a run streaming thousands of tokens a second makes
a few hundred writes a second at most, and a quiet run one write per event, a few ms late.

`Mirror` and `ThreadMirror` read: `poke` (on a signal) reads the events after the last
one delivered; reads never overlap (a poke during a read makes one more read after it),
so events are delivered once each and in id order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection
from contextlib import suppress
from typing import Any

from robyn_server.engine.broker import Event, RunChannel, ThreadWatch
from robyn_server.serialization import dumps
from robyn_server.storage.base import Storage
from robyn_server.storage.event_log import EventKey, EventLog, LoggedEvent, RunEnd
from robyn_server.storage.types import ANONYMOUS, INFLIGHT_STATUSES

logger = logging.getLogger("robyn_server.engine")

BATCH_SECONDS = 0.004
READ_LIMIT = 5_000
RETRY_DELAYS = (0.05, 0.2, 0.5, 1.0, 2.0, 5.0, 5.0, 10.0, 10.0, 20.0)


class Writer:
    """Stores one run's events, in order, from the process executing it."""

    def __init__(
        self, log: EventLog, channel: RunChannel, signal: str, keep: float, floor: EventKey
    ) -> None:
        self.log = log
        self.channel = channel
        self.signal = signal
        self.keep = keep
        # The last id queued (or stored before, by a previous writer of the run).
        self.floor = floor
        self._pending: list[LoggedEvent] = []
        self._end: RunEnd | None = None
        # Written with the end: the run's `run_done` for the thread's watchers.
        self._end_thread_events: list[LoggedEvent] = []
        self._stored: Callable[[], None] | None = None
        self._finished = False
        self._end_written = False
        self._task: asyncio.Task[None] | None = None
        # Once the run has published its last event, batching only makes it end later:
        # what is left is written at once.
        self._hurry = False
        self._wake = asyncio.Event()

    @property
    def idle(self) -> bool:
        return self._task is None

    def flush_task(self) -> asyncio.Task[None] | None:
        return self._task

    async def flushed(self) -> None:
        """Return once everything queued so far is written (or given up); the run
        publishes nothing more but its end."""
        self._hurry_up()
        while (task := self._task) is not None:
            await asyncio.wait([task])  # the task exits once nothing is left to write

    def add(self, event: Event) -> None:
        if event.key <= self.floor or self._finished:
            return
        self.floor = event.key
        self._pending.append(LoggedEvent(event.key, event.name, event.data))
        self._kick()

    def finish(
        self, result: Any, done: Event | None = None, stored: Callable[[], None] | None = None
    ) -> None:
        """The run ended with `result` (None: suspended by a shutdown, no end stored);
        `done`, its thread-level `run_done` event, is stored with the end, and `stored`
        called once that write is over (stored, or given up)."""
        if self._finished:
            if stored is not None:
                stored()
            return
        self._finished = True
        self._stored = stored
        if result is not None:
            self._end = RunEnd(dumps(result))
            if done is not None and done.key > self.floor:
                self.floor = done.key
                self._end_thread_events = [LoggedEvent(done.key, done.name, done.data)]
        self._hurry_up()
        self._kick()

    def _hurry_up(self) -> None:
        self._hurry = True
        self._wake.set()

    def _kick(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            while True:
                if not self._hurry:
                    with suppress(TimeoutError):
                        async with asyncio.timeout(BATCH_SECONDS):
                            await self._wake.wait()
                batch, self._pending = self._pending, []
                end = None if self._end_written else self._end
                if not batch and end is None:
                    return
                await self._write(batch, end)
                if end is not None:
                    self._end_written = True
                    self._call_stored()
        except asyncio.CancelledError:
            self._call_stored()  # stopping: the end will not be stored, watchers end anyway
            raise
        finally:
            self._task = None

    def _call_stored(self) -> None:
        stored, self._stored = self._stored, None
        if stored is not None:
            stored()

    async def _write(self, batch: list[LoggedEvent], end: RunEnd | None) -> None:
        channel = self.channel
        last = batch[-1].key if batch else self.floor
        payload = f"{channel.run_id} {channel.thread_id} {last[0]}-{last[1]}"
        if end is not None:
            payload += " end"
        for attempt, delay in enumerate((*RETRY_DELAYS, None)):
            try:
                await self.log.append(
                    channel.run_id,
                    channel.thread_id,
                    batch,
                    end=end,
                    keep_seconds=self.keep,
                    notify=(self.signal, payload),
                    resumable=channel.resumable,
                    thread_events=self._end_thread_events if end is not None else None,
                )
                return
            except Exception as exc:
                if delay is None:
                    logger.error(
                        "Run %s: %d events could not be stored (%s); watchers on other "
                        "processes miss them",
                        channel.run_id,
                        len(batch),
                        exc,
                    )
                    return
                if attempt == 0:
                    logger.warning(
                        "Run %s: storing events failed (%s); retrying", channel.run_id, exc
                    )
                await asyncio.sleep(delay)


class _Reader:
    """Reads a log after the last event delivered, once per `poke`, never two reads at
    a time (a poke during a read makes one more read after it)."""

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self._dirty = False
        self._stopped = False

    @property
    def done(self) -> bool:
        return self._stopped

    def stop(self) -> None:
        self._stopped = True

    def poke(self) -> None:
        if self.done:
            return
        if self._task is not None:
            self._dirty = True
            return
        self._task = asyncio.get_running_loop().create_task(self._read_loop())

    async def _read_loop(self) -> None:
        try:
            while True:
                self._dirty = False
                more = await self._read()
                if not (more or self._dirty) or self.done:
                    return
        finally:
            self._task = None

    async def _read(self) -> bool:
        """Deliver what is stored after the last event delivered; True if there may
        be more."""
        raise NotImplementedError


class ThreadMirror(_Reader):
    """Feeds the thread watchers here with the thread's events, from the log: those of
    every stored run of the thread, wherever it executes (this process included), and
    its thread-level events, as one sequence in id order. Each watcher gets what comes
    after its own `last_key` (a watcher replaying a `Last-Event-ID` starts further
    back), so one read serves them all."""

    def __init__(
        self, log: EventLog, thread_id: str, watches: Callable[[], Collection[ThreadWatch]]
    ) -> None:
        super().__init__()
        self.log = log
        self.thread_id = thread_id
        self._watches = watches

    async def _read(self) -> bool:
        watches = self._watches()
        if not watches:
            return False
        after = min(watch.last_key for watch in watches)
        thread_after = min(_thread_events_from(watch) for watch in watches)
        try:
            events = await self.log.read_thread(
                self.thread_id, after, READ_LIMIT, live=True, thread_after=thread_after
            )
        except Exception as exc:
            logger.warning("Reading the events of thread %s failed: %s", self.thread_id, exc)
            return False
        watches = self._watches()  # as they are now: some may have come or gone
        for logged in events:
            event: Event | None = None
            for watch in watches:
                if logged.thread_level:
                    if logged.key <= watch.start or logged.key in watch.thread_seen:
                        continue
                    watch.thread_seen[logged.key] = None
                else:
                    if logged.key <= watch.last_key:
                        continue
                    watch.last_key = logged.key
                    if logged.key <= watch.replay_until and not logged.replayable:
                        continue  # from before it watched, and not replayed
                if event is None:
                    event = Event(logged.key, logged.name, logged.data)
                watch.queue.put_nowait(event)
        for watch in watches:
            _forget_old_thread_events(watch)
        return len(events) >= READ_LIMIT


# Runs of a thread execute one at a time and each writes its log in order, so run events
# become visible in id order. Thread-level events do not: a state update is written by
# whichever process took the request, and may commit after an event with a later id was
# read. They are read again for this long, and queued once each (late, if so).
THREAD_LOOKBACK_MS = 5_000


def _thread_events_from(watch: ThreadWatch) -> EventKey:
    newest = max(watch.thread_seen, default=watch.start)
    return max(watch.start, (newest[0] - THREAD_LOOKBACK_MS, -1))


def _forget_old_thread_events(watch: ThreadWatch) -> None:
    seen = watch.thread_seen
    if len(seen) > 16:
        floor = _thread_events_from(watch)
        watch.thread_seen = {key: None for key in seen if key > floor}


class Mirror(_Reader):
    """Feeds a broker channel, here, with the events of a run executing elsewhere."""

    def __init__(
        self,
        log: EventLog,
        channel: RunChannel,
        deliver: Callable[[RunChannel, list[Event]], None],
        ended: Callable[[RunChannel, RunEnd], None],
        announce: Callable[[str], None],
    ) -> None:
        super().__init__()
        self.log = log
        self.channel = channel
        self.last_key: EventKey = channel.events[-1].key if channel.events else (-1, -1)
        self.started = False
        # When it last delivered something (or started): a mirror quiet for long
        # makes the bus look at the run itself (EventBus._check_quiet).
        self.active = time.monotonic()
        self._deliver = deliver
        self._ended = ended
        self._announce = announce
        self._timer: asyncio.TimerHandle | None = None

    @property
    def done(self) -> bool:
        return self._stopped or self.channel.done

    def start(self, delay: float) -> None:
        """Announce the watch in `delay` seconds, unless the run starts executing here
        first (then `stop` is called). Reading waits for a signal: nothing is stored
        for this run before the announcement but what a signal will say (a resumable
        run executing elsewhere signals every batch)."""
        if self._timer is None and not self.started:
            self._timer = asyncio.get_running_loop().call_later(delay, self._start_later)

    def _start_later(self) -> None:
        self._timer = None
        if self._stopped or self.started or self.channel.done:
            return
        self.started = True
        self.active = time.monotonic()
        self._announce(f"r:{self.channel.run_id}")

    async def start_now(self, *, announce: bool = True) -> None:
        """Announce (unless told not to) and read what is stored already, before
        returning: a watcher attaching with a `Last-Event-ID` finds it in the channel."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self.started:
            self.started = True
            self.active = time.monotonic()
            if announce:
                self._announce(f"r:{self.channel.run_id}")
        await self._read()

    def stop(self) -> None:
        super().stop()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def ended_unstored(self, storage: Storage, quiet_seconds: float) -> bool:
        """A watched run that ended without an end in the log (its process died, and
        recovery gave up on it) would keep its watchers waiting: after `quiet_seconds`
        without events, look at the run; if it has ended, read the log once more. True
        if the watchers should be ended all the same."""
        now = time.monotonic()
        if not self.started or self.done or now - self.active < quiet_seconds:
            return False
        self.active = now
        try:
            run = await storage.run_get(ANONYMOUS, self.channel.run_id)
        except Exception:
            return False
        if run is not None and run["status"] in INFLIGHT_STATUSES:
            return False
        await self._read()
        return not self.done

    async def _read(self) -> bool:
        """Deliver what is stored after `last_key`; True if there may be more."""
        try:
            events, end = await self.log.read(self.channel.run_id, self.last_key, READ_LIMIT)
        except Exception as exc:
            logger.warning("Reading the events of run %s failed: %s", self.channel.run_id, exc)
            return False
        if self._stopped:
            return False
        # Another read may have delivered some of these meanwhile.
        fresh = [Event(e.key, e.name, e.data) for e in events if e.key > self.last_key]
        if fresh:
            self.active = time.monotonic()
            self.last_key = fresh[-1].key
            self._deliver(self.channel, fresh)
        if end is not None:
            self._ended(self.channel, end)
            return False
        return len(events) >= READ_LIMIT

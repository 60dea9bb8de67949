"""The two ends of a run's events crossing processes through the event log (see
engine/event_bus.py): `Writer` on the process executing the run, `Mirror` on a process
watching it; and `Announcer`, which tells the others what a process watches.

`Writer` batches: the first event queued starts a task that waits `BATCH_SECONDS`,
then writes everything queued by then in one statement (which also signals readers),
and goes on while more is queued; so a run streaming thousands of tokens a second makes
a few hundred writes a second at most, and a quiet run one write per event, a few ms late.

`Mirror` reads: `poke` (on a signal) reads the events after the last one it delivered;
reads never overlap (a poke during a read makes one more read after it), so events are
delivered once each and in id order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from robyn_server.engine.broker import Event, RunChannel
from robyn_server.serialization import dumps
from robyn_server.storage.event_log import EventKey, EventLog, LoggedEvent, RunEnd
from robyn_server.storage.signals import Signals

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
        self._finished = False
        self._end_written = False
        self._task: asyncio.Task[None] | None = None

    @property
    def idle(self) -> bool:
        return self._task is None

    def flush_task(self) -> asyncio.Task[None] | None:
        return self._task

    def add(self, event: Event) -> None:
        if event.key <= self.floor or self._finished:
            return
        self.floor = event.key
        self._pending.append(LoggedEvent(event.key, event.name, event.data))
        self._kick()

    def finish(self, result: Any) -> None:
        """The run ended with `result` (None: suspended by a shutdown, no end stored)."""
        if self._finished:
            return
        self._finished = True
        if result is not None:
            self._end = RunEnd(dumps(result))
        self._kick()

    def _kick(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            while True:
                await asyncio.sleep(BATCH_SECONDS)
                batch, self._pending = self._pending, []
                end = None if self._end_written else self._end
                if not batch and end is None:
                    return
                await self._write(batch, end)
                if end is not None:
                    self._end_written = True
        finally:
            self._task = None

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


class Mirror:
    """Feeds a broker channel, here, with the events of a run executing elsewhere."""

    def __init__(
        self,
        log: EventLog,
        channel: RunChannel,
        deliver: Callable[[RunChannel, list[Event]], None],
        ended: Callable[[RunChannel, RunEnd], None],
        announce: Callable[[str], None],
    ) -> None:
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
        self._task: asyncio.Task[None] | None = None
        self._dirty = False
        self._stopped = False

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
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def poke(self) -> None:
        if self._stopped or self.channel.done:
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
                if not (more or self._dirty) or self._stopped or self.channel.done:
                    return
        finally:
            self._task = None

    async def read_now(self) -> None:
        await self._read()

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


# Items per announcement signal: 100 x (2 + 36 + 1) bytes, far below NOTIFY's 8,000.
ANNOUNCE_BATCH = 100


class Announcer:
    """Sends watch announcements (`r:<run_id>`, `t:<thread_id>`) as signals
    `<token> <item> <item>...`: those queued while one is being sent go together in
    the next, so a burst of watchers costs a few NOTIFYs, not one each."""

    def __init__(self, signals: Signals, channel: str, token: str) -> None:
        self.signals = signals
        self.channel = channel
        self.token = token
        self._outbox: list[str] = []
        self._sender: asyncio.Task[None] | None = None

    def announce(self, item: str) -> None:
        self._outbox.append(item)
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        try:
            while self._outbox:
                items, self._outbox = self._outbox, []
                while items:
                    batch, items = items[:ANNOUNCE_BATCH], items[ANNOUNCE_BATCH:]
                    try:
                        await self.signals.send(self.channel, " ".join((self.token, *batch)))
                    except Exception as exc:
                        # Watchers announce again every REANNOUNCE_SECONDS (event_bus).
                        logger.warning("Announcing watches failed: %s", exc)
        finally:
            self._sender = None

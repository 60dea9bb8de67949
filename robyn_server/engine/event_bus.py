"""Run events across server processes: the broker (engine/broker.py), plus an event log
in PostgreSQL (storage/event_log.py) and signals (storage/signals.py).

In memory, or with signals that stay in the process, `EventBus` is the broker and
nothing more. On PostgreSQL, where several processes share one database:

- **Who stores.** The process executing a run stores its events in the log only when
  someone needs them: always for a resumable run (replay by `Last-Event-ID`, from any
  process, after a restart too), and for any other run only once a process *announces*
  that it watches it. A run executing here with only local watchers costs nothing.
- **Announcing.** A process with a watcher on a run it does not execute sends
  `<its token> r:<run_id>` on the `lgs_run_watch` signal (a thread stream sends
  `t:<thread_id>`; announcements made while one is being sent share the next signal);
  the stream of a run's creator announces itself only if the
  run has not started here within `OPEN_ANNOUNCE_DELAY`. Every process but the sender
  (whose watchers read its own runs from memory) remembers announced runs and threads
  for `ANNOUNCE_SECONDS` (watchers announce again while they last), so whichever
  process claims the run, now or later, stores its events. A process that hears the
  announcement of a run it is executing (or has just finished) stores everything
  published so far, then every new event.
- **Writing.** Each stored run has a `Writer` (engine/event_relay.py): events are
  queued as they are published and written every `BATCH_SECONDS` at most, one
  multi-row insert per batch that also sends `lgs_run_events` with
  `<run_id> <thread_id> <last id>[ end]` (ids, never data) when it commits. The run's
  end (the /wait answer) is one more write, after its last events.
- **Reading.** A watcher's process keeps a `Mirror`: an ordinary broker
  channel fed from the log. A signal (or, as a safety net, every `POLL_SECONDS`, and
  after the listener reconnects) makes it read the events after the last one it has,
  in id order; the end closes the channel with the stored answer. Every watcher kind
  (the creating stream, join streams, /join, /wait, thread streams, A2A, MCP) follows
  broker channels, so each of them works the same whichever process executes the run.
- **Ids.** `"{ms}-{seq}"`, given by the executing process; a process that hears ids
  from another one gives later ones from then on (`observe_event_id`), so a run that
  moves to another process (recovery) keeps increasing ids, clock skew aside.
- **Sweeping.** A stored run's end says when its log may go: `retention_seconds`
  (RESUMABLE_STREAM_TTL_SECONDS) after a resumable run ends, `WATCHED_KEEP_SECONDS`
  after another one. Every process sweeps every `sweep_interval` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import orjson

from robyn_server.engine.broker import Broker, Event, RunChannel, observe_event_id
from robyn_server.engine.event_relay import BATCH_SECONDS, Announcer, Mirror, Writer
from robyn_server.storage.base import Storage
from robyn_server.storage.event_log import EventLog, RunEnd
from robyn_server.storage.signals import Signals
from robyn_server.storage.types import ANONYMOUS, INFLIGHT_STATUSES

logger = logging.getLogger("robyn_server.engine")

WATCH_SIGNAL = "lgs_run_watch"
EVENTS_SIGNAL = "lgs_run_events"
ANNOUNCE_SECONDS = 600.0
REANNOUNCE_SECONDS = 120.0
# A channel opened for a run's creator waits this long for the run to start here
# before it announces itself (the run may be executed by another process).
OPEN_ANNOUNCE_DELAY = 0.05
POLL_SECONDS = 5.0
QUIET_SECONDS = 15.0
WATCHED_KEEP_SECONDS = 60.0
STALE_SECONDS = 2 * 86400.0
STOP_SECONDS = 5.0

__all__ = ["BATCH_SECONDS", "EventBus"]


class EventBus(Broker):
    def __init__(
        self,
        retention_seconds: float,
        log: EventLog | None = None,
        signals: Signals | None = None,
        storage: Storage | None = None,
    ) -> None:
        super().__init__(retention_seconds)
        self.log = log
        self.storage = storage
        self.signals = signals
        self.cross_process = log is not None and signals is not None and signals.cross_process
        self.sweep_interval = min(60.0, max(0.5, retention_seconds / 4))
        self._local: dict[str, RunChannel] = {}
        self._writers: dict[str, Writer] = {}
        self._mirrors: dict[str, Mirror] = {}
        self._runs_announced: dict[str, float] = {}
        self._threads_announced: dict[str, float] = {}
        # Names this process in its announcements, which it ignores itself.
        self.token = uuid.uuid4().hex[:12]
        self._task: asyncio.Task[None] | None = None
        self.announcer: Announcer | None = None
        if self.cross_process:
            assert signals is not None
            self.announcer = Announcer(signals, WATCH_SIGNAL, self.token)
            signals.subscribe(WATCH_SIGNAL, self._on_watch)
            signals.subscribe(EVENTS_SIGNAL, self._on_events)
            signals.on_resync(self._resync)

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        if self.cross_process:
            self._task = asyncio.get_running_loop().create_task(self._housekeeping())

    async def stop(self) -> None:
        """Write what is still queued (within `STOP_SECONDS`), then stop reading."""
        if self._task is not None:
            self._task.cancel()
        for mirror in list(self._mirrors.values()):
            mirror.stop()
        flushes = [t for w in self._writers.values() if (t := w.flush_task()) is not None]
        if flushes:
            await asyncio.wait(flushes, timeout=STOP_SECONDS)

    # -- the broker, extended ---------------------------------------------------------

    def open(self, run_id: str, thread_id: str, resumable: bool) -> RunChannel:
        channel = super().open(run_id, thread_id, resumable)
        if self.cross_process and self._local.get(run_id) is not channel:
            mirror = self._mirrors.get(run_id)
            if mirror is None or mirror.channel is not channel:
                self._mirror(channel).start(OPEN_ANNOUNCE_DELAY)
        return channel

    async def attach(self, run: dict[str, Any]) -> RunChannel | None:
        if not self.cross_process:
            return await super().attach(run)
        run_id = run["run_id"]
        channel = self._channels.get(run_id)
        inflight = run["status"] in INFLIGHT_STATUSES
        resumable = bool(run["kwargs"].get("resumable"))
        if channel is not None:
            mirror = self._mirrors.get(run_id)
            if mirror is not None and mirror.channel is channel:
                # First seen through a thread stream, which cannot tell resumable runs.
                channel.resumable = channel.resumable or resumable
                if not channel.done:
                    await mirror.start_now()
            return channel
        if not inflight and not resumable:
            return None
        channel = super().open(run_id, run["thread_id"], resumable)
        mirror = self._mirror(channel)
        await mirror.start_now(announce=inflight)
        if not inflight and not channel.done:
            if not channel.events:
                mirror.stop()
                self._drop(channel)
                return None
            # Stored events but no end (its process died): nothing more will come.
            self.close(channel, None)
        return channel

    def publish(self, channel: RunChannel, name: str, data: Any) -> Event:
        event = super().publish(channel, name, data)
        if self.cross_process:
            if self._local.get(channel.run_id) is not channel:
                self._become_local(channel)
            writer = self._writers.get(channel.run_id)
            if writer is not None:
                writer.add(event)
        return event

    def close(self, channel: RunChannel, result: Any, keep: float | None = None) -> None:
        super().close(channel, result, keep)
        if self.cross_process and self._local.get(channel.run_id) is channel:
            writer = self._writers.get(channel.run_id)
            if writer is not None and writer.channel is channel:
                writer.finish(result)

    def watch_thread(self, thread_id: str) -> Any:
        watch = super().watch_thread(thread_id)
        if self.cross_process:
            self._announce(f"t:{thread_id}")
        return watch

    async def replay_thread(self, thread_id: str, after: tuple[int, int]) -> list[Event]:
        """What this process holds, and what the log holds of resumable runs that
        executed elsewhere (or here, before a restart), merged by id."""
        events = self.thread_replay(thread_id, after)
        if not self.cross_process:
            return events
        assert self.log is not None
        stored = await self.log.read_thread(thread_id, after)
        if stored:
            merged = {event.key: event for event in events}
            for e in stored:
                merged.setdefault(e.key, Event(e.key, e.name, e.data))
            events = sorted(merged.values(), key=_key)
        return events

    def _forget(self, channel: RunChannel) -> None:
        super()._forget(channel)
        if self._channels.get(channel.run_id) is not channel:
            self._drop(channel)

    def _drop(self, channel: RunChannel) -> None:
        run_id = channel.run_id
        if self._channels.get(run_id) is channel:
            del self._channels[run_id]
        if self._local.get(run_id) is channel:
            del self._local[run_id]
        mirror = self._mirrors.get(run_id)
        if mirror is not None and mirror.channel is channel:
            mirror.stop()
            del self._mirrors[run_id]
        writer = self._writers.get(run_id)
        if writer is not None and writer.channel is channel and writer.idle:
            del self._writers[run_id]

    # -- executing here: storing -----------------------------------------------------------

    def _become_local(self, channel: RunChannel) -> None:
        run_id = channel.run_id
        self._local[run_id] = channel
        floor: tuple[int, int] = (-1, -1)
        mirror = self._mirrors.pop(run_id, None)
        if mirror is not None:
            # Watched here before it ran here: what the mirror read is in the log already.
            mirror.stop()
            floor = mirror.last_key
        old = self._writers.get(run_id)
        if old is not None:
            floor = max(floor, old.floor)
        if channel.resumable or self._announced(run_id, channel.thread_id) or old is not None:
            self._store(channel, floor)

    def _store(self, channel: RunChannel, floor: tuple[int, int] = (-1, -1)) -> None:
        assert self.log is not None
        keep = self.retention_seconds if channel.resumable else WATCHED_KEEP_SECONDS
        writer = Writer(self.log, channel, EVENTS_SIGNAL, keep, floor)
        self._writers[channel.run_id] = writer
        for event in channel.events:
            writer.add(event)
        if channel.done:
            writer.finish(channel.result)

    def _announced(self, run_id: str, thread_id: str) -> bool:
        now = time.monotonic()
        return (
            self._runs_announced.get(run_id, 0.0) > now
            or self._threads_announced.get(thread_id, 0.0) > now
        )

    def _on_watch(self, payload: str) -> None:
        sender, *items = payload.split()
        if sender == self.token:
            return  # watchers here follow this process's runs in memory
        until = time.monotonic() + ANNOUNCE_SECONDS
        for item in items:
            kind, _, ident = item.partition(":")
            if kind == "r":
                self._runs_announced[ident] = until
                candidates = [c for c in (self._local.get(ident),) if c is not None]
            elif kind == "t":
                self._threads_announced[ident] = until
                candidates = [c for c in self._local.values() if c.thread_id == ident]
            else:
                continue
            for channel in candidates:
                writer = self._writers.get(channel.run_id)
                if writer is None or writer.channel is not channel:
                    self._store(channel, writer.floor if writer is not None else (-1, -1))

    def _announce(self, item: str) -> None:
        assert self.announcer is not None
        self.announcer.announce(item)

    # -- executing elsewhere: reading ------------------------------------------------------

    def _mirror(self, channel: RunChannel) -> Mirror:
        assert self.log is not None
        old = self._mirrors.get(channel.run_id)
        if old is not None:
            old.stop()
        mirror = Mirror(self.log, channel, self._deliver_all, self._ended, self._announce)
        self._mirrors[channel.run_id] = mirror
        return mirror

    def _deliver_all(self, channel: RunChannel, events: list[Event]) -> None:
        if self._channels.get(channel.run_id) is not channel or channel.done:
            return
        for event in events:
            self.deliver(channel, event)

    def _ended(self, channel: RunChannel, end: RunEnd) -> None:
        if not channel.done and self._local.get(channel.run_id) is not channel:
            # Kept here no longer than in the log: a replay after the sweep finds nothing.
            self.close(channel, orjson.loads(end.result), keep=end.expires_in)

    def _on_events(self, payload: str) -> None:
        parts = payload.split()
        if len(parts) < 3:
            return
        run_id, thread_id, key = parts[0], parts[1], parts[2]
        ms = key.partition("-")[0]
        if ms.isdigit():
            observe_event_id(int(ms))
        if self._local.get(run_id) is not None:
            return
        mirror = self._mirrors.get(run_id)
        if mirror is None:
            if thread_id not in self._thread_watches or run_id in self._channels:
                return
            # A run of a thread watched here, executing elsewhere: follow it from its start.
            channel = super().open(run_id, thread_id, False)
            mirror = self._mirror(channel)
            mirror.started = True
        mirror.poke()

    def _resync(self) -> None:
        for mirror in list(self._mirrors.values()):
            mirror.poke()

    # -- housekeeping --------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        assert self.log is not None
        loop = asyncio.get_running_loop()
        next_sweep = next_announce = loop.time()
        while True:
            await asyncio.sleep(min(POLL_SECONDS, self.sweep_interval))
            now = loop.time()
            for mirror in list(self._mirrors.values()):
                if mirror.started:
                    mirror.poke()
            await self._check_quiet()
            if now >= next_announce:
                next_announce = now + REANNOUNCE_SECONDS
                self._reannounce()
            if now >= next_sweep:
                next_sweep = now + self.sweep_interval
                try:
                    swept = await self.log.sweep(STALE_SECONDS)
                    if swept:
                        logger.debug("Swept the event logs of %d runs", swept)
                except Exception as exc:
                    logger.warning("Sweeping run event logs failed: %s", exc)

    async def _check_quiet(self) -> None:
        """A watched run that ended without an end in the log (its process died, and
        recovery gave up on it) would keep its watchers waiting: after `QUIET_SECONDS`
        without events, look at the run; if it has ended, read the log once more and
        end the stream."""
        if self.storage is None:
            return
        now = time.monotonic()
        for mirror in list(self._mirrors.values()):
            channel = mirror.channel
            if not mirror.started or channel.done or now - mirror.active < QUIET_SECONDS:
                continue
            mirror.active = now
            try:
                run = await self.storage.run_get(ANONYMOUS, channel.run_id)
            except Exception:
                continue
            if run is not None and run["status"] in INFLIGHT_STATUSES:
                continue
            await mirror.read_now()
            if not channel.done and self._mirrors.get(channel.run_id) is mirror:
                logger.info("Run %s ended with no end stored; ending its watchers", channel.run_id)
                self.close(channel, None)

    def _reannounce(self) -> None:
        now = time.monotonic()
        for table in (self._runs_announced, self._threads_announced):
            for key in [k for k, until in table.items() if until <= now]:
                del table[key]
        for thread_id in list(self._thread_watches):
            self._announce(f"t:{thread_id}")
        for run_id, mirror in list(self._mirrors.items()):
            if mirror.started and not mirror.channel.done:
                self._announce(f"r:{run_id}")


def _key(event: Event) -> tuple[int, int]:
    return event.key

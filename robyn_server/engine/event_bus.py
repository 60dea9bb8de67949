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
  for a while (engine/watch_announcements.py), so whichever
  process claims the run, now or later, stores its events. A process that hears the
  announcement of a run it is executing (or has just finished) stores everything
  published so far, then every new event.
- **Writing.** Each stored run has a `Writer` (engine/event_relay.py): events are
  queued as they are published and written every `BATCH_SECONDS` at most, one
  multi-row insert per batch that also sends `lgs_run_events` with
  `<run_id> <thread_id> <last id>[ end]` (ids, never data) when it commits. The run's
  end (the /wait answer) and its `run_done` are one more write, after its last events;
  watchers here see the end once it is stored.
- **Reading.** A watcher's process keeps a `Mirror`: an ordinary broker
  channel fed from the log. A signal (or, as a safety net, every `POLL_SECONDS`, and
  after the listener reconnects) makes it read the events after the last one it has,
  in id order; the end closes the channel with the stored answer. Every run watcher
  (the creating stream, join streams, /join, /wait, A2A, MCP) follows broker channels,
  so each of them works the same whichever process executes the run.
- **Threads.** Thread watchers, here included, read the log: every stored run of the
  thread and its thread-level events (`run_done`, `state_update`) in one sequence,
  which engine/thread_order.py keeps in order across processes.
- **Ids.** `"{ms}-{seq}"`, given by the executing process; a process that hears ids
  from another one gives later ones from then on (`observe_event_id`), and a stored
  run starts after the stored ids of its thread and of its own earlier attempts
  (engine/thread_order.py), so its ids keep increasing whatever the clocks say.
- **Sweeping.** A stored run's end says when its log may go: `retention_seconds`
  (RESUMABLE_STREAM_TTL_SECONDS) after a resumable run ends, `WATCHED_KEEP_SECONDS`
  after another one. Every process sweeps every `sweep_interval` seconds.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson

from robyn_server.engine.broker import (
    Broker,
    Event,
    RunChannel,
    ThreadWatch,
    next_event_id,
    observe_event_id,
)
from robyn_server.engine.event_relay import (
    BATCH_SECONDS,
    Mirror,
    Writer,
)
from robyn_server.engine.thread_order import RunsInOrder, ThreadFollowers
from robyn_server.engine.watch_announcements import REANNOUNCE_SECONDS, Announcements
from robyn_server.serialization import dumps
from robyn_server.storage.base import Storage
from robyn_server.storage.event_log import EventLog, RunEnd
from robyn_server.storage.signals import Signals
from robyn_server.storage.types import INFLIGHT_STATUSES

logger = logging.getLogger("robyn_server.engine")

WATCH_SIGNAL = "lgs_run_watch"
EVENTS_SIGNAL = "lgs_run_events"
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
        # Across processes thread watchers follow the log, in one order for all.
        self.thread_watches_here = not self.cross_process
        self._task: asyncio.Task[None] | None = None
        self.announcements: Announcements | None = None
        self.order: RunsInOrder | None = None
        self.followers: ThreadFollowers | None = None
        if self.cross_process:
            assert signals is not None and log is not None
            self.order = RunsInOrder(log, WATCHED_KEEP_SECONDS)
            self.followers = ThreadFollowers(
                log, self._thread_watches, EVENTS_SIGNAL, retention_seconds
            )
            self.announcements = Announcements(signals, WATCH_SIGNAL)
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
        for mirror in self._mirrors.values():
            mirror.stop()
        if self.followers is not None:
            self.followers.stop()
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

    async def flush(self, channel: RunChannel) -> None:
        """A stored run's events are in the log before its status says it has ended:
        the thread's next run (`before_run`, on any process) then finds its log and
        waits for its end."""
        writer = self._local_writer(channel)
        if writer is not None:
            await writer.flushed()

    def _end(self, channel: RunChannel, result: Any) -> None:
        if not self.cross_process:
            super()._end(channel, result)
            return
        writer = self._local_writer(channel)
        if writer is None:
            channel.close(result)  # not stored here: nobody elsewhere waits for its end
            return
        if result is None:  # suspended (a shutdown, a lost lease): no end, no run_done
            channel.close(None)
            writer.finish(None)
            return
        # The run's run_done, for thread watchers, is stored with its end. Watchers here
        # see the end once it is stored, so a client that saw a run end finds it ended
        # in the log too, whichever process it asks next.
        data = dumps({"status": "run_done", "run_id": channel.run_id})
        done = Event(next_event_id(), "metadata", data)
        writer.finish(result, done, stored=lambda: channel.close(result))

    async def publish_state_update(self, thread_id: str, data: Any) -> None:
        if not self.cross_process:
            await super().publish_state_update(thread_id, data)
            return
        assert self.followers is not None
        await self.followers.publish(thread_id, "state_update", data)

    def watch_thread(self, thread_id: str, after: tuple[int, int] | None = None) -> ThreadWatch:
        watch = super().watch_thread(thread_id, after)
        if self.followers is not None and self.followers.follow(thread_id, watch, after):
            self._announce(f"t:{thread_id}")
            # Runs of the thread executing here are stored from now on, as elsewhere.
            for channel in list(self._local.values()):
                if channel.thread_id == thread_id and channel.run_id not in self._writers:
                    self._store(channel)
        return watch

    def unwatch_thread(self, thread_id: str, watch: Any) -> None:
        super().unwatch_thread(thread_id, watch)
        if self.followers is not None:
            self.followers.unfollow(thread_id)

    async def before_run(self, run: dict[str, Any]) -> None:
        """Before a run publishes its first event: if its events will be stored, wait
        for the thread's earlier runs to end in the log (engine/thread_order.py)."""
        if not self.cross_process:
            return
        run_id, thread_id = run["run_id"], run["thread_id"]
        stored = (
            run["kwargs"].get("resumable")
            or thread_id in self._thread_watches
            or self._announced(run_id, thread_id)
        )
        if not stored:
            return
        assert self.order is not None
        await self.order.wait(thread_id, run_id)

    async def replay_thread(self, thread_id: str, after: tuple[int, int]) -> list[Event]:
        if self.cross_process:
            return []  # the watch replays from the log itself (`watch_thread`)
        return self.thread_replay(thread_id, after)

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
        stored = channel.resumable or old is not None
        if stored or self._announced(run_id, channel.thread_id):
            self._store(channel, floor)

    def _local_writer(self, channel: RunChannel) -> Writer | None:
        """The writer storing `channel`, a run executing here; None if not stored."""
        if self._local.get(channel.run_id) is not channel:
            return None
        writer = self._writers.get(channel.run_id)
        return writer if writer is not None and writer.channel is channel else None

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
        """Whether a run's events are watched in the log: from another process, or by
        a thread watcher here (which reads the log too)."""
        assert self.announcements is not None
        return thread_id in self._thread_watches or self.announcements.watched(run_id, thread_id)

    def _on_watch(self, payload: str) -> None:
        assert self.announcements is not None
        for kind, ident in self.announcements.heard(payload):
            if kind == "r":
                candidates = [c for c in (self._local.get(ident),) if c is not None]
            else:
                candidates = [c for c in self._local.values() if c.thread_id == ident]
            for channel in candidates:
                writer = self._writers.get(channel.run_id)
                if writer is None or writer.channel is not channel:
                    self._store(channel, writer.floor if writer is not None else (-1, -1))

    def _announce(self, item: str) -> None:
        assert self.announcements is not None
        self.announcements.announce(item)

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
        if self.followers is not None:
            self.followers.poke(thread_id)
        if parts[3:] == ["end"] and self.order is not None:
            self.order.log_ended(run_id)
        if run_id == "-" or self._local.get(run_id) is not None:
            return  # a thread-level event, or a run this process writes itself
        mirror = self._mirrors.get(run_id)
        if mirror is not None:
            mirror.poke()

    def _resync(self) -> None:
        for mirror in list(self._mirrors.values()):
            mirror.poke()
        if self.followers is not None:
            self.followers.poke_all()

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
            if self.followers is not None:
                self.followers.poke_all()
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
        if self.storage is None:
            return
        for mirror in list(self._mirrors.values()):
            if not await mirror.ended_unstored(self.storage, QUIET_SECONDS):
                continue
            channel = mirror.channel
            if not channel.done and self._mirrors.get(channel.run_id) is mirror:
                logger.info("Run %s ended with no end stored; ending its watchers", channel.run_id)
                self.close(channel, None)

    def _reannounce(self) -> None:
        assert self.announcements is not None
        self.announcements.expire()
        for thread_id in list(self._thread_watches):
            self._announce(f"t:{thread_id}")
        for run_id, mirror in list(self._mirrors.items()):
            if mirror.started and not mirror.channel.done:
                self._announce(f"r:{run_id}")

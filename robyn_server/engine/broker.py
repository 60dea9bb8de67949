"""In-process fan-out of run events to every watcher, with replay for resumable runs.

Each run has a `RunChannel`: an append-only list of encoded events. A watcher (the
stream that created the run, a join stream, a thread stream) follows the list from an
index, so every watcher sees every event in order no matter when it attached, and a
slow watcher never holds back the run. Events are encoded once and shared.

Event ids are `"{ms}-{seq}"` with one process-wide `seq`, so ids are strictly increasing
across all runs (the reference server's in-memory ids can repeat); a `Last-Event-ID`
compares as the tuple (ms, seq).
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from robyn_server.serialization import dumps
from robyn_server.storage.types import INFLIGHT_STATUSES

HEARTBEAT = b": heartbeat\r\n\r\n"
EVENT_ID = re.compile(r"^(\d+)(?:-(\d+|\*))?$")
_seq = itertools.count()
_last_ms = 0


def next_event_id() -> tuple[int, int]:
    global _last_ms
    _last_ms = max(_last_ms, int(time.time() * 1000))
    return (_last_ms, next(_seq))


def observe_event_id(ms: int) -> None:
    """An id `ms`-something was given by another process: ids given here from now on
    are later (their `ms` is greater), whatever the clocks say."""
    global _last_ms
    _last_ms = max(_last_ms, ms + 1)


def parse_event_id(value: str | None) -> tuple[int, int] | None:
    """`Last-Event-ID` as a comparable key: `-` or `0` mean "from the start"; an
    invalid id gives None (the caller then replays nothing)."""
    if value is None:
        return None
    value = value.strip()
    if value in ("-", "0", "-1"):
        return (-1, -1)
    match = EVENT_ID.match(value)
    if not match:
        return None
    seq = match.group(2)
    return (int(match.group(1)), -1 if seq in (None, "*") else int(seq))


@dataclass(slots=True)
class Event:
    key: tuple[int, int]
    name: str
    data: bytes

    def frame(self, with_id: bool) -> bytes:
        head = b"event: " + self.name.encode() + b"\r\ndata: " + self.data + b"\r\n"
        if with_id:
            head += b"id: %d-%d\r\n" % self.key
        return head + b"\r\n"


@dataclass
class RunChannel:
    run_id: str
    thread_id: str
    resumable: bool
    events: list[Event] = field(default_factory=list)
    done: bool = False
    # What /wait and /join answer once the run has ended.
    result: Any = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _finished: asyncio.Event = field(default_factory=asyncio.Event)

    def publish(self, name: str, data: Any) -> Event:
        event = Event(next_event_id(), name, dumps(data))
        self.events.append(event)
        self._wake()
        return event

    def append(self, event: Event) -> None:
        """An event published elsewhere (another process): same as `publish`."""
        self.events.append(event)
        self._wake()

    def close(self, result: Any) -> None:
        self.result = result
        self.done = True
        self._finished.set()
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_done(self, seconds: float | None = None) -> bool:
        try:
            async with asyncio.timeout(seconds):  # no task per wait, as wait_for makes
                await self._finished.wait()
        except TimeoutError:
            return False
        return True

    def start_index(self, last_event_id: str | None) -> int:
        """Where a new watcher starts: live events only, unless it names a
        `Last-Event-ID` on a resumable run, which replays what came after it."""
        if last_event_id is None:
            return len(self.events)
        key = parse_event_id(last_event_id)
        if key is None or not self.resumable:
            return len(self.events)
        for index, event in enumerate(self.events):
            if event.key > key:
                return index
        return len(self.events)

    async def follow(self, start: int, heartbeat: float) -> AsyncIterator[Event | None]:
        """Events from `start` until the run ends; None every `heartbeat` seconds of
        silence, so the caller can write a heartbeat (and notice a gone client)."""
        index = start
        while True:
            events = self.events
            while index < len(events):
                yield events[index]
                index += 1
            if self.done:
                return
            changed = self._changed
            try:
                async with asyncio.timeout(heartbeat):  # no task per wait, as wait_for makes
                    await changed.wait()
            except TimeoutError:
                yield None


class ThreadWatch:
    """One `GET /threads/{id}/stream` watcher: it receives every event of the thread's
    runs, and thread-level events, through a queue.

    Where watchers follow the log (engine/event_relay.py, `ThreadMirror`): `last_key`
    is the id of the last run event queued (at first: when it started watching, or the
    `Last-Event-ID` it replays after); events up to `replay_until` (when it started
    watching) are queued only if they are replayed ones (of resumable runs, and
    thread-level events); `start` and `thread_seen` keep thread-level events, which
    several processes write, from being queued twice."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self.last_key = self.replay_until = self.start = (-1, -1)
        self.thread_seen: dict[tuple[int, int], None] = {}


class Broker:
    # Thread watchers get events as they are published here; False where they follow
    # an ordered log instead (engine/event_bus.py, across processes).
    thread_watches_here = True

    def __init__(self, retention_seconds: float) -> None:
        self.retention_seconds = retention_seconds
        self._channels: dict[str, RunChannel] = {}
        self._thread_watches: dict[str, set[ThreadWatch]] = {}
        # Recent thread-level events (state updates, run_done) kept for replay.
        self._thread_events: dict[str, list[Event]] = {}

    def open(self, run_id: str, thread_id: str, resumable: bool) -> RunChannel:
        channel = self._channels.get(run_id)
        if channel is None or channel.done:
            channel = RunChannel(run_id, thread_id, resumable)
            self._channels[run_id] = channel
        return channel

    def get(self, run_id: str) -> RunChannel | None:
        return self._channels.get(run_id)

    async def attach(self, run: dict[str, Any]) -> RunChannel | None:
        """The channel a new watcher of `run` (a storage row) follows: the run's own,
        or, for a run queued and not started yet, the one its executor will publish
        to. None when the run has ended and its events are gone."""
        channel = self._channels.get(run["run_id"])
        if channel is None and run["status"] in INFLIGHT_STATUSES:
            channel = self.open(
                run["run_id"], run["thread_id"], bool(run["kwargs"].get("resumable"))
            )
        return channel

    async def before_run(self, run: dict[str, Any]) -> None:
        """Called before a run (a storage row) executing here publishes its first event
        (engine/event_bus.py orders runs of a thread across processes here)."""

    async def flush(self, channel: RunChannel) -> None:
        """Called before the run's final status is written, when it has published its
        last event but for its end (event_bus.py stores them first)."""

    def publish(self, channel: RunChannel, name: str, data: Any) -> Event:
        event = channel.publish(name, data)
        if self.thread_watches_here:
            self.to_thread_watches(channel.thread_id, event)
        return event

    def deliver(self, channel: RunChannel, event: Event) -> None:
        """An event of `channel` published by another process."""
        channel.append(event)
        if self.thread_watches_here:
            self.to_thread_watches(channel.thread_id, event)

    def to_thread_watches(self, thread_id: str, event: Event) -> None:
        watches = self._thread_watches.get(thread_id)
        if watches:
            for watch in watches:
                watch.queue.put_nowait(event)

    def close(self, channel: RunChannel, result: Any, keep: float | None = None) -> None:
        """End the run's stream with `result`; its events stay for replay for `keep`
        seconds (by default the retention of resumable runs, 5 s for others)."""
        self._end(channel, result)
        loop = asyncio.get_running_loop()
        delay = self.retention_seconds if channel.resumable else 5.0
        if keep is not None:
            delay = min(delay, keep)
        loop.call_later(delay, self._forget, channel)

    def _end(self, channel: RunChannel, result: Any) -> None:
        """End the channel's watchers, then tell the thread's."""
        channel.close(result)
        self._run_done(channel, result)

    def _run_done(self, channel: RunChannel, result: Any) -> None:
        """Tell the thread's watchers (and its replay) that the run has ended."""
        if channel.resumable or channel.thread_id in self._thread_watches:
            done = {"status": "run_done", "run_id": channel.run_id}
            self.publish_thread_event(channel.thread_id, "metadata", done)

    def publish_thread_event(self, thread_id: str, name: str, data: Any) -> None:
        event = Event(next_event_id(), name, dumps(data))
        self._remember_thread_event(thread_id, event)
        self.to_thread_watches(thread_id, event)

    async def publish_state_update(self, thread_id: str, data: Any) -> None:
        self.publish_thread_event(thread_id, "state_update", data)

    def _remember_thread_event(self, thread_id: str, event: Event) -> None:
        events = self._thread_events.setdefault(thread_id, [])
        events.append(event)
        loop = asyncio.get_running_loop()
        loop.call_later(
            self.retention_seconds, _drop_first, events, event, self._thread_events, thread_id
        )

    def _forget(self, channel: RunChannel) -> None:
        if self._channels.get(channel.run_id) is channel:
            del self._channels[channel.run_id]

    def watch_thread(self, thread_id: str, after: tuple[int, int] | None = None) -> ThreadWatch:
        """Watch the thread's events from now on; `after` (a `Last-Event-ID`) is replayed
        by `replay_thread`, except where the watch replays it itself (event_bus.py)."""
        watch = ThreadWatch()
        self._thread_watches.setdefault(thread_id, set()).add(watch)
        return watch

    def unwatch_thread(self, thread_id: str, watch: ThreadWatch) -> None:
        watches = self._thread_watches.get(thread_id)
        if watches is not None:
            watches.discard(watch)
            if not watches:
                del self._thread_watches[thread_id]

    async def replay_thread(self, thread_id: str, after: tuple[int, int]) -> list[Event]:
        """`thread_replay`, for a caller that may wait (the event bus reads storage)."""
        return self.thread_replay(thread_id, after)

    def thread_replay(self, thread_id: str, after: tuple[int, int]) -> list[Event]:
        """Stored events of a thread (its resumable runs and thread-level events) after
        `after`, in id order."""
        events = [
            event
            for channel in self._channels.values()
            if channel.thread_id == thread_id and channel.resumable
            for event in channel.events
            if event.key > after
        ]
        events.extend(e for e in self._thread_events.get(thread_id, ()) if e.key > after)
        events.sort(key=_event_key)
        return events


def _event_key(event: Event) -> tuple[int, int]:
    return event.key


def _drop_first(
    events: list[Event], event: Event, registry: dict[str, list[Event]], thread_id: str
) -> None:
    if events and events[0] is event:
        events.pop(0)
    elif event in events:
        events.remove(event)
    if not events and registry.get(thread_id) is events:
        del registry[thread_id]


def mode_filter(modes: list[str]) -> Callable[[str], bool] | None:
    """A predicate for join streams' `stream_mode` query: exact names, `mode|ns`
    prefixes, and messages/messages-tuple matching every `messages*` event. None means
    everything passes."""
    wanted = [m for m in modes if m]
    if not wanted:
        return None
    messages = any(m in ("messages", "messages-tuple") for m in wanted)
    exact = tuple(wanted)

    def accept(name: str) -> bool:
        if name == "error":
            return True
        if messages and name.startswith("messages"):
            return True
        base = name.split("|", 1)[0]
        return base in exact

    return accept

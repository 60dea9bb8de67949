"""Streaming HTTP answers over a run's event channel: SSE streams and long-poll /wait.

Robyn only notices a gone client when a write fails, so every stream writes a heartbeat
after `heartbeat` seconds of silence; the generator then sees GeneratorExit at its
`yield`, and its `finally` applies `on_disconnect` (see `StreamSlots` for when that
happens, and on which thread). A stream that cancels its run when the client leaves
writes its heartbeat every `WATCH_SECONDS` instead, so the cancel lands within about a
second even when the run is silent; ordinary streams stay at the configured interval.

Each open stream holds one of Robyn's blocking threads (field notes §1.4), so the engine
counts open streams and new ones beyond the cap get a 503 before any run is created.

A run suspended by a server shutdown (its channel closes without a result while the
engine stops) never completes its answer: the body stays open until the process exits
and the connection is cut mid-body, which the SDK reads as a drop and retries at the
response's `Location` on the next server, where the run executes again.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from robyn import Headers, StreamingResponse

from robyn_server.errors import ServiceUnavailable
from robyn_server.runs.broker import HEARTBEAT, Event, RunChannel
from robyn_server.serialization import dumps

if TYPE_CHECKING:
    from robyn_server.runs.engine import RunEngine

logger = logging.getLogger("robyn_server.runs")

# Robyn's Rust layer adds cache-control (no-store among others), pragma, expires and
# x-accel-buffering to every stream itself; repeating them would send them twice.
SSE_HEADERS = {"content-type": "text/event-stream; charset=utf-8"}
# Heartbeat (and native flush) interval of streams that cancel their run on disconnect.
# The second write after a client left is the one that fails, and the dropped stream is
# released at the next native call: about 3 intervals from leaving to cancelling.
WATCH_SECONDS = 0.25


class StreamSlots:
    """Counts open streaming responses against the configured cap.

    A slot is reserved when the request is accepted, before the run is created, and
    the check and the count are one step on the loop, so concurrent requests can never
    overrun the cap. Each `StreamSlot` is released exactly once (see there).

    A stream whose client left is let go by Robyn's native side without holding the
    GIL, and pyo3 defers that release until the next call between Python and native
    code. Until then the stream's generator is not finalized: its slot stays taken and
    on_disconnect=cancel does not happen, forever on an otherwise quiet server. So while
    streams are open, a task calls into Robyn's native code once per heartbeat, and
    every `WATCH_SECONDS` while a stream that cancels on disconnect is open.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0
        self.watching = 0
        self._flusher: asyncio.Task | None = None
        self._wake: asyncio.Event | None = None

    def reserve(self, heartbeat: float, *, watch: bool = False) -> StreamSlot:
        """Take a slot or raise 503. Must run on the server's loop."""
        if self.open >= self.limit:
            raise ServiceUnavailable(
                f"Too many open streams ({self.open}); try again shortly or raise "
                "MAX_OPEN_STREAMS with more SERVER_WORKERS"
            )
        loop = asyncio.get_running_loop()
        self.open += 1
        if watch:
            self.watching += 1
        if self._flusher is None or self._flusher.done():
            self._wake = asyncio.Event()
            self._flusher = loop.create_task(self._flush(heartbeat))
        elif watch and self._wake is not None:
            self._wake.set()  # the flusher may be in a long sleep: shorten it now
        return StreamSlot(self, loop, watch)

    def _released(self, watch: bool) -> None:
        self.open -= 1
        if watch:
            self.watching -= 1

    async def _flush(self, heartbeat: float) -> None:
        wake = self._wake
        assert wake is not None
        while self.open > 0:
            wake.clear()
            interval = min(heartbeat, WATCH_SECONDS) if self.watching else heartbeat
            try:
                await asyncio.wait_for(wake.wait(), interval)
            except TimeoutError:
                pass
            Headers({})  # any native call applies pyo3's deferred releases

    def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()


class StreamSlot:
    """One reserved place under the stream cap.

    Released exactly once, by whichever comes first: the stream's generator ending
    (run finished or client gone), the request failing before it streams (`release`
    in the route), or the slot being garbage-collected: a generator Robyn drops
    without ever starting it never runs its `finally`, but its frame holds this slot.
    The release may happen on one of Robyn's threads; the count is only touched on
    the server's loop."""

    __slots__ = ("__weakref__", "_finalizer", "watch")

    def __init__(self, slots: StreamSlots, loop: asyncio.AbstractEventLoop, watch: bool) -> None:
        self.watch = watch
        self._finalizer = weakref.finalize(self, _release_on_loop, slots, loop, watch)
        self._finalizer.atexit = False

    def release(self) -> None:
        self._finalizer()  # weakref.finalize runs its callback at most once


def _release_on_loop(slots: StreamSlots, loop: asyncio.AbstractEventLoop, watch: bool) -> None:
    try:
        on_loop = asyncio.get_running_loop() is loop
    except RuntimeError:
        on_loop = False
    if on_loop:
        slots._released(watch)
    elif not loop.is_closed():
        loop.call_soon_threadsafe(slots._released, watch)


def _response(body: AsyncIterator[bytes], headers: dict[str, str], media: str) -> StreamingResponse:
    response = StreamingResponse(body, headers=Headers({}), media_type=media)
    for key, value in headers.items():
        response.headers.set(key, value)
    return response


def sse_response(body: AsyncIterator[bytes], headers: dict[str, str]) -> StreamingResponse:
    return _response(body, {**SSE_HEADERS, **headers}, SSE_HEADERS["content-type"])


def json_stream_response(body: AsyncIterator[bytes], headers: dict[str, str]) -> StreamingResponse:
    return _response(body, {"content-type": "application/json", **headers}, "application/json")


def _heartbeat(engine: RunEngine, slot: StreamSlot) -> float:
    return min(engine.heartbeat, WATCH_SECONDS) if slot.watch else engine.heartbeat


def suspended(engine: RunEngine, channel: RunChannel) -> bool:
    """The run was put back to pending by a shutdown: its channel closed without a
    result while the engine stops (every run that ends has a result, `{}` at least)."""
    return channel.done and channel.result is None and engine.stopping


async def _until_exit(heartbeat: float, beat: bytes) -> AsyncIterator[bytes]:
    """Keep a suspended run's answer open until the process exits and cuts it."""
    while True:
        await asyncio.sleep(heartbeat)
        yield beat


async def follow(
    engine: RunEngine,
    channel: RunChannel,
    start: int,
    slot: StreamSlot,
    *,
    with_ids: bool,
    accept: Callable[[str], bool] | None = None,
) -> AsyncIterator[bytes]:
    """SSE frames of a run from event `start` until it ends. The run is cancelled if
    the client leaves first and `slot.watch` (on_disconnect=cancel) is set."""
    loop = asyncio.get_running_loop()
    heartbeat = _heartbeat(engine, slot)
    finished = False
    try:
        async for event in channel.follow(start, heartbeat):
            if event is None:
                yield HEARTBEAT
            elif accept is None or accept(event.name):
                yield event.frame(with_ids)
        if suspended(engine, channel):
            async for beat in _until_exit(heartbeat, HEARTBEAT):
                yield beat
        finished = True
    finally:
        slot.release()
        _stream_ended(engine, loop, channel, cancel=slot.watch and not finished)


def _stream_ended(
    engine: RunEngine, loop: asyncio.AbstractEventLoop, channel: RunChannel, *, cancel: bool
) -> None:
    """Apply on_disconnect=cancel, on the server's loop.

    When a client leaves, Robyn drops the stream later, on one of its own threads, and
    the generator's `finally` may run there, where no event loop is running."""
    if not cancel:
        return

    def on_loop() -> None:
        if not channel.done:
            logger.info("Client left run %s; cancelling it (on_disconnect=cancel)", channel.run_id)
            engine.spawn(
                engine.cancel([channel.run_id], thread_id=channel.thread_id, action="interrupt")
            )

    if not loop.is_closed():
        loop.call_soon_threadsafe(on_loop)


async def single_event(name: str, data: Any) -> AsyncIterator[bytes]:
    yield Event((0, 0), name, dumps(data)).frame(False)


async def empty() -> AsyncIterator[bytes]:
    return
    yield  # pragma: no cover - makes this an async generator


async def wait_body(
    engine: RunEngine, channel: RunChannel, slot: StreamSlot
) -> AsyncIterator[bytes]:
    """A long-poll JSON answer: a newline every heartbeat while the run executes (legal
    leading whitespace, and how a gone client is noticed), then the result."""
    loop = asyncio.get_running_loop()
    heartbeat = _heartbeat(engine, slot)
    finished = False
    try:
        while not await channel.wait_done(heartbeat):
            yield b"\n"
        if suspended(engine, channel):
            async for beat in _until_exit(heartbeat, b"\n"):
                yield beat
        finished = True
        yield dumps(channel.result if channel.result is not None else {})
    finally:
        slot.release()
        _stream_ended(engine, loop, channel, cancel=slot.watch and not finished)


def run_headers(thread_id: str | None, run_id: str, tail: str) -> dict[str, str]:
    base = f"/threads/{thread_id}/runs/{run_id}" if thread_id else f"/runs/{run_id}"
    return {"location": f"{base}/{tail}", "content-location": base}

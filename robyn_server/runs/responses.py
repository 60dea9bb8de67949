"""Streaming HTTP answers over a run's event channel: SSE streams and long-poll /wait.

Robyn only notices a gone client when a write fails, so every stream writes a heartbeat
after `heartbeat` seconds of silence; the generator then sees GeneratorExit at its
`yield`, and its `finally` applies `on_disconnect` (see `StreamSlots` for when that
happens, and on which thread).

Each open stream holds one of Robyn's blocking threads (field notes §1.4), so the engine
counts open streams and new ones beyond the cap get a 503 before any run is created.
"""

from __future__ import annotations

import asyncio
import logging
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


class StreamSlots:
    """Counts open streaming responses against the configured cap.

    A stream whose client left is let go by Robyn's native side without holding the
    GIL, and pyo3 defers that release until the next call between Python and native
    code. Until then the stream's generator is not finalized: its slot stays taken and
    on_disconnect=cancel does not happen, forever on an otherwise quiet server. So while
    streams are open, a task calls into Robyn's native code once per heartbeat.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0
        self._flusher: asyncio.Task | None = None

    def opened(self, heartbeat: float) -> None:
        self.open += 1
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush(heartbeat))

    def closed(self) -> None:
        self.open -= 1

    async def _flush(self, heartbeat: float) -> None:
        while self.open > 0:
            await asyncio.sleep(heartbeat)
            Headers({})  # any native call applies pyo3's deferred releases

    def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()

    def check(self) -> None:
        if self.open >= self.limit:
            raise ServiceUnavailable(
                f"Too many open streams ({self.open}); try again shortly or raise "
                "MAX_OPEN_STREAMS with more SERVER_WORKERS"
            )


def _response(body: AsyncIterator[bytes], headers: dict[str, str], media: str) -> StreamingResponse:
    response = StreamingResponse(body, headers=Headers({}), media_type=media)
    for key, value in headers.items():
        response.headers.set(key, value)
    return response


def sse_response(body: AsyncIterator[bytes], headers: dict[str, str]) -> StreamingResponse:
    return _response(body, {**SSE_HEADERS, **headers}, SSE_HEADERS["content-type"])


def json_stream_response(body: AsyncIterator[bytes], headers: dict[str, str]) -> StreamingResponse:
    return _response(body, {"content-type": "application/json", **headers}, "application/json")


async def follow(
    engine: RunEngine,
    channel: RunChannel,
    start: int,
    *,
    with_ids: bool,
    accept: Callable[[str], bool] | None = None,
    cancel_on_disconnect: bool = False,
) -> AsyncIterator[bytes]:
    """SSE frames of a run from event `start` until it ends."""
    loop = asyncio.get_running_loop()
    engine.stream_slots.opened(engine.heartbeat)
    finished = False
    try:
        async for event in channel.follow(start, engine.heartbeat):
            if event is None:
                yield HEARTBEAT
            elif accept is None or accept(event.name):
                yield event.frame(with_ids)
        finished = True
    finally:
        _stream_ended(engine, loop, channel, cancel=cancel_on_disconnect and not finished)


def _stream_ended(
    engine: RunEngine, loop: asyncio.AbstractEventLoop, channel: RunChannel, *, cancel: bool
) -> None:
    """Free the stream's slot and apply on_disconnect=cancel, on the server's loop.

    When a client leaves, Robyn drops the stream later, on one of its own threads, and
    the generator's `finally` runs there, where no event loop is running."""

    def on_loop() -> None:
        engine.stream_slots.closed()
        if cancel and not channel.done:
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
    engine: RunEngine,
    channel: RunChannel,
    *,
    cancel_on_disconnect: bool = False,
) -> AsyncIterator[bytes]:
    """A long-poll JSON answer: a newline every heartbeat while the run executes (legal
    leading whitespace, and how a gone client is noticed), then the result."""
    loop = asyncio.get_running_loop()
    engine.stream_slots.opened(engine.heartbeat)
    finished = False
    try:
        while not await channel.wait_done(engine.heartbeat):
            yield b"\n"
        finished = True
        yield dumps(channel.result if channel.result is not None else {})
    finally:
        _stream_ended(engine, loop, channel, cancel=cancel_on_disconnect and not finished)


def run_headers(thread_id: str | None, run_id: str, tail: str) -> dict[str, str]:
    base = f"/threads/{thread_id}/runs/{run_id}" if thread_id else f"/runs/{run_id}"
    return {"location": f"{base}/{tail}", "content-location": base}

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
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from robyn_server.engine.broker import HEARTBEAT, Event, RunChannel
from robyn_server.engine.stream_slots import WATCH_SECONDS, StreamSlot
from robyn_server.serialization import dumps

if TYPE_CHECKING:
    from robyn_server.engine.engine import RunEngine

logger = logging.getLogger("robyn_server.engine")


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

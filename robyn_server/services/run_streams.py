"""What the run endpoints answer: a run's events (SSE frames), or its final values as a
long-poll JSON body (/wait, /join, /cancel?wait). Bodies are byte iterators; the HTTP
layer only wraps them in a streaming response.

Robyn only notices a gone client when a write fails, so every stream writes a heartbeat
after `heartbeat` seconds of silence (each stream's interval drawn up to 20% shorter, so
streams opened together do not beat together); the HTTP layer then stops the generator
(http/stream_body.py), and its `finally` applies `on_disconnect` (see `StreamSlots` for
when that happens, and on which thread). A stream that cancels its run when the client leaves
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
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from robyn_server.auth.caller import Caller
from robyn_server.engine.broker import HEARTBEAT, Event, RunChannel
from robyn_server.engine.engine import RunEngine
from robyn_server.engine.stream_slots import WATCH_SECONDS, StreamSlot, jittered
from robyn_server.errors import ServiceUnavailable
from robyn_server.schemas.runs import RunCreate
from robyn_server.serialization import dumps
from robyn_server.services import runs
from robyn_server.services.context import AppContext
from robyn_server.services.run_create import CreatedRun, create_run
from robyn_server.storage.types import ANONYMOUS

# A complete answer, or a body that streams it (heartbeats first).
Answer = dict[str, Any] | AsyncIterator[bytes]
RUN_NOT_FOUND = {"error": "HTTPException", "message": "404: Run not found"}

logger = logging.getLogger("robyn_server.engine")


def _heartbeat(engine: RunEngine, slot: StreamSlot) -> float:
    return jittered(min(engine.heartbeat, WATCH_SECONDS) if slot.watch else engine.heartbeat)


def suspended(engine: RunEngine, channel: RunChannel) -> bool:
    """The run was put back to pending by a shutdown: its channel closed without a
    result while the engine stops (every run that ends has a result, `{}` at least)."""
    return channel.done and channel.result is None and engine.stopping


async def _until_exit(heartbeat: float, beat: bytes) -> AsyncIterator[bytes]:
    """Keep a suspended run's answer open until the process exits and cuts it."""
    while True:
        await asyncio.sleep(heartbeat)
        yield beat


class StreamView(Protocol):
    """How a protocol other than the run API's own (A2A, MCP) shows a run's stream:
    bytes before the first event, per event, and once the run has ended."""

    def opening(self) -> bytes: ...

    def event(self, event: Event) -> bytes | None: ...

    async def closing(self, channel: RunChannel) -> bytes: ...


async def follow(
    engine: RunEngine,
    channel: RunChannel,
    start: int,
    slot: StreamSlot,
    *,
    with_ids: bool,
    accept: Callable[[str], bool] | None = None,
    view: StreamView | None = None,
) -> AsyncIterator[bytes]:
    """SSE frames of a run from event `start` until it ends (as `view` renders them,
    if given). The run is cancelled if the client leaves first and `slot.watch`
    (on_disconnect=cancel) is set."""
    loop = asyncio.get_running_loop()
    heartbeat = _heartbeat(engine, slot)
    finished = False
    try:
        if view is not None and (head := view.opening()):
            yield head
        async for event in channel.follow(start, heartbeat):
            if event is None:
                yield HEARTBEAT
            elif view is not None:
                if (chunk := view.event(event)) is not None:
                    yield chunk
            elif accept is None or accept(event.name):
                yield event.frame(with_ids)
        if suspended(engine, channel):
            async for beat in _until_exit(heartbeat, HEARTBEAT):
                yield beat
        if view is not None:
            yield await view.closing(channel)
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


async def _final_values(channel: RunChannel) -> bytes:
    return dumps(channel.result if channel.result is not None else {})


async def wait_body(
    engine: RunEngine,
    channel: RunChannel,
    slot: StreamSlot,
    render: Callable[[RunChannel], Awaitable[bytes]] = _final_values,
) -> AsyncIterator[bytes]:
    """A long-poll JSON answer: a newline every heartbeat while the run executes (legal
    leading whitespace, and how a gone client is noticed), then the result (the final
    values, or what `render` makes of the ended run)."""
    loop = asyncio.get_running_loop()
    heartbeat = _heartbeat(engine, slot)
    finished = False
    try:
        while not await channel.wait_done(heartbeat):
            yield b"\n"
        if suspended(engine, channel):
            async for beat in _until_exit(heartbeat, b"\n"):
                yield beat
        body = await render(channel)
        finished = True
        yield body
    finally:
        slot.release()
        _stream_ended(engine, loop, channel, cancel=slot.watch and not finished)


# -- what the run endpoints answer ----------------------------------------------------------


def reserve(ctx: AppContext, *, watch: bool = False) -> StreamSlot:
    """A place under the stream cap (503 beyond it), taken before any work is done."""
    engine = ctx.run_engine()
    return engine.stream_slots.reserve(engine.heartbeat, watch=watch)


async def create_streamed(
    ctx: AppContext,
    caller: Caller,
    thread_id: str | None,
    body: RunCreate,
    request_id: str | None,
) -> tuple[CreatedRun, StreamSlot]:
    """Create a run whose answer streams: the stream's slot is taken first, so a
    refused request creates nothing, and given back if the run cannot be created."""
    slot = reserve(ctx, watch=body.on_disconnect == "cancel")
    try:
        created = await create_run(ctx, caller, thread_id, body, request_id=request_id)
    except BaseException:
        slot.release()
        raise
    return created, slot


def run_events(
    ctx: AppContext,
    created: CreatedRun,
    slot: StreamSlot,
    *,
    with_ids: bool,
    view: StreamView | None = None,
) -> AsyncIterator[bytes]:
    return follow(ctx.run_engine(), created.channel, 0, slot, with_ids=with_ids, view=view)


def run_answer(
    ctx: AppContext,
    created: CreatedRun,
    slot: StreamSlot,
    render: Callable[[RunChannel], Awaitable[bytes]] = _final_values,
) -> AsyncIterator[bytes]:
    return wait_body(ctx.run_engine(), created.channel, slot, render)


async def cancel_and_answer(
    ctx: AppContext, caller: Caller, thread_id: str, run_id: str, action: str
) -> Answer:
    """Cancel a run, then answer with its final values once it has stopped."""
    engine = ctx.run_engine()
    channel = engine.broker.get(run_id)
    run = await runs.cancel_run(ctx, caller, thread_id, run_id, action)
    if channel is None:
        # Executing in another process (or gone): once it has stopped there, the answer
        # is the thread's state, as /join gives for a run that has ended.
        await engine.wait_stopped(run_id, seconds=30)
        if action == "rollback":
            return {}
        return await runs.finished_result(ctx, ANONYMOUS, {**run, "status": "interrupted"})
    try:
        slot = reserve(ctx)
    except ServiceUnavailable:
        # The cancel happened; at the stream cap its answer waits without a stream.
        await channel.wait_done(30)
        return channel.result or {}
    return wait_body(engine, channel, slot)


async def join(
    ctx: AppContext, caller: Caller, thread_id: str, run_id: str, *, cancel: bool
) -> Answer:
    """The run's final values: at once if it has ended, else once it ends."""
    scope = await caller.scope("threads", "read", {"thread_id": thread_id, "run_id": run_id})
    run = await ctx.storage.run_get(scope, run_id, thread_id=thread_id)
    if run is None:
        return {"__error__": RUN_NOT_FOUND}
    engine = ctx.run_engine()
    channel = await engine.broker.attach(run)
    if channel is None or (channel.result is None and channel.done and not engine.stopping):
        return await runs.finished_result(ctx, scope, run)
    # A run suspended by a shutdown gets an answer that never completes (see wait_body).
    return wait_body(engine, channel, reserve(ctx, watch=cancel))


async def join_events(
    ctx: AppContext,
    caller: Caller,
    thread_id: str,
    run_id: str,
    *,
    accept: Callable[[str], bool] | None,
    cancel: bool,
    last_event_id: str | None,
    view: StreamView | None = None,
) -> AsyncIterator[bytes]:
    """A run's events from `last_event_id` on (from the start if resumable), live
    (as `view` renders them, if given)."""
    scope = await caller.scope("threads", "read", {"thread_id": thread_id, "run_id": run_id})
    run = await ctx.storage.run_get(scope, run_id, thread_id=thread_id)
    if run is None:
        return single_event("error", RUN_NOT_FOUND)
    engine = ctx.run_engine()
    channel = await engine.broker.attach(run)
    if channel is None:
        return empty()
    slot = reserve(ctx, watch=cancel)
    start = channel.start_index(last_event_id)
    return follow(
        engine, channel, start, slot, with_ids=channel.resumable, accept=accept, view=view
    )

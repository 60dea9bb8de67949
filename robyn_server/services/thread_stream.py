"""One long-lived event stream over all runs of a thread, and its state updates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from robyn_server.auth.caller import Caller
from robyn_server.engine.broker import HEARTBEAT, Event, parse_event_id
from robyn_server.engine.engine import RunEngine
from robyn_server.engine.stream_slots import StreamSlot, jittered
from robyn_server.errors import ValidationFailed
from robyn_server.services.context import AppContext
from robyn_server.services.run_streams import reserve
from robyn_server.services.runs import require_thread

THREAD_STREAM_MODES = ("run_modes", "lifecycle", "state_update")


async def thread_events(
    ctx: AppContext, caller: Caller, thread_id: str, modes: list[str], last_event_id: str | None
) -> AsyncIterator[bytes]:
    """The thread's events in the modes asked for (values may be comma-separated), after
    `last_event_id` if given, then live."""
    scope = await caller.scope("threads", "read", {"thread_id": thread_id})
    await require_thread(ctx, scope, thread_id)
    wanted = _wanted(modes)
    slot = reserve(ctx)
    after = parse_event_id(last_event_id) if last_event_id is not None else None
    return _thread_events(ctx.run_engine(), thread_id, wanted, after, slot)


def _accept(modes: set[str], event: Event) -> bool:
    if event.name == "state_update":
        return "state_update" in modes
    if "run_modes" in modes:
        return True
    return "lifecycle" in modes and event.name == "metadata"


async def _thread_events(
    engine: RunEngine, thread_id: str, modes: set[str], after: Any, slot: StreamSlot
) -> AsyncIterator[bytes]:
    broker, heartbeat = engine.broker, jittered(engine.heartbeat)
    loop = asyncio.get_running_loop()
    watch = broker.watch_thread(thread_id, after)
    # Replayed events that may also reach the queue: events that arrived while the
    # replay read storage (on PostgreSQL it may).
    replayed: set[tuple[int, int]] = set()
    try:
        if after is not None:
            for event in await broker.replay_thread(thread_id, after):
                replayed.add(event.key)
                if _accept(modes, event):
                    yield event.frame(True)
        while True:
            try:
                async with asyncio.timeout(heartbeat):  # no task per wait, as wait_for makes
                    event = await watch.queue.get()
            except TimeoutError:
                yield HEARTBEAT
                continue
            if replayed and event.key in replayed:
                continue
            if _accept(modes, event):
                yield event.frame(True)
    finally:
        # A client that left is noticed by Robyn, which drops the stream later on one of
        # its own threads: unwatch on the loop, where the broker iterates its watchers.
        slot.release()
        if not loop.is_closed():
            loop.call_soon_threadsafe(broker.unwatch_thread, thread_id, watch)


def _wanted(values: list[str]) -> set[str]:
    modes = {part.strip() for value in values for part in value.split(",") if part.strip()}
    unknown = modes - set(THREAD_STREAM_MODES)
    if unknown:
        raise ValidationFailed(
            f"stream_mode: unknown {', '.join(sorted(unknown))}; "
            f"expected {', '.join(THREAD_STREAM_MODES)}"
        )
    return modes or {"run_modes"}

"""GET /threads/{id}/stream: one long-lived SSE stream over all runs of a thread."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from robyn_server.engine.broker import HEARTBEAT, Event, parse_event_id
from robyn_server.engine.stream_slots import StreamSlot
from robyn_server.errors import ValidationFailed
from robyn_server.http.requests import ApiRequest, parse_uuid
from robyn_server.http.routing import RouteTable, list_param
from robyn_server.http.sse import sse_response
from robyn_server.routes._common import scope_for
from robyn_server.services.context import get_context
from robyn_server.services.runs import require_thread

if TYPE_CHECKING:
    from robyn_server.engine.engine import RunEngine

table = RouteTable()
THREAD_STREAM_MODES = ("run_modes", "lifecycle", "state_update")


def _wanted(req: ApiRequest) -> set[str]:
    # The reference reads `stream_modes`; both SDKs send `stream_mode`: accept both.
    modes = {
        part.strip()
        for name in ("stream_modes", "stream_mode")
        for value in req.query_all(name)
        for part in value.split(",")
        if part.strip()
    }
    unknown = modes - set(THREAD_STREAM_MODES)
    if unknown:
        raise ValidationFailed(
            f"stream_mode: unknown {', '.join(sorted(unknown))}; "
            f"expected {', '.join(THREAD_STREAM_MODES)}"
        )
    return modes or {"run_modes"}


def _accept(modes: set[str], event: Event) -> bool:
    if event.name == "state_update":
        return "state_update" in modes
    if "run_modes" in modes:
        return True
    return "lifecycle" in modes and event.name == "metadata"


async def _thread_events(
    engine: RunEngine, thread_id: str, modes: set[str], after: Any, slot: StreamSlot
) -> AsyncIterator[bytes]:
    broker, heartbeat = engine.broker, engine.heartbeat
    loop = asyncio.get_running_loop()
    watch = broker.watch_thread(thread_id)
    try:
        if after is not None:
            for event in broker.thread_replay(thread_id, after):
                if _accept(modes, event):
                    yield event.frame(True)
        while True:
            try:
                event = await asyncio.wait_for(watch.queue.get(), heartbeat)
            except TimeoutError:
                yield HEARTBEAT
                continue
            if _accept(modes, event):
                yield event.frame(True)
    finally:
        # A client that left is noticed by Robyn, which drops the stream later on one of
        # its own threads: unwatch on the loop, where the broker iterates its watchers.
        slot.release()
        if not loop.is_closed():
            loop.call_soon_threadsafe(broker.unwatch_thread, thread_id, watch)


@table.route(
    "GET",
    "/threads/:thread_id/stream",
    summary="Stream every run of a thread, and its state updates",
    tags=["Threads"],
    query={
        "stream_mode": list_param(
            "run_modes (default), lifecycle, state_update; comma-separated too",
            # Empty values are skipped, like empty parts of "a,,b".
            {"type": "string", "enum": ["", *THREAD_STREAM_MODES]},
        )
    },
    responses={200: ("A text/event-stream of the thread's events", None)},
)
async def join_thread_stream(req: ApiRequest) -> Any:
    ctx = get_context()
    thread_id = parse_uuid(req.path_params["thread_id"], "thread ID")
    await require_thread(ctx, scope_for(req), thread_id)
    modes = _wanted(req)
    slot = ctx.engine.stream_slots.reserve(ctx.engine.heartbeat)
    last = req.header("last-event-id")
    after = parse_event_id(last) if last is not None else None
    body = _thread_events(ctx.engine, thread_id, modes, after, slot)
    return sse_response(body, {"content-location": f"/threads/{thread_id}/stream"})

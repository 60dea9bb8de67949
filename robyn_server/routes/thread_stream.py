"""GET /threads/{id}/stream: one long-lived SSE stream over all runs of a thread."""

from __future__ import annotations

from typing import Any

from robyn_server.http.requests import ApiRequest
from robyn_server.http.routing import RouteTable, list_param
from robyn_server.http.sse import sse_response
from robyn_server.routes._common import caller_for
from robyn_server.services import thread_stream
from robyn_server.services.context import get_context
from robyn_server.storage.types import parse_uuid

table = RouteTable()


@table.route(
    "GET",
    "/threads/:thread_id/stream",
    summary="Stream every run of a thread, and its state updates",
    tags=["Threads"],
    query={
        "stream_mode": list_param(
            "run_modes (default), lifecycle, state_update; comma-separated too",
            # Empty values are skipped, like empty parts of "a,,b".
            {"type": "string", "enum": ["", *thread_stream.THREAD_STREAM_MODES]},
        )
    },
    responses={200: ("A text/event-stream of the thread's events", None)},
)
async def join_thread_stream(req: ApiRequest) -> Any:
    thread_id = parse_uuid(req.path_params["thread_id"], "thread ID")
    # The reference reads `stream_modes`; both SDKs send `stream_mode`: accept both.
    modes = req.query_all("stream_modes") + req.query_all("stream_mode")
    events = await thread_stream.thread_events(
        get_context(), caller_for(req), thread_id, modes, req.header("last-event-id")
    )
    return sse_response(events, {"content-location": f"/threads/{thread_id}/stream"})

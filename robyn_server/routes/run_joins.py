"""Cancelling a run, and waiting for it: /cancel, /join and the join stream."""

from __future__ import annotations

from typing import Any, get_args

import orjson

from robyn_server.engine.broker import mode_filter
from robyn_server.errors import ServiceUnavailable, ValidationFailed
from robyn_server.http.requests import ApiRequest, parse_bool, parse_uuid
from robyn_server.http.responses import empty_response, json_response
from robyn_server.http.routing import BOOLEAN, Param, RouteTable, list_param
from robyn_server.http.sse import json_stream_response, sse_response
from robyn_server.routes._common import run_headers, scope_for
from robyn_server.routes.runs import (
    ACTION,
    CANCEL_ACTIONS,
    RUN_QUERY,
    STATELESS,
    STREAM,
    TAGS,
    WAIT,
    run_path_ids,
)
from robyn_server.schemas.runs import RunCancelMany, StreamMode
from robyn_server.services import runs
from robyn_server.services.context import get_context
from robyn_server.services.run_streams import empty, follow, single_event, wait_body
from robyn_server.storage.types import INFLIGHT_STATUSES

STREAM_MODES = get_args(StreamMode)

table = RouteTable()
route = table.route


# -- cancelling ------------------------------------------------------------------------------


def _action(req: ApiRequest) -> str:
    action = req.query_one("action") or "interrupt"
    if action not in CANCEL_ACTIONS:
        raise ValidationFailed("action: must be 'interrupt' or 'rollback'")
    return action


@route(
    "POST",
    "/threads/:thread_id/runs/:run_id/cancel",
    summary="Cancel a run",
    tags=TAGS,
    query={"wait": Param("Wait for the run to stop", BOOLEAN), **ACTION},
    responses={202: "Cancelling", **WAIT},
)
async def cancel_run(req: ApiRequest) -> Any:
    ctx = get_context()
    thread_id, run_id = run_path_ids(req)
    wait = parse_bool(req.query_one("wait"))
    action = _action(req)
    channel = ctx.broker.get(run_id)
    await runs.cancel_run(ctx, scope_for(req), thread_id, run_id, action)
    if not wait:
        return empty_response(202)
    headers = run_headers(thread_id, run_id, "join")
    if channel is None:
        await ctx.engine.wait_stopped(run_id, seconds=30)
        return json_response({}, headers=headers)
    try:
        slot = ctx.engine.stream_slots.reserve(ctx.engine.heartbeat)
    except ServiceUnavailable:
        # The cancel happened; at the stream cap its answer waits without a stream.
        await channel.wait_done(30)
        return json_response(channel.result or {}, headers=headers)
    return json_stream_response(wait_body(ctx.engine, channel, slot), headers)


@route(
    "POST",
    "/runs/cancel",
    summary="Cancel runs by status, or by thread and ids",
    tags=STATELESS,
    query=ACTION,
    body=RunCancelMany,
    responses={204: "Cancelled", 404: "No runs to cancel"},
)
async def cancel_runs(req: ApiRequest) -> Any:
    body = req.model(RunCancelMany)
    thread_id = parse_uuid(body.thread_id, "thread ID") if body.thread_id else None
    run_ids = [parse_uuid(r, "run ID") for r in body.run_ids] if body.run_ids else None
    await runs.cancel_many(
        get_context(),
        scope_for(req),
        status=body.status,
        thread_id=thread_id,
        run_ids=run_ids,
        action=_action(req),
    )
    return empty_response()


# -- joining ---------------------------------------------------------------------------------


async def _channel_for(ctx: Any, run: dict[str, Any]) -> Any:
    channel = ctx.broker.get(run["run_id"])
    if channel is None and run["status"] in INFLIGHT_STATUSES:
        # Queued (or recovered) and not started yet: watchers attach to the channel the
        # executor will publish to.
        channel = ctx.broker.open(
            run["run_id"], run["thread_id"], bool(run["kwargs"].get("resumable"))
        )
    return channel


@route(
    "GET",
    "/threads/:thread_id/runs/:run_id/join",
    summary="Wait for a run and get its final state",
    tags=TAGS,
    query=RUN_QUERY,
    responses=WAIT,
)
async def join_run(req: ApiRequest) -> Any:
    ctx = get_context()
    scope = scope_for(req)
    thread_id, run_id = run_path_ids(req)
    # Checked first: a bad value is a 422 whatever the run's state.
    cancel = parse_bool(req.query_one("cancel_on_disconnect"))
    headers = run_headers(thread_id, run_id, "join")
    run = await ctx.storage.run_get(scope, run_id, thread_id=thread_id)
    if run is None:
        missing = {"__error__": {"error": "HTTPException", "message": "404: Run not found"}}
        return json_response(missing, headers=headers)
    channel = await _channel_for(ctx, run)
    engine = ctx.engine
    if channel is None or (channel.result is None and channel.done and not engine.stopping):
        return json_response(await runs.finished_result(ctx, scope, run), headers=headers)
    # A run suspended by a shutdown gets an answer that never completes (see wait_body).
    slot = engine.stream_slots.reserve(engine.heartbeat, watch=cancel)
    return json_stream_response(wait_body(engine, channel, slot), headers)


def _join_modes(req: ApiRequest) -> list[str]:
    """The join stream's `stream_mode` values (repeated, comma-separated or a JSON list);
    an unknown mode is a 422 as at run creation, not a stream that filters out everything."""
    modes: list[str] = []
    for value in req.query_all("stream_mode"):
        value = value.strip()
        if value.startswith("["):
            try:
                modes.extend(str(v) for v in orjson.loads(value))
                continue
            except (ValueError, TypeError):
                pass
        modes.extend(part.strip() for part in value.split(",") if part.strip())
    unknown = [mode for mode in dict.fromkeys(modes) if mode not in STREAM_MODES]
    if unknown:
        raise ValidationFailed(
            f"stream_mode: invalid stream mode {', '.join(map(repr, unknown))}; "
            f"expected {', '.join(STREAM_MODES)}"
        )
    return modes


@route(
    "GET",
    "/threads/:thread_id/runs/:run_id/stream",
    summary="Join a run's event stream",
    tags=TAGS,
    query={
        **RUN_QUERY,
        "stream_mode": list_param(
            "Only these modes (comma-separated too)",
            # Empty values are skipped, like empty parts of "a,,b".
            {"type": "string", "enum": ["", *STREAM_MODES]},
        ),
    },
    responses=STREAM,
)
async def join_run_stream(req: ApiRequest) -> Any:
    ctx = get_context()
    thread_id, run_id = run_path_ids(req)
    headers = run_headers(thread_id, run_id, "stream")
    accept = mode_filter(_join_modes(req))
    cancel = parse_bool(req.query_one("cancel_on_disconnect"))
    run = await ctx.storage.run_get(scope_for(req), run_id, thread_id=thread_id)
    if run is None:
        error = {"error": "HTTPException", "message": "404: Run not found"}
        return sse_response(single_event("error", error), headers)
    channel = await _channel_for(ctx, run)
    if channel is None:
        return sse_response(empty(), headers)
    slot = ctx.engine.stream_slots.reserve(ctx.engine.heartbeat, watch=cancel)
    start = channel.start_index(req.header("last-event-id"))
    events = follow(ctx.engine, channel, start, slot, with_ids=channel.resumable, accept=accept)
    return sse_response(events, headers)

"""/threads/{id}/runs and /runs: create (background, stream, wait), read, cancel, join."""

from __future__ import annotations

from typing import Any, get_args

import orjson
from pydantic import ValidationError

from robyn_server.auth import scope_for
from robyn_server.context import get_context
from robyn_server.errors import ServiceUnavailable, ValidationFailed
from robyn_server.http import (
    BOOLEAN,
    ApiRequest,
    Param,
    RouteTable,
    empty_response,
    enum_param,
    format_validation_error,
    integer_param,
    json_response,
    list_param,
    parse_bool,
    parse_uuid,
)
from robyn_server.runs.broker import mode_filter
from robyn_server.runs.responses import (
    StreamSlot,
    empty,
    follow,
    json_stream_response,
    run_headers,
    single_event,
    sse_response,
    wait_body,
)
from robyn_server.serialization import project
from robyn_server.services import runs
from robyn_server.services.run_create import CreatedRun, check_run, create_run
from robyn_server.storage.base_runs import INFLIGHT_STATUSES, RUN_STATUSES
from robyn_server.wire import MAX_OFFSET
from robyn_server.wire_responses import Run, RunSelection
from robyn_server.wire_runs import RunBatch, RunCancelMany, RunCreate, StreamMode

STREAM_MODES = get_args(StreamMode)

table = RouteTable()
route = table.route
TAGS = ["Thread Runs"]
STATELESS = ["Stateless Runs"]
RUN_QUERY = {"cancel_on_disconnect": Param("Cancel the run if this client disconnects", BOOLEAN)}
ACTION = {"action": enum_param("interrupt (default) or rollback", ("interrupt", "rollback"))}
REFUSED = {
    400: "The body's fields contradict each other (config.configurable and context, ...)",
    404: "Thread or assistant not found",
}
ON_THREAD = {**REFUSED, 409: "The thread is busy (multitask_strategy reject)"}
STREAM = {200: ("A text/event-stream of the run's events", None)}
# What /wait and /join answer: the final state's values, or {"__error__": ...}.
RUN_FIELDS = list(Run.model_fields)
WAIT = {200: ("The run's final values", dict[str, Any])}


def _ids(req: ApiRequest) -> tuple[str, str]:
    return (
        parse_uuid(req.path_params["thread_id"], "thread ID"),
        parse_uuid(req.path_params["run_id"], "run ID"),
    )


def _thread_id(req: ApiRequest) -> str:
    return parse_uuid(req.path_params["thread_id"], "thread ID")


async def _create(req: ApiRequest, thread_id: str | None, body: RunCreate) -> CreatedRun:
    return await create_run(
        get_context(), scope_for(req), thread_id, body, request_id=req.header("x-request-id")
    )


async def _create_streamed(
    req: ApiRequest, thread_id: str | None
) -> tuple[RunCreate, CreatedRun, StreamSlot]:
    """Create a run whose answer streams: the stream's slot is taken first, so a
    refused request creates nothing, and given back if the run cannot be created."""
    body = req.model(RunCreate)
    engine = get_context().engine
    slot = engine.stream_slots.reserve(engine.heartbeat, watch=body.on_disconnect == "cancel")
    try:
        created = await _create(req, thread_id, body)
    except BaseException:
        slot.release()
        raise
    return body, created, slot


# -- creating ------------------------------------------------------------------------------


async def _background(req: ApiRequest, thread_id: str | None) -> Any:
    created = await _create(req, thread_id, req.model(RunCreate))
    headers = run_headers(thread_id, created.run["run_id"], "")
    return json_response(
        runs.present(created.run), headers={"content-location": headers["content-location"]}
    )


async def _stream(req: ApiRequest, thread_id: str | None) -> Any:
    body, created, slot = await _create_streamed(req, thread_id)
    events = follow(get_context().engine, created.channel, 0, slot, with_ids=body.stream_resumable)
    return sse_response(events, run_headers(thread_id, created.run["run_id"], "stream"))


async def _wait(req: ApiRequest, thread_id: str | None) -> Any:
    _, created, slot = await _create_streamed(req, thread_id)
    answer = wait_body(get_context().engine, created.channel, slot)
    return json_stream_response(
        answer, run_headers(created.thread_id, created.run["run_id"], "join")
    )


@route(
    "POST",
    "/threads/:thread_id/runs",
    summary="Create a background run",
    tags=TAGS,
    body=RunCreate,
    responses=ON_THREAD,
    response=Run,
)
async def create_background_run(req: ApiRequest) -> Any:
    return await _background(req, _thread_id(req))


@route(
    "POST",
    "/threads/:thread_id/runs/stream",
    summary="Create a run and stream it",
    tags=TAGS,
    body=RunCreate,
    responses={**ON_THREAD, **STREAM},
)
async def create_streamed_run(req: ApiRequest) -> Any:
    return await _stream(req, _thread_id(req))


@route(
    "POST",
    "/threads/:thread_id/runs/wait",
    summary="Create a run and wait for it",
    tags=TAGS,
    body=RunCreate,
    responses={**ON_THREAD, **WAIT},
)
async def create_waited_run(req: ApiRequest) -> Any:
    return await _wait(req, _thread_id(req))


@route(
    "POST",
    "/runs",
    summary="Create a stateless background run",
    tags=STATELESS,
    body=RunCreate,
    responses=REFUSED,
    response=Run,
)
async def create_stateless_run(req: ApiRequest) -> Any:
    return await _background(req, None)


@route(
    "POST",
    "/runs/stream",
    summary="Create a stateless run and stream it",
    tags=STATELESS,
    body=RunCreate,
    responses={**REFUSED, **STREAM},
)
async def create_stateless_streamed_run(req: ApiRequest) -> Any:
    return await _stream(req, None)


@route(
    "POST",
    "/runs/wait",
    summary="Create a stateless run and wait for it",
    tags=STATELESS,
    body=RunCreate,
    responses={**REFUSED, **WAIT},
)
async def create_stateless_waited_run(req: ApiRequest) -> Any:
    return await _wait(req, None)


@route(
    "POST",
    "/runs/batch",
    summary="Create several stateless background runs",
    tags=STATELESS,
    body=RunBatch,
    responses=REFUSED,
    response=list[Run],
)
async def create_run_batch(req: ApiRequest) -> Any:
    items = req.json()
    if not isinstance(items, list) or not items:
        raise ValidationFailed("Request body must be a non-empty JSON array of runs")
    bodies = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValidationFailed(f"{index}: must be a JSON object")
        try:
            bodies.append(RunCreate.model_validate(item))
        except ValidationError as exc:
            raise ValidationFailed(f"{index}: {format_validation_error(exc)}") from None
    ctx = get_context()
    scope = scope_for(req)
    # All or nothing: a refused item must not leave the items before it running.
    for body in bodies:
        await check_run(ctx, scope, body, stateless=True)
    created = [await create_run(ctx, scope, None, body) for body in bodies]
    return [runs.present(c.run) for c in created]


# -- reading and deleting --------------------------------------------------------------------


@route(
    "GET",
    "/threads/:thread_id/runs",
    summary="List a thread's runs, newest first",
    tags=TAGS,
    query={
        "limit": integer_param("Page size", 1, MAX_OFFSET, 10),
        "offset": integer_param("How many runs to skip", 0, MAX_OFFSET, 0),
        "status": enum_param("Only runs in this status", RUN_STATUSES),
        "select": list_param("Fields to return", {"type": "string", "enum": RUN_FIELDS}),
    },
    response=list[Run | RunSelection],
)
async def list_runs(req: ApiRequest) -> Any:
    status = req.query_one("status") or None
    if status is not None and status not in RUN_STATUSES:
        raise ValidationFailed(f"status: must be one of {', '.join(RUN_STATUSES)}")
    select = req.query_all("select") or None
    if unknown := sorted(set(select or ()) - set(RUN_FIELDS)):
        # As the reference does, rather than answering objects without those fields.
        raise ValidationFailed(f"select: unknown fields {unknown}; use {', '.join(RUN_FIELDS)}")
    found = await runs.list_runs(
        get_context(),
        scope_for(req),
        _thread_id(req),
        limit=req.query_int("limit", 10, minimum=1, maximum=MAX_OFFSET),
        offset=req.query_int("offset", 0, minimum=0, maximum=MAX_OFFSET),
        status=status,
    )
    return project(found, select)


@route("GET", "/threads/:thread_id/runs/:run_id", summary="Get a run", tags=TAGS, response=Run)
async def get_run(req: ApiRequest) -> Any:
    thread_id, run_id = _ids(req)
    return await runs.get_run(get_context(), scope_for(req), thread_id, run_id)


@route(
    "DELETE",
    "/threads/:thread_id/runs/:run_id",
    summary="Delete a run",
    tags=TAGS,
    responses={204: "Deleted"},
)
async def delete_run(req: ApiRequest) -> Any:
    thread_id, run_id = _ids(req)
    await runs.delete_run(get_context(), scope_for(req), thread_id, run_id)
    return empty_response()


# -- cancelling ------------------------------------------------------------------------------


def _action(req: ApiRequest) -> str:
    action = req.query_one("action") or "interrupt"
    if action not in ("interrupt", "rollback"):
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
    thread_id, run_id = _ids(req)
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
    thread_id, run_id = _ids(req)
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
            {"type": "string", "enum": ["", *StreamMode.__args__]},
        ),
    },
    responses=STREAM,
)
async def join_run_stream(req: ApiRequest) -> Any:
    ctx = get_context()
    thread_id, run_id = _ids(req)
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

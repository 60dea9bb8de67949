"""/threads/{id}/runs and /runs: create (background, stream, wait), list, read, delete.

Cancelling and joining a run are in `run_joins`."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from robyn_server.errors import ValidationFailed
from robyn_server.http.requests import ApiRequest, format_validation_error
from robyn_server.http.responses import empty_response, json_response
from robyn_server.http.routing import (
    BOOLEAN,
    Param,
    RouteTable,
    enum_param,
    integer_param,
    list_param,
)
from robyn_server.http.sse import json_stream_response, sse_response
from robyn_server.routes._common import caller_for, either, list_of, run_headers
from robyn_server.schemas.requests import MAX_OFFSET
from robyn_server.schemas.responses import Run, RunSelection
from robyn_server.schemas.runs import RunBatch, RunCreate
from robyn_server.serialization import project
from robyn_server.services import run_streams, runs
from robyn_server.services.context import get_context
from robyn_server.services.run_create import check_run, create_run
from robyn_server.storage.types import RUN_STATUSES, parse_uuid

table = RouteTable()
route = table.route
TAGS = ["Thread Runs"]
STATELESS = ["Stateless Runs"]
RUN_QUERY = {"cancel_on_disconnect": Param("Cancel the run if this client disconnects", BOOLEAN)}
CANCEL_ACTIONS = ("interrupt", "rollback")
ACTION = {"action": enum_param("interrupt (default) or rollback", CANCEL_ACTIONS)}
REFUSED = {
    400: "The body's fields contradict each other (config.configurable and context, ...)",
    404: "Thread or assistant not found",
}
ON_THREAD = {**REFUSED, 409: "The thread is busy (multitask_strategy reject)"}
STREAM = {200: ("A text/event-stream of the run's events", None)}
# What /wait and /join answer: the final state's values, or {"__error__": ...}.
RUN_FIELDS = list(Run.model_fields)
WAIT = {200: ("The run's final values", dict[str, Any])}


def run_path_ids(req: ApiRequest) -> tuple[str, str]:
    return (
        parse_uuid(req.path_params["thread_id"], "thread ID"),
        parse_uuid(req.path_params["run_id"], "run ID"),
    )


def _thread_id(req: ApiRequest) -> str:
    return parse_uuid(req.path_params["thread_id"], "thread ID")


async def _background(req: ApiRequest, thread_id: str | None, body: RunCreate) -> Any:
    created = await create_run(
        get_context(), caller_for(req), thread_id, body, request_id=req.header("x-request-id")
    )
    headers = run_headers(thread_id, created.run["run_id"], "")
    return json_response(
        runs.present(created.run), headers={"content-location": headers["content-location"]}
    )


async def _stream(req: ApiRequest, thread_id: str | None, body: RunCreate) -> Any:
    ctx = get_context()
    created, slot = await run_streams.create_streamed(
        ctx, caller_for(req), thread_id, body, req.header("x-request-id")
    )
    events = run_streams.run_events(ctx, created, slot, with_ids=body.stream_resumable)
    return sse_response(events, run_headers(thread_id, created.run["run_id"], "stream"))


async def _wait(req: ApiRequest, thread_id: str | None, body: RunCreate) -> Any:
    ctx = get_context()
    created, slot = await run_streams.create_streamed(
        ctx, caller_for(req), thread_id, body, req.header("x-request-id")
    )
    answer = run_streams.run_answer(ctx, created, slot)
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
async def create_background_run(req: ApiRequest, body: RunCreate) -> Any:
    return await _background(req, _thread_id(req), body)


@route(
    "POST",
    "/threads/:thread_id/runs/stream",
    summary="Create a run and stream it",
    tags=TAGS,
    body=RunCreate,
    responses={**ON_THREAD, **STREAM},
)
async def create_streamed_run(req: ApiRequest, body: RunCreate) -> Any:
    return await _stream(req, _thread_id(req), body)


@route(
    "POST",
    "/threads/:thread_id/runs/wait",
    summary="Create a run and wait for it",
    tags=TAGS,
    body=RunCreate,
    responses={**ON_THREAD, **WAIT},
)
async def create_waited_run(req: ApiRequest, body: RunCreate) -> Any:
    return await _wait(req, _thread_id(req), body)


@route(
    "POST",
    "/runs",
    summary="Create a stateless background run",
    tags=STATELESS,
    body=RunCreate,
    responses=REFUSED,
    response=Run,
)
async def create_stateless_run(req: ApiRequest, body: RunCreate) -> Any:
    return await _background(req, None, body)


@route(
    "POST",
    "/runs/stream",
    summary="Create a stateless run and stream it",
    tags=STATELESS,
    body=RunCreate,
    responses={**REFUSED, **STREAM},
)
async def create_stateless_streamed_run(req: ApiRequest, body: RunCreate) -> Any:
    return await _stream(req, None, body)


@route(
    "POST",
    "/runs/wait",
    summary="Create a stateless run and wait for it",
    tags=STATELESS,
    body=RunCreate,
    responses={**REFUSED, **WAIT},
)
async def create_stateless_waited_run(req: ApiRequest, body: RunCreate) -> Any:
    return await _wait(req, None, body)


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
    caller = caller_for(req)
    # All or nothing: a refused item must not leave the items before it running.
    for body in bodies:
        await check_run(ctx, caller, body, stateless=True)
    created = [await create_run(ctx, caller, None, body) for body in bodies]
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
    response=list_of(either(Run, RunSelection)),
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
        caller_for(req),
        _thread_id(req),
        limit=req.query_int("limit", 10, minimum=1, maximum=MAX_OFFSET),
        offset=req.query_int("offset", 0, minimum=0, maximum=MAX_OFFSET),
        status=status,
    )
    return project(found, select)


@route("GET", "/threads/:thread_id/runs/:run_id", summary="Get a run", tags=TAGS, response=Run)
async def get_run(req: ApiRequest) -> Any:
    thread_id, run_id = run_path_ids(req)
    return await runs.get_run(get_context(), caller_for(req), thread_id, run_id)


@route(
    "DELETE",
    "/threads/:thread_id/runs/:run_id",
    summary="Delete a run",
    tags=TAGS,
    responses={204: "Deleted"},
)
async def delete_run(req: ApiRequest) -> Any:
    thread_id, run_id = run_path_ids(req)
    await runs.delete_run(get_context(), caller_for(req), thread_id, run_id)
    return empty_response()

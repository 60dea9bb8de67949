"""Cancelling a run, and waiting for it: /cancel, /join and the join stream."""

from __future__ import annotations

from typing import Any, get_args

import orjson

from robyn_server.engine.broker import mode_filter
from robyn_server.errors import ValidationFailed
from robyn_server.http.requests import ApiRequest, parse_bool
from robyn_server.http.responses import empty_response, json_response
from robyn_server.http.routing import BOOLEAN, Param, RouteTable, list_param
from robyn_server.http.sse import json_stream_response, sse_response
from robyn_server.routes._common import caller_for, run_headers
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
from robyn_server.services import run_streams, runs
from robyn_server.services.context import get_context
from robyn_server.storage.types import parse_uuid

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
    thread_id, run_id = run_path_ids(req)
    wait = parse_bool(req.query_one("wait"))
    action = _action(req)
    ctx, caller = get_context(), caller_for(req)
    if not wait:
        await runs.cancel_run(ctx, caller, thread_id, run_id, action)
        return empty_response(202)
    answer = await run_streams.cancel_and_answer(ctx, caller, thread_id, run_id, action)
    return _answer(answer, run_headers(thread_id, run_id, "join"))


def _answer(answer: run_streams.Answer, headers: dict[str, str]) -> Any:
    if isinstance(answer, dict):
        return json_response(answer, headers=headers)
    return json_stream_response(answer, headers)


@route(
    "POST",
    "/runs/cancel",
    summary="Cancel runs by status, or by thread and ids",
    tags=STATELESS,
    query=ACTION,
    body=RunCancelMany,
    responses={204: "Cancelled", 404: "No runs to cancel"},
)
async def cancel_runs(req: ApiRequest, body: RunCancelMany) -> Any:
    thread_id = parse_uuid(body.thread_id, "thread ID") if body.thread_id else None
    run_ids = [parse_uuid(r, "run ID") for r in body.run_ids] if body.run_ids else None
    await runs.cancel_many(
        get_context(),
        caller_for(req),
        status=body.status,
        thread_id=thread_id,
        run_ids=run_ids,
        action=_action(req),
    )
    return empty_response()


# -- joining ---------------------------------------------------------------------------------


@route(
    "GET",
    "/threads/:thread_id/runs/:run_id/join",
    summary="Wait for a run and get its final state",
    tags=TAGS,
    query=RUN_QUERY,
    responses=WAIT,
)
async def join_run(req: ApiRequest) -> Any:
    thread_id, run_id = run_path_ids(req)
    # Checked first: a bad value is a 422 whatever the run's state.
    cancel = parse_bool(req.query_one("cancel_on_disconnect"))
    answer = await run_streams.join(
        get_context(), caller_for(req), thread_id, run_id, cancel=cancel
    )
    return _answer(answer, run_headers(thread_id, run_id, "join"))


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
    thread_id, run_id = run_path_ids(req)
    accept = mode_filter(_join_modes(req))
    cancel = parse_bool(req.query_one("cancel_on_disconnect"))
    events = await run_streams.join_events(
        get_context(),
        caller_for(req),
        thread_id,
        run_id,
        accept=accept,
        cancel=cancel,
        last_event_id=req.header("last-event-id"),
    )
    return sse_response(events, run_headers(thread_id, run_id, "stream"))

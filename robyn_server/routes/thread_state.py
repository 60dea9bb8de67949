"""/threads/{id}/state and /threads/{id}/history: a thread's checkpoints."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from robyn_server.errors import ValidationFailed
from robyn_server.http.requests import ApiRequest, format_validation_error, parse_bool
from robyn_server.http.routing import BOOLEAN, Param, RouteTable, integer_param, list_param
from robyn_server.routes._common import caller_for, either, list_of
from robyn_server.schemas.requests import MAX_OFFSET
from robyn_server.schemas.state import (
    STATE_SELECT_ITEM,
    HistoryQuery,
    HistorySearch,
    StateAtCheckpoint,
    StateUpdate,
    StateUpdateResult,
    ThreadState,
    ThreadStateSelection,
)
from robyn_server.services import thread_state
from robyn_server.services.context import get_context
from robyn_server.storage.types import parse_uuid

table = RouteTable()
route = table.route
TAGS = ["Thread state"]
SELECT = list_param("Fields to return; values.<key> for one state key", STATE_SELECT_ITEM)
STATE_QUERY = {"subgraphs": Param("Include the states of subgraphs", BOOLEAN), "select": SELECT}
# With `select`, a state has only the selected fields.
STATE = either(ThreadState, ThreadStateSelection)


def _thread_id(req: ApiRequest) -> str:
    return parse_uuid(req.path_params["thread_id"], "thread ID")


def _subgraphs(req: ApiRequest) -> bool:
    return parse_bool(req.query_one("subgraphs"), default=False)


@route(
    "GET",
    "/threads/:thread_id/state",
    summary="Get a thread's latest state",
    tags=TAGS,
    query=STATE_QUERY,
    response=STATE,
)
async def get_state(req: ApiRequest) -> Any:
    return await thread_state.get_state(
        get_context(),
        caller_for(req),
        _thread_id(req),
        subgraphs=_subgraphs(req),
        select=req.query_all("select") or None,
    )


@route(
    "POST",
    "/threads/:thread_id/state",
    summary="Update a thread's state, optionally from a past checkpoint",
    tags=TAGS,
    body=StateUpdate,
    responses={400: "The thread has no graph_id", 409: "A run is in flight"},
    response=StateUpdateResult,
)
async def update_state(req: ApiRequest, body: StateUpdate) -> Any:
    thread_id = _thread_id(req)
    return await thread_state.update_state(get_context(), caller_for(req), thread_id, body)


@route(
    "POST",
    "/threads/:thread_id/state/checkpoint",
    summary="Get a thread's state at a checkpoint (or a subgraph's, by namespace)",
    tags=TAGS,
    body=StateAtCheckpoint,
    response=STATE,
)
async def get_state_for_checkpoint(req: ApiRequest, body: StateAtCheckpoint) -> Any:
    thread_id = _thread_id(req)
    return await thread_state.get_state_for_checkpoint(
        get_context(),
        caller_for(req),
        thread_id,
        body.checkpoint,
        subgraphs=body.subgraphs,
        select=body.select,
    )


@route(
    "GET",
    "/threads/:thread_id/state/:checkpoint_id",
    summary="Get a thread's state at a checkpoint",
    tags=TAGS,
    query=STATE_QUERY,
    response=STATE,
)
async def get_state_at(req: ApiRequest) -> Any:
    return await thread_state.get_state_at(
        get_context(),
        caller_for(req),
        _thread_id(req),
        req.path_params["checkpoint_id"],
        subgraphs=_subgraphs(req),
        select=req.query_all("select") or None,
    )


@route(
    "POST",
    "/threads/:thread_id/history",
    summary="List a thread's past states, newest first",
    tags=TAGS,
    body=HistorySearch,
    response=list_of(STATE),
)
async def post_history(req: ApiRequest, body: HistorySearch) -> Any:
    thread_id = _thread_id(req)
    return await thread_state.history(get_context(), caller_for(req), thread_id, body)


@route(
    "GET",
    "/threads/:thread_id/history",
    summary="List a thread's past states, newest first",
    tags=TAGS,
    query={
        "limit": integer_param("How many states", 1, MAX_OFFSET, 1),
        "before": Param(
            "Only states older than this checkpoint (its ID, or the JSON checkpoint the "
            "POST form takes)",
            {"type": "string", "anyOf": [{"format": "uuid"}, {"maxLength": 0}]},
        ),
        "select": SELECT,
    },
    response=list_of(STATE),
)
async def get_history(req: ApiRequest) -> Any:
    thread_id = _thread_id(req)
    return await thread_state.history(
        get_context(), caller_for(req), thread_id, _history_query(req)
    )


def _history_query(req: ApiRequest) -> HistorySearch:
    fields: dict[str, Any] = {}
    limit = req.query_int("limit")  # bounds: HistoryQuery
    if limit is not None:
        fields["limit"] = limit
    before = req.query_one("before")
    if before:
        # A checkpoint ID, or the JSON checkpoint object the POST form takes.
        fields["before"] = _before_json(before) if before.lstrip().startswith("{") else before
    if select := req.query_all("select"):
        fields["select"] = select
    try:
        return HistoryQuery.model_validate(fields)
    except ValidationError as exc:
        raise ValidationFailed(format_validation_error(exc)) from None


def _before_json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ValidationFailed("before: must be a checkpoint ID or a JSON checkpoint") from None

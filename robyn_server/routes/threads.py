"""/threads (the thread rows; state, history and runs arrive with the run engine)."""

from __future__ import annotations

from typing import Any

from robyn_server.http.requests import ApiRequest
from robyn_server.http.responses import empty_response
from robyn_server.http.routing import RouteTable, list_param
from robyn_server.routes._common import caller_for, either, list_of, page_response
from robyn_server.schemas.requests import (
    ThreadCount,
    ThreadCreate,
    ThreadPatch,
    ThreadPrune,
    ThreadSearch,
)
from robyn_server.schemas.responses import PruneResult, Thread, ThreadSelection
from robyn_server.services import threads
from robyn_server.services.context import get_context
from robyn_server.storage.types import parse_uuid

table = RouteTable()
route = table.route
TAGS = ["Threads"]


def _thread_id(req: ApiRequest) -> str:
    return parse_uuid(req.path_params["thread_id"], "thread ID")


@route(
    "POST",
    "/threads",
    summary="Create a thread",
    tags=TAGS,
    body=ThreadCreate,
    responses={
        400: "Invalid supersteps",
        404: "The graph of the supersteps is unknown",
        409: "The thread already exists",
    },
    response=Thread,
)
async def create_thread(req: ApiRequest, body: ThreadCreate) -> Any:
    return await threads.create(get_context(), caller_for(req), body)


@route(
    "POST",
    "/threads/search",
    summary="Search threads",
    tags=TAGS,
    body=ThreadSearch,
    response=list_of(either(Thread, ThreadSelection)),
)
async def search_threads(req: ApiRequest, body: ThreadSearch) -> Any:
    page = await threads.search(get_context(), caller_for(req), body)
    select: list[str] | None = list(body.select) if body.select else None
    if select and body.extract:
        select.append("extracted")
    return page_response(page, body.offset, select)


@route("POST", "/threads/count", summary="Count threads", tags=TAGS, body=ThreadCount, response=int)
async def count_threads(req: ApiRequest, body: ThreadCount) -> Any:
    return await threads.count(get_context(), caller_for(req), body)


@route(
    "POST",
    "/threads/prune",
    summary="Delete threads, or drop all but their latest checkpoints",
    tags=TAGS,
    body=ThreadPrune,
    response=PruneResult,
)
async def prune_threads(req: ApiRequest, body: ThreadPrune) -> Any:
    pruned = await threads.prune(get_context(), caller_for(req), body)
    return {"pruned_count": pruned}


@route(
    "GET",
    "/threads/:thread_id",
    summary="Get a thread",
    tags=TAGS,
    query={"include": list_param("Extra fields (comma-separated too): ttl", {"type": "string"})},
    response=Thread,
)
async def get_thread(req: ApiRequest) -> Any:
    thread_id = _thread_id(req)
    include = {part.strip() for v in req.query_all("include") for part in v.split(",")}
    return await threads.get(
        get_context(), caller_for(req), thread_id, include_ttl="ttl" in include
    )


@route(
    "PATCH",
    "/threads/:thread_id",
    summary="Update a thread's metadata (merged) or TTL",
    tags=TAGS,
    body=ThreadPatch,
    responses={204: "Updated (with Prefer: return=minimal)"},
    response=Thread,
)
async def patch_thread(req: ApiRequest, body: ThreadPatch) -> Any:
    thread_id = _thread_id(req)
    thread = await threads.update(get_context(), caller_for(req), thread_id, body)
    if "return=minimal" in (req.header("prefer") or "").replace(" ", ""):
        return empty_response()
    return thread


@route(
    "DELETE",
    "/threads/:thread_id",
    summary="Delete a thread with its checkpoints",
    tags=TAGS,
    responses={204: "Deleted"},
)
async def delete_thread(req: ApiRequest) -> Any:
    await threads.delete(get_context(), caller_for(req), _thread_id(req))
    return empty_response()


@route(
    "POST",
    "/threads/:thread_id/copy",
    summary="Copy a thread with all its checkpoints",
    tags=TAGS,
    # The reference answers 409 for a missing thread here.
    responses={409: "The thread does not exist"},
    response=Thread,
)
async def copy_thread(req: ApiRequest) -> Any:
    return await threads.copy(get_context(), caller_for(req), _thread_id(req))

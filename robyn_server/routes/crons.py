"""/runs/crons and /threads/{thread_id}/runs/crons: runs on a schedule."""

from __future__ import annotations

from typing import Any

from robyn_server.http.requests import ApiRequest
from robyn_server.http.responses import empty_response
from robyn_server.http.routing import RouteTable
from robyn_server.routes._common import caller_for, either, list_of, page_response
from robyn_server.schemas.crons import CronCount, CronCreate, CronPatch, CronSearch
from robyn_server.schemas.responses import Cron, CronSelection
from robyn_server.services import crons
from robyn_server.services.context import get_context
from robyn_server.storage.types import parse_uuid

table = RouteTable()
route = table.route
TAGS = ["Crons"]
CREATE_ERRORS = {
    404: "The assistant (or thread) does not exist",
    422: "Invalid schedule, timezone or body",
}


def _cron_id(req: ApiRequest) -> str:
    return parse_uuid(req.path_params["cron_id"], "cron ID")


@route(
    "POST",
    "/runs/crons",
    summary="Create a cron: each run on a new thread",
    tags=TAGS,
    body=CronCreate,
    responses=CREATE_ERRORS,
    response=Cron,
)
async def create_cron(req: ApiRequest, body: CronCreate) -> Any:
    return await crons.create(get_context(), caller_for(req), body)


@route(
    "POST",
    "/threads/:thread_id/runs/crons",
    summary="Create a cron that runs on a thread",
    tags=TAGS,
    body=CronCreate,
    responses=CREATE_ERRORS,
    response=Cron,
)
async def create_thread_cron(req: ApiRequest, body: CronCreate) -> Any:
    thread_id = parse_uuid(req.path_params["thread_id"], "thread ID")
    return await crons.create(get_context(), caller_for(req), body, thread_id)


@route(
    "POST",
    "/runs/crons/search",
    summary="Search crons",
    tags=TAGS,
    body=CronSearch,
    response=list_of(either(Cron, CronSelection)),
)
async def search_crons(req: ApiRequest, body: CronSearch) -> Any:
    page = await crons.search(get_context(), caller_for(req), body)
    return page_response(page, body.offset, body.select)


@route("POST", "/runs/crons/count", summary="Count crons", tags=TAGS, body=CronCount, response=int)
async def count_crons(req: ApiRequest, body: CronCount) -> Any:
    return await crons.count(get_context(), caller_for(req), body)


@route("GET", "/runs/crons/:cron_id", summary="Get a cron", tags=TAGS, response=Cron)
async def get_cron(req: ApiRequest) -> Any:
    return await crons.get(get_context(), caller_for(req), _cron_id(req))


@route(
    "PATCH",
    "/runs/crons/:cron_id",
    summary="Update a cron",
    tags=TAGS,
    body=CronPatch,
    responses={400: "Empty body", 404: "No such cron"},
    response=Cron,
)
async def patch_cron(req: ApiRequest, body: CronPatch) -> Any:
    cron_id = _cron_id(req)
    return await crons.update(get_context(), caller_for(req), cron_id, body, empty=not req.json())


@route(
    "DELETE",
    "/runs/crons/:cron_id",
    summary="Delete a cron",
    tags=TAGS,
    responses={204: "Deleted", 404: "No such cron"},
)
async def delete_cron(req: ApiRequest) -> Any:
    await crons.delete(get_context(), caller_for(req), _cron_id(req))
    return empty_response()

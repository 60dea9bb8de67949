"""/assistants"""

from __future__ import annotations

from typing import Any

from robyn_server.errors import ValidationFailed
from robyn_server.http.requests import ApiRequest, parse_bool
from robyn_server.http.responses import empty_response
from robyn_server.http.routing import BOOLEAN, Param, RouteTable
from robyn_server.routes._common import caller_for, either, list_of, page_response
from robyn_server.schemas.requests import (
    ASSISTANT_OR_GRAPH,
    AssistantCount,
    AssistantCreate,
    AssistantPatch,
    AssistantSearch,
    AssistantSetLatest,
    AssistantVersionsSearch,
)
from robyn_server.schemas.responses import (
    Assistant,
    AssistantSelection,
    AssistantVersion,
    GraphDrawing,
    GraphSchemas,
    SubgraphSchemas,
)
from robyn_server.services import assistants
from robyn_server.services.context import get_context
from robyn_server.storage.types import parse_uuid

table = RouteTable()
route = table.route
TAGS = ["Assistants"]
BOTH = "Both config.configurable and context given"
UNKNOWN_GRAPH = "Unknown graph"
RECURSE = {"recurse": Param("Include nested subgraphs", BOOLEAN)}


def _assistant_id(req: ApiRequest) -> str:
    return parse_uuid(req.path_params["assistant_id"], "assistant ID")


@route(
    "POST",
    "/assistants",
    summary="Create an assistant",
    tags=TAGS,
    body=AssistantCreate,
    responses={400: BOTH, 404: UNKNOWN_GRAPH, 409: "The assistant already exists"},
    response=Assistant,
)
async def create_assistant(req: ApiRequest, body: AssistantCreate) -> Any:
    return await assistants.create(get_context(), caller_for(req), body)


@route(
    "POST",
    "/assistants/search",
    summary="Search assistants",
    tags=TAGS,
    body=AssistantSearch,
    responses={404: UNKNOWN_GRAPH},
    response=list_of(either(Assistant, AssistantSelection)),
)
async def search_assistants(req: ApiRequest, body: AssistantSearch) -> Any:
    page = await assistants.search(get_context(), caller_for(req), body)
    return page_response(page, body.offset, body.select)


@route(
    "POST",
    "/assistants/count",
    summary="Count assistants",
    tags=TAGS,
    body=AssistantCount,
    responses={404: UNKNOWN_GRAPH},
    response=int,
)
async def count_assistants(req: ApiRequest, body: AssistantCount) -> Any:
    return await assistants.count(get_context(), caller_for(req), body)


@route(
    "GET", "/assistants/:assistant_id", summary="Get an assistant", tags=TAGS, response=Assistant
)
async def get_assistant(req: ApiRequest) -> Any:
    return await assistants.get(get_context(), caller_for(req), _assistant_id(req))


@route(
    "PATCH",
    "/assistants/:assistant_id",
    summary="Update an assistant (creates a new version)",
    tags=TAGS,
    body=AssistantPatch,
    responses={400: BOTH},
    response=Assistant,
)
async def patch_assistant(req: ApiRequest, body: AssistantPatch) -> Any:
    assistant_id = _assistant_id(req)
    return await assistants.update(get_context(), caller_for(req), assistant_id, body)


@route(
    "DELETE",
    "/assistants/:assistant_id",
    summary="Delete an assistant",
    tags=TAGS,
    query={
        "delete_threads": Param("Also delete threads whose metadata.assistant_id matches", BOOLEAN)
    },
    responses={204: "Deleted"},
)
async def delete_assistant(req: ApiRequest) -> Any:
    assistant_id = _assistant_id(req)
    delete_threads = parse_bool(req.query_one("delete_threads"))
    await assistants.delete(get_context(), caller_for(req), assistant_id, delete_threads)
    return empty_response()


@route(
    "POST",
    "/assistants/:assistant_id/versions",
    summary="List an assistant's versions, newest first",
    tags=TAGS,
    body=AssistantVersionsSearch,
    response=list[AssistantVersion],
)
async def list_versions(req: ApiRequest, body: AssistantVersionsSearch) -> Any:
    assistant_id = _assistant_id(req)
    return await assistants.versions(
        get_context(), caller_for(req), assistant_id, body.metadata, body.limit, body.offset
    )


@route(
    "POST",
    "/assistants/:assistant_id/latest",
    summary="Make a version the current one",
    tags=TAGS,
    body=AssistantSetLatest,
    response=Assistant,
)
async def set_latest(req: ApiRequest, body: AssistantSetLatest) -> Any:
    assistant_id = _assistant_id(req)
    version = body.version
    return await assistants.set_latest(get_context(), caller_for(req), assistant_id, version)


def _xray(value: str | None) -> bool | int:
    if value is None or value == "":
        return False
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        depth = int(value)
    except ValueError:
        raise ValidationFailed(
            "Invalid xray value: expected true, false or a positive integer"
        ) from None
    if depth <= 0:
        raise ValidationFailed("Invalid xray value: expected true, false or a positive integer")
    return depth


@route(
    "GET",
    "/assistants/:assistant_id/graph",
    summary="Draw the assistant's graph",
    tags=TAGS,
    path_params={"assistant_id": ASSISTANT_OR_GRAPH},
    query={
        "xray": Param(
            "true, false, or a depth: include subgraph nodes",
            {"anyOf": [{"type": "boolean"}, {"const": ""}, {"type": "integer", "minimum": 1}]},
        )
    },
    response=GraphDrawing,
)
async def get_graph(req: ApiRequest) -> Any:
    ctx = get_context()
    assistant_id = assistants.resolve_id(ctx, req.path_params["assistant_id"])
    xray = _xray(req.query_one("xray"))
    return await assistants.draw(ctx, caller_for(req), assistant_id, xray)


@route(
    "GET",
    "/assistants/:assistant_id/schemas",
    summary="Get the graph's schemas",
    tags=TAGS,
    response=GraphSchemas,
)
async def get_schemas(req: ApiRequest) -> Any:
    return await assistants.schemas(get_context(), caller_for(req), _assistant_id(req))


async def _subgraphs(req: ApiRequest, namespace: str | None) -> Any:
    recurse = parse_bool(req.query_one("recurse"))
    return await assistants.subgraphs(
        get_context(), caller_for(req), _assistant_id(req), namespace, recurse
    )


@route(
    "GET",
    "/assistants/:assistant_id/subgraphs",
    summary="Get the schemas of the graph's subgraphs",
    tags=TAGS,
    query=RECURSE,
    response=dict[str, SubgraphSchemas],
)
async def get_subgraphs(req: ApiRequest) -> Any:
    return await _subgraphs(req, None)


@route(
    "GET",
    "/assistants/:assistant_id/subgraphs/:namespace",
    summary="Get the schemas of one subgraph",
    tags=TAGS,
    query=RECURSE,
    response=dict[str, SubgraphSchemas],
)
async def get_subgraphs_in_namespace(req: ApiRequest) -> Any:
    return await _subgraphs(req, req.path_params["namespace"])

"""/store: long-term memory shared with the graphs."""

from __future__ import annotations

from typing import Any

from robyn_server.http.requests import ApiRequest, parse_bool
from robyn_server.http.responses import empty_response
from robyn_server.http.routing import BOOLEAN, Param, RouteTable
from robyn_server.routes._common import caller_for
from robyn_server.schemas.requests import StoreDelete, StoreNamespaces, StorePut, StoreSearch
from robyn_server.schemas.responses import StoreItem, StoreNamespacesResult, StoreSearchResult
from robyn_server.services import store
from robyn_server.services.context import get_context

table = RouteTable()
route = table.route
TAGS = ["Store"]


@route(
    "PUT",
    "/store/items",
    summary="Store or replace an item",
    tags=TAGS,
    body=StorePut,
    responses={204: "Stored", 400: 'The root label is "langgraph"'},
)
async def put_item(req: ApiRequest, body: StorePut) -> Any:
    await store.put(get_context(), caller_for(req), body)
    return empty_response()


@route(
    "GET",
    "/store/items",
    summary="Get an item (null when missing)",
    tags=TAGS,
    query={
        "namespace": Param(
            "Dot-joined namespace, e.g. users.u1",
            # Empty means no namespace at all (so nothing is found).
            {"type": "string", "pattern": r"^([^.]+(\.[^.]+)*)?$"},
        ),
        "key": Param("The item's key", {"type": "string", "minLength": 1}, required=True),
        "refresh_ttl": Param("Restart the item's TTL", BOOLEAN),
    },
    responses={400: "No key"},
    response=StoreItem | None,
)
async def get_item(req: ApiRequest) -> Any:
    refresh = req.query_one("refresh_ttl")
    return await store.get(
        get_context(),
        caller_for(req),
        req.query_one("namespace"),
        req.query_one("key"),
        None if refresh is None else parse_bool(refresh),
    )


@route(
    "DELETE",
    "/store/items",
    summary="Delete an item",
    tags=TAGS,
    body=StoreDelete,
    responses={204: "Deleted"},
)
async def delete_item(req: ApiRequest, body: StoreDelete) -> Any:
    await store.delete(get_context(), caller_for(req), body)
    return empty_response()


@route(
    "POST",
    "/store/items/search",
    summary="Search items under a namespace prefix",
    tags=TAGS,
    body=StoreSearch,
    response=StoreSearchResult,
)
async def search_items(req: ApiRequest, body: StoreSearch) -> Any:
    return {"items": await store.search(get_context(), caller_for(req), body)}


@route(
    "POST",
    "/store/namespaces",
    summary="List namespaces",
    tags=TAGS,
    body=StoreNamespaces,
    response=StoreNamespacesResult,
)
async def list_namespaces(req: ApiRequest, body: StoreNamespaces) -> Any:
    return {"namespaces": await store.list_namespaces(get_context(), caller_for(req), body)}

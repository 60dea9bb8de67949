"""/openapi.json and /docs: the API as the route tables declare it."""

from __future__ import annotations

from typing import Any

from robyn_server.auth.loading import auth_openapi
from robyn_server.http.openapi import DOCS_HTML, build_openapi
from robyn_server.http.requests import ApiRequest
from robyn_server.http.responses import html_response
from robyn_server.http.routing import RouteTable
from robyn_server.services.context import get_context

TAGS = ["System"]


def docs_table(tables: list[RouteTable]) -> RouteTable:
    """Routes that describe `tables` (the list may include the table made here)."""
    table = RouteTable()
    documents: dict[tuple[str, ...], dict[str, Any]] = {}

    @table.route("GET", "/openapi.json", summary="This document", tags=TAGS, public=True)
    async def openapi(req: ApiRequest) -> Any:
        ctx = get_context()
        graph_ids = tuple(ctx.registry.ids())
        if graph_ids not in documents:
            auth = auth_openapi(ctx.registry) if ctx.auth is not None else None
            documents[graph_ids] = build_openapi(tables, graph_ids, auth)
        return documents[graph_ids]

    @table.route("GET", "/docs", summary="API reference page", tags=TAGS, public=True)
    async def docs(req: ApiRequest) -> Any:
        return html_response(DOCS_HTML)

    return table

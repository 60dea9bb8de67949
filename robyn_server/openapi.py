"""OpenAPI 3.1 description of the routes this server really serves.

Built from the route tables (paths, methods, query parameters) and the pydantic request
models (bodies), so the document cannot drift from the code.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from pydantic import BaseModel, TypeAdapter

from robyn_server import __version__
from robyn_server.http import RouteTable

_PARAM = re.compile(r":(\w+)")

DOCS_HTML = """<!doctype html>
<html>
  <head>
    <title>Robyn LangGraph Server API</title>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
  </head>
  <body>
    <script id="api-reference" data-url="/openapi.json"></script>
    <script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference"></script>
  </body>
</html>
"""


def _schema(tp: Any, components: dict[str, Any]) -> dict[str, Any]:
    """JSON Schema of a type; models go to components and are referenced by name."""
    schema = TypeAdapter(tp).json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        components[tp.__name__] = schema
        return {"$ref": f"#/components/schemas/{tp.__name__}"}
    return schema


def _operation(route: Any, components: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": route.summary,
        "tags": route.tags,
        "operationId": route.handler.__name__,
        "responses": {str(code): {"description": text} for code, text in route.responses.items()},
    }
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(route.path)
    ]
    params += [
        {"name": name, "in": "query", "required": False, "description": text, "schema": {}}
        for name, text in route.query.items()
    ]
    if params:
        op["parameters"] = params
    if route.body_model is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema(route.body_model, components)}},
        }
    if route.response is not None or 204 not in route.responses:
        op["responses"].setdefault("200", {"description": "Success"})
    if route.response is not None:
        op["responses"]["200"]["content"] = {
            "application/json": {"schema": _schema(route.response, components)}
        }
    op["responses"]["404"] = {"description": 'Not found: `{"detail": ...}`'}
    op["responses"]["422"] = {"description": 'Invalid request: `{"detail": ...}`'}
    return op


def build_openapi(tables: list[RouteTable]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, Any] = {}
    for table in tables:
        for route in table.routes:
            path = _PARAM.sub(r"{\1}", route.path)
            paths.setdefault(path, {})[route.method.lower()] = _operation(route, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Robyn LangGraph Server",
            "version": __version__,
            "description": "A self-hostable server for the LangGraph Server API.",
        },
        "paths": paths,
        "components": {"schemas": components},
    }


@cache
def openapi_document() -> dict[str, Any]:
    from robyn_server.routes import ROUTE_TABLES

    return build_openapi(ROUTE_TABLES)

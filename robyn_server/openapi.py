"""OpenAPI 3.1 description of the routes this server really serves.

Built from the route tables (paths, methods, query parameters) and the pydantic request
models (bodies), so the document cannot drift from the code.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

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
        schema = route.body_model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in schema.pop("$defs", {}).items():
            components[name] = definition
        components[route.body_model.__name__] = schema
        op["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{route.body_model.__name__}"}
                }
            },
        }
    op["responses"].setdefault("200", {"description": "Success"})
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

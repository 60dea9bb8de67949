"""OpenAPI 3.1 description of the routes this server really serves.

Built from the route tables (paths, methods, query parameters, status codes) and the
pydantic request and response models, so the document cannot drift from the code.
`.ci/fuzz.py` holds the server to it: schemathesis sends what the document allows (and
what it forbids) and checks every answer against it.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, TypeAdapter

from robyn_server import __version__
from robyn_server.http.routing import Param, RouteInfo, RouteTable
from robyn_server.schemas.requests import ASSISTANT_OR_GRAPH_MARKER
from robyn_server.schemas.responses import ErrorResponse

_PARAM = re.compile(r":(\w+)")
UUID = {"type": "string", "format": "uuid"}
ASSISTANT_OR_GRAPH_REF = {"$ref": "#/components/schemas/AssistantIdOrGraphId"}
# Path parameters by name; a route may override one (`path_params=` in its declaration).
PATH_PARAMS: dict[str, dict[str, Any]] = {
    "assistant_id": UUID,
    "thread_id": UUID,
    "run_id": UUID,
    "checkpoint_id": UUID,
    "cron_id": UUID,
}
# What every wrapped route may answer besides its own codes.
COMMON_ERRORS = {
    422: "Invalid request",
    503: "Database unavailable, too many open streams, or the server is starting",
}
BODY_ERRORS = {413: "Request body too large"}
# With auth on, what every route but the public ones may answer.
AUTH_ERRORS = {
    401: "Not authenticated (the auth handler refused the request)",
    403: "An auth handler refuses this action",
}
PATH_ERRORS = {404: "Not found"}

DESCRIPTION = """A self-hostable server for the LangGraph Server API.

Every error answers `{"detail": "..."}`. Objects in request bodies accept fields this
document does not name (clients send more than the server reads). Strings, in bodies and
in query parameters, must not contain NUL characters (`\\u0000`): PostgreSQL cannot store
them, so both backends refuse them with a 422."""

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


class _Components:
    """Named schemas; a name bound to two different schemas is a bug, found here."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def add(self, name: str, schema: dict[str, Any]) -> None:
        known = self.schemas.setdefault(name, schema)
        if known != schema:
            raise ValueError(f"Two different schemas are both named {name!r}")

    def schema_of(self, tp: Any) -> dict[str, Any]:
        """JSON Schema of a type; models go to components and are referenced by name."""
        schema = TypeAdapter(tp).json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in schema.pop("$defs", {}).items():
            self.add(name, definition)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            self.add(tp.__name__, schema)
            return {"$ref": f"#/components/schemas/{tp.__name__}"}
        return schema


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _body_required(schema: dict[str, Any], components: _Components) -> bool:
    """An object body whose fields are all optional may be left out (it reads as `{}`)."""
    ref = schema.get("$ref", "")
    target = components.schemas.get(ref.rsplit("/", 1)[-1], schema) if ref else schema
    if target.get("type") != "object":
        return True
    return any(key in target for key in ("required", "oneOf", "anyOf"))


def _param(name: str, where: str, param: Param) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": param.required,
        "description": param.description,
        "schema": param.schema,
    }


def _parameters(route: RouteInfo) -> list[dict[str, Any]]:
    params = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": route.path_params.get(name) or PATH_PARAMS.get(name, {"type": "string"}),
        }
        for name in _PARAM.findall(route.path)
    ]
    for name, spec in route.query.items():
        params.append(_param(name, "query", spec if isinstance(spec, Param) else Param(spec)))
    params.extend(_param(name, "header", param) for name, param in route.headers.items())
    return params


def _responses(route: RouteInfo, components: _Components, auth: bool) -> dict[str, Any]:
    codes: dict[int, Any] = {}
    if auth and not route.public:
        codes.update(AUTH_ERRORS)
    if not route.raw:
        codes.update(COMMON_ERRORS)
        if route.body_model is not None:
            codes.update(BODY_ERRORS)
        if _PARAM.search(route.path):
            codes.update(PATH_ERRORS)
    codes.update(route.responses)
    if route.response is not None or 204 not in codes:
        codes.setdefault(200, "Success")

    error = components.schema_of(ErrorResponse)
    out: dict[str, Any] = {}
    for code in sorted(codes):
        spec = codes[code]
        # `(description, type)` names the body of a code; errors default to ErrorResponse.
        text, body = spec if isinstance(spec, tuple) else (spec, None)
        entry: dict[str, Any] = {"description": text}
        if body is not None:
            entry["content"] = _json(components.schema_of(body))
        elif code == 200 and route.response is not None:
            entry["content"] = _json(components.schema_of(route.response))
        elif code >= 400:
            entry["content"] = _json(error)
        out[str(code)] = entry
    return out


def _operation(
    route: RouteInfo, components: _Components, auth: dict[str, Any] | None
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": route.summary,
        "tags": route.tags,
        "operationId": route.handler.__name__,
    }
    if auth is not None and route.public and auth.get("security"):
        op["security"] = []  # public: no credentials needed, whatever the default
    if params := _parameters(route):
        op["parameters"] = params
    if route.body_model is not None:
        schema = components.schema_of(route.body_model)
        op["requestBody"] = {
            "required": _body_required(schema, components),
            "content": _json(schema),
        }
    op["responses"] = _responses(route, components, auth is not None)
    return op


def _assistant_or_graph(graph_ids: tuple[str, ...]) -> dict[str, Any]:
    choices: list[dict[str, Any]] = [UUID]
    if graph_ids:
        choices.append({"type": "string", "enum": list(graph_ids)})
    return {
        "anyOf": choices,
        "description": "An assistant's UUID, or a graph's ID for its default assistant",
    }


def _resolve_markers(node: Any) -> Any:
    """Request models mark assistant-or-graph fields; point them at the component."""
    if isinstance(node, dict):
        if node.get(ASSISTANT_OR_GRAPH_MARKER):
            return ASSISTANT_OR_GRAPH_REF
        return {key: _resolve_markers(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve_markers(item) for item in node]
    return node


def build_openapi(
    tables: list[RouteTable],
    graph_ids: tuple[str, ...] = (),
    auth: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The document for `tables`. `auth` (None: auth is off) is langgraph.json's
    `auth.openapi`: its `securitySchemes` and default `security` are the document's,
    and every route but the public ones may answer 401 and 403."""
    paths: dict[str, dict[str, Any]] = {}
    components = _Components()
    for table in tables:
        for route in table.routes:
            path = _PARAM.sub(r"{\1}", route.path)
            operation = _operation(route, components, auth)
            paths.setdefault(path, {})[route.method.lower()] = operation
    components.add("AssistantIdOrGraphId", _assistant_or_graph(graph_ids))
    sections: dict[str, Any] = {"schemas": components.schemas}
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Robyn LangGraph Server",
            "version": __version__,
            "description": DESCRIPTION,
        },
        "paths": paths,
        "components": sections,
    }
    if auth is not None:
        if schemes := auth.get("securitySchemes"):
            sections["securitySchemes"] = schemes
        if security := auth.get("security"):
            document["security"] = security
    return _resolve_markers(document)

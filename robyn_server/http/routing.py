"""Route tables, and the wrapper that turns a route handler into a Robyn endpoint.

Robyn hands us raw requests: path and query values are not percent-decoded, bodies are
unparsed strings and unhandled exceptions become text/plain 500s. `wrap` makes each
handler receive an `ApiRequest` with decoded values and typed accessors, and makes every
failure leave as `{"detail": ...}` with the right status code.

Handlers are registered with `@route(...)` into a `RouteTable`; the same table mounts
the routes on the app and describes them in /openapi.json. A route that declares a
pydantic `body` model gets the validated body as its second argument.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from robyn import Request, Response, StreamingResponse

from robyn_server.auth.caller import Caller
from robyn_server.errors import ApiError
from robyn_server.http.cors import CorsPolicy
from robyn_server.http.requests import ApiRequest
from robyn_server.http.responses import error_response, json_response, method_not_allowed
from robyn_server.storage.types import StorageUnavailable

logger = logging.getLogger("robyn_server.http")

Handler = Callable[[ApiRequest], Awaitable[Any]]


@dataclass(frozen=True)
class Param:
    """A query parameter as /openapi.json describes it (`schema` is JSON Schema)."""

    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False


# What `parse_bool` reads: true/false, their usual spellings, and empty for the default.
BOOLEAN = {
    "anyOf": [
        {"type": "boolean"},
        {"type": "string", "enum": ["", "1", "0", "yes", "no", "on", "off"]},
    ]
}


def integer_param(description: str, minimum: int, maximum: int, default: int) -> Param:
    """An integer parameter that `ApiRequest.query_int` reads with the same bounds."""
    schema = {"type": "integer", "minimum": minimum, "maximum": maximum, "default": default}
    return Param(description, schema)


def enum_param(description: str, values: Any) -> Param:
    return Param(description, {"type": "string", "enum": list(values)})


def list_param(description: str, items: dict[str, Any]) -> Param:
    """A repeatable parameter (`?select=a&select=b`)."""
    return Param(description, {"type": "array", "items": items})


@dataclass
class RouteInfo:
    method: str
    path: str
    handler: Handler
    summary: str
    tags: list[str]
    body_model: Any = None  # a pydantic model (or type) describing the JSON body
    query: Mapping[str, Param | str] = field(default_factory=dict)
    # Request headers the route reads, for OpenAPI (names in lower case).
    headers: Mapping[str, Param] = field(default_factory=dict)
    # Path parameters whose schema is not the default for their name (see http/openapi.py).
    path_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Status codes besides 200 and the common errors: a description, or a
    # (description, body type) pair when the body is not `{"detail": ...}`.
    responses: dict[int, Any] = field(default_factory=dict)
    response: Any = None  # a type describing the 200 body, for OpenAPI
    # A raw handler takes the Robyn request itself and skips `wrap`: for the few hot,
    # trivial routes (/ok) where every microsecond of per-request work shows.
    raw: bool = False
    # Served without authentication when auth is on (liveness, /info, the API document,
    # agent cards). Raw routes are always public.
    public: bool = False


class RouteTable:
    """Routes declared by the route modules; mounted on the app and described in OpenAPI."""

    def __init__(self) -> None:
        self.routes: list[RouteInfo] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        tags: list[str],
        body: Any = None,
        query: Mapping[str, Param | str] | None = None,
        headers: Mapping[str, Param] | None = None,
        path_params: dict[str, dict[str, Any]] | None = None,
        responses: dict[int, Any] | None = None,
        response: Any = None,
        raw: bool = False,
        public: bool = False,
    ) -> Callable[[Any], Any]:
        def register(handler: Any) -> Any:
            self.routes.append(
                RouteInfo(
                    method=method,
                    path=path,
                    handler=_with_body(handler, body),
                    summary=summary,
                    tags=tags,
                    body_model=body,
                    query=query or {},
                    headers=headers or {},
                    path_params=path_params or {},
                    responses=responses or {},
                    response=response,
                    raw=raw,
                    public=public or raw,
                )
            )
            return handler

        return register


def _with_body(handler: Any, body: Any) -> Handler:
    """A handler whose route declares a pydantic model gets the body validated against
    it (422 with a clear detail otherwise) as its second argument."""
    if not (isinstance(body, type) and issubclass(body, BaseModel)):
        return handler
    model: type[BaseModel] = body

    async def parsed(req: ApiRequest) -> Any:
        return await handler(req, req.model(model))

    parsed.__name__ = getattr(handler, "__name__", "handler")
    return parsed


def wrap(
    handler: Handler,
    max_body_bytes: int,
    cors: CorsPolicy | None = None,
    shadowed: Callable[[str], list[str] | None] | None = None,
    identify: Callable[[ApiRequest], Awaitable[Caller]] | None = None,
) -> Callable:
    """Turn a handler into a Robyn endpoint that never leaks a 500 text page.

    `shadowed` (see `MethodIndex.shadowed`) tells paths that reached this route only
    because their own resource does not take the method: those get a 405. `identify`
    (with auth on) names the request's caller before the handler runs, or refuses it."""

    async def endpoint(request: Request) -> Response | StreamingResponse:
        response: Response | StreamingResponse
        try:
            if shadowed is not None and (allowed := shadowed(request.url.path)):
                response = method_not_allowed(allowed)
                if cors is not None:
                    cors.apply(request, response)
                return response
            api_request = ApiRequest(request, max_body_bytes)
            if identify is not None:
                api_request.caller = await identify(api_request)
            result = await handler(api_request)
            response = (
                result
                if isinstance(result, Response | StreamingResponse)
                else json_response(result)
            )
        except ApiError as exc:
            response = error_response(exc.status_code, exc.detail, exc.headers)
        except Exception as exc:
            if isinstance(exc, StorageUnavailable):
                # The database is down or saturated: the client may retry, nothing is
                # wrong with the request, so this is a 503 rather than a 500.
                logger.warning(
                    "Database unavailable in %s %s: %s", request.method, request.url.path, exc
                )
                response = error_response(503, "Database unavailable, try again shortly")
            else:
                logger.exception("Unhandled error in %s %s", request.method, request.url.path)
                response = error_response(500, "Internal server error")
        if cors is not None:
            cors.apply(request, response)
        return response

    endpoint.__name__ = getattr(handler, "__name__", "endpoint")
    return endpoint

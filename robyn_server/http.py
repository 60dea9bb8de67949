"""The thin HTTP layer between Robyn and our route handlers.

Robyn hands us raw requests: path and query values are not percent-decoded, bodies are
unparsed strings and unhandled exceptions become text/plain 500s. `Endpoint` wraps each
handler so that it receives an `ApiRequest` with decoded values and typed accessors, and
so that every failure leaves as `{"detail": ...}` with the right status code.

Handlers are registered with `@route(...)` into a `RouteTable`; the same table mounts
the routes on the app and describes them in /openapi.json.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import unquote, unquote_plus

import orjson
import psycopg
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, ValidationError
from robyn import Request, Response, StreamingResponse

from robyn_server.errors import ApiError, PayloadTooLarge, ValidationFailed
from robyn_server.serialization import dumps

logger = logging.getLogger("robyn_server.http")

JSON_HEADERS = {"content-type": "application/json"}
# orjson refuses to *encode* more than 254 levels, and deepcopy/recursive filters break
# long before Python's recursion limit: a body nested deeper than this would be stored
# and then fail every later read of it with a 500, so it is refused up front.
MAX_JSON_DEPTH = 128
NUL_DETAIL = "Request body must not contain NUL characters (\\u0000)"
ModelT = TypeVar("ModelT", bound=BaseModel)
Handler = Callable[["ApiRequest"], Awaitable[Any]]


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    merged = JSON_HEADERS if headers is None else {**JSON_HEADERS, **headers}
    return Response(status, merged, dumps(data))


def empty_response(status: int = 204, headers: dict[str, str] | None = None) -> Response:
    return Response(status, headers or {}, b"")


def error_response(status: int, detail: str) -> Response:
    return Response(status, JSON_HEADERS, dumps({"detail": detail}))


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem, each naming where it is: `limit: Input should be ...`."""
    lines = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(part) for part in err["loc"]) or "body"
        lines.append(f"{where}: {err['msg']}")
    return "\n".join(lines) or "Invalid request body"


def parse_uuid(value: str, what: str) -> str:
    """Canonical lowercase form of a UUID path or body value, or a 422 naming the field."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise ValidationFailed(f"Invalid {what}: must be a UUID") from None


def parse_bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValidationFailed(f"Invalid boolean value: {value!r}")


class ApiRequest:
    """A decoded view over a Robyn request. Values are decoded on first use only."""

    __slots__ = ("_body", "_query", "max_body_bytes", "path_params", "raw")

    def __init__(self, raw: Request, max_body_bytes: int) -> None:
        self.raw = raw
        self.max_body_bytes = max_body_bytes
        self.path_params = {k: unquote(v) for k, v in raw.path_params.items()}
        self._query: dict[str, list[str]] | None = None
        self._body: Any = _UNREAD

    @property
    def headers(self) -> Any:
        return self.raw.headers

    def header(self, name: str) -> str | None:
        return self.raw.headers.get(name)

    @property
    def query(self) -> dict[str, list[str]]:
        if self._query is None:
            decoded: dict[str, list[str]] = {}
            for key, values in self.raw.query_params.to_dict().items():
                decoded.setdefault(unquote_plus(key), []).extend(unquote_plus(v) for v in values)
            if any("\x00" in k or any("\x00" in v for v in vs) for k, vs in decoded.items()):
                raise ValidationFailed("Query parameters must not contain NUL characters")
            self._query = decoded
        return self._query

    def query_one(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def query_all(self, name: str) -> list[str]:
        return self.query.get(name, [])

    def query_int(
        self,
        name: str,
        default: int | None = None,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> Any:
        """An integer query parameter (422 if it is not one, or out of bounds), or
        `default` if absent."""
        raw = self.query_one(name)
        if raw in (None, ""):
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ValidationFailed(f"{name}: must be an integer, got {raw!r}") from None
        if minimum is not None and value < minimum:
            raise ValidationFailed(f"{name}: must be at least {minimum}")
        if maximum is not None and value > maximum:
            raise ValidationFailed(f"{name}: must be at most {maximum}")
        return value

    def json(self) -> Any:
        """The parsed JSON body; an empty body is `{}`."""
        if self._body is _UNREAD:
            body = self.raw.body
            raw = body.encode() if isinstance(body, str) else bytes(body or b"")
            if len(raw) > self.max_body_bytes:
                raise PayloadTooLarge(
                    f"Request body is {len(raw)} bytes; the limit is {self.max_body_bytes}"
                )
            if not raw:
                # No body at all (the SDK posts some without one); whitespace alone is
                # not JSON, as the reference also says.
                self._body = {}
            else:
                try:
                    body = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    raise ValidationFailed("Invalid JSON in request body") from None
                # Counting brackets is cheap and bounds the depth: walk only if needed.
                if raw.count(b"{") + raw.count(b"[") > MAX_JSON_DEPTH and _too_deep(body):
                    raise ValidationFailed(
                        f"Request body is nested more than {MAX_JSON_DEPTH} levels deep"
                    )
                # PostgreSQL cannot store NUL in text or jsonb: refuse it on every backend
                # alike. JSON can only carry it escaped, so most bodies skip the walk.
                if b"\\u0000" in raw and _contains_nul(body):
                    raise ValidationFailed(NUL_DETAIL)
                self._body = body
        return self._body

    def model(self, model: type[ModelT]) -> ModelT:
        """Validate the JSON body against a pydantic model (422 with a clear detail)."""
        body = self.json()
        if not isinstance(body, dict):
            raise ValidationFailed("Request body must be a JSON object")
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            raise ValidationFailed(format_validation_error(exc)) from None


_UNREAD = object()


def _contains_nul(value: Any) -> bool:
    """True if any string or key in the parsed JSON holds a NUL character."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True if containers nest more than `limit` levels (iterative: no recursion)."""
    if not isinstance(value, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


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
    query: dict[str, Param | str] = field(default_factory=dict)
    # Path parameters whose schema is not the default for their name (see openapi.py).
    path_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Status codes besides 200 and the common errors: a description, or a
    # (description, body type) pair when the body is not `{"detail": ...}`.
    responses: dict[int, Any] = field(default_factory=dict)
    response: Any = None  # a type describing the 200 body, for OpenAPI
    # A raw handler takes the Robyn request itself and skips `wrap`: for the few hot,
    # trivial routes (/ok) where every microsecond of per-request work shows.
    raw: bool = False


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
        query: dict[str, Param | str] | None = None,
        path_params: dict[str, dict[str, Any]] | None = None,
        responses: dict[int, Any] | None = None,
        response: Any = None,
        raw: bool = False,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append(
                RouteInfo(
                    method=method,
                    path=path,
                    handler=handler,
                    summary=summary,
                    tags=tags,
                    body_model=body,
                    query=query or {},
                    path_params=path_params or {},
                    responses=responses or {},
                    response=response,
                    raw=raw,
                )
            )
            return handler

        return register


def method_not_allowed(allowed: list[str]) -> Response:
    headers = {**JSON_HEADERS, "allow": ", ".join(allowed)}
    return Response(405, headers, dumps({"detail": "Method Not Allowed"}))


def wrap(
    handler: Handler,
    max_body_bytes: int,
    cors: CorsPolicy | None = None,
    shadowed: Callable[[str], list[str] | None] | None = None,
) -> Callable:
    """Turn a handler into a Robyn endpoint that never leaks a 500 text page.

    `shadowed` (see `MethodIndex.shadowed`) tells paths that reached this route only
    because their own resource does not take the method: those get a 405."""

    async def endpoint(request: Request) -> Response:
        try:
            if shadowed is not None and (allowed := shadowed(request.url.path)):
                response = method_not_allowed(allowed)
                if cors is not None:
                    cors.apply(request, response)
                return response
            result = await handler(ApiRequest(request, max_body_bytes))
            response = (
                result
                if isinstance(result, Response | StreamingResponse)
                else json_response(result)
            )
        except ApiError as exc:
            response = error_response(exc.status_code, exc.detail)
        except (PoolTimeout, psycopg.OperationalError) as exc:
            # The database is down or saturated: the client may retry, nothing is wrong
            # with the request, so this is a 503 rather than a 500.
            logger.warning(
                "Database unavailable in %s %s: %s", request.method, request.url.path, exc
            )
            response = error_response(503, "Database unavailable, try again shortly")
        except Exception:
            logger.exception("Unhandled error in %s %s", request.method, request.url.path)
            response = error_response(500, "Internal server error")
        if cors is not None:
            cors.apply(request, response)
        return response

    endpoint.__name__ = getattr(handler, "__name__", "endpoint")
    return endpoint


@dataclass
class CorsPolicy:
    """Echoes an allowed Origin when the origins are a list rather than `*`.

    With `*`, the headers are global response headers (set once in Rust, also on
    streams) and no per-request work is needed, so `wrap` gets no policy at all.
    """

    allow_origins: list[str]

    def allowed(self, origin: str | None) -> bool:
        return origin is not None and origin in self.allow_origins

    def apply(self, request: Request, response: Response) -> None:
        origin = request.headers.get("origin")
        if self.allowed(origin):
            response.headers.set("access-control-allow-origin", origin)
            response.headers.set("vary", "origin")

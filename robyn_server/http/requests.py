"""Requests as route handlers see them: decoded, bounded and validated on first use."""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import unquote, unquote_plus

import orjson
from pydantic import BaseModel, ValidationError
from robyn import Request

from robyn_server.auth.caller import ANONYMOUS_CALLER, Caller
from robyn_server.errors import PayloadTooLarge, ValidationFailed

# What a raw route (`raw=True`) receives: Robyn's own request, undecoded.
RawRequest = Request

# orjson refuses to *encode* more than 254 levels, and deepcopy/recursive filters break
# long before Python's recursion limit: a body nested deeper than this would be stored
# and then fail every later read of it with a 500, so it is refused up front.
MAX_JSON_DEPTH = 128


NUL_DETAIL = "Request body must not contain NUL characters (\\u0000)"


ModelT = TypeVar("ModelT", bound=BaseModel)


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem, each naming where it is: `limit: Input should be ...`."""
    lines = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(part) for part in err["loc"]) or "body"
        lines.append(f"{where}: {err['msg']}")
    return "\n".join(lines) or "Invalid request body"


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

    __slots__ = ("_body", "_query", "caller", "max_body_bytes", "path_params", "raw")

    def __init__(self, raw: Request, max_body_bytes: int) -> None:
        self.raw = raw
        # Who sends the request: set by the route wrapper when auth is on (http/auth.py).
        self.caller: Caller = ANONYMOUS_CALLER
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

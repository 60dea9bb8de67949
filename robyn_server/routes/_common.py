"""Helpers shared by route modules."""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from robyn_server.auth.caller import Caller
from robyn_server.config import Settings
from robyn_server.errors import ValidationFailed
from robyn_server.http.requests import ApiRequest
from robyn_server.http.responses import Response, json_response
from robyn_server.serialization import project
from robyn_server.services.jsonrpc import (
    INVALID_REQUEST,
    PARSE_ERROR,
    RpcError,
    RpcRequest,
    parse_message,
)
from robyn_server.storage.types import Page


def page_response(page: Page, offset: int, select: Sequence[str] | None = None) -> Response:
    """A search answer: a bare array plus the pagination headers the SDKs read.

    With another page, `X-Pagination-Next` is its offset and the total is reported as
    one more than that (a lower bound: counting exactly would cost a second query);
    on the last page the total is exact.
    """
    headers: dict[str, str] = {}
    if page.next_offset is not None:
        headers["x-pagination-next"] = str(page.next_offset)
        headers["x-pagination-total"] = str(page.next_offset + 1)
    else:
        headers["x-pagination-total"] = str(offset + len(page.items))
    body: list[Any] = project(page.items, select)
    return json_response(body, headers=headers)


def run_headers(thread_id: str | None, run_id: str, tail: str) -> dict[str, str]:
    base = f"/threads/{thread_id}/runs/{run_id}" if thread_id else f"/runs/{run_id}"
    return {"location": f"{base}/{tail}", "content-location": base}


def caller_for(request: ApiRequest) -> Caller:
    """Who sends the request: the user the route wrapper authenticated when auth is
    on (http/auth.py), else the anonymous caller, whom nothing restricts."""
    return request.caller


def either(*models: type[BaseModel]) -> Any:
    """`A | B` for a route's OpenAPI description. Made at run time because selection
    models come from pydantic's `create_model`, which a type checker cannot see as types."""
    return functools.reduce(operator.or_, models)


def list_of(item: Any) -> Any:
    """`list[item]` for a route's OpenAPI description, for an `item` made by `either`."""
    return list[item]


# -- JSON-RPC endpoints (A2A, MCP) -----------------------------------------------------------


def rpc_message(req: ApiRequest) -> RpcRequest | None:
    """The body as one JSON-RPC message (None: a response the client sent); anything
    else, including what the API's usual body checks refuse, is an `RpcError`."""
    try:
        body = req.json()
    except ValidationFailed as exc:
        if exc.detail.startswith("Invalid JSON"):
            raise RpcError(PARSE_ERROR, "Invalid JSON payload") from None
        raise RpcError(INVALID_REQUEST, exc.detail) from None
    return parse_message(body)


def accepts(req: ApiRequest, media: str) -> bool:
    """Whether the Accept header takes `media` (its type, `type/*` or `*/*`)."""
    header = (req.header("accept") or "").lower()
    kind = media.split("/", 1)[0]
    ranges = {item.split(";", 1)[0].strip() for item in header.split(",")}
    return bool(ranges & {media, f"{kind}/*", "*/*"})


def public_base_url(req: ApiRequest, settings: Settings) -> str:
    """The server's address as the client sees it: the configured one, else the
    request's, as a proxy in front reports it (X-Forwarded-Proto / -Host)."""
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/")
    proto = (req.header("x-forwarded-proto") or "").split(",", 1)[0].strip().lower()
    host = (req.header("x-forwarded-host") or "").split(",", 1)[0].strip()
    host = host or req.header("host") or f"{settings.host}:{settings.port}"
    return f"{proto if proto in ('http', 'https') else 'http'}://{host}"

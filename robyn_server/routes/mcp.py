"""/mcp: MCP streamable HTTP, stateless (no sessions; each POST stands alone).

A request gets a JSON answer, or an SSE stream when its Accept header takes
text/event-stream and not application/json. Notifications and client responses get
202. A malformed message is a 400 with a JSON-RPC error; a method's errors are JSON-RPC
errors with 200. GET gets 405 (no server-to-client stream) and DELETE 404 (there are
no sessions to end), as on the reference server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from robyn_server.errors import NotFound
from robyn_server.http.requests import ApiRequest
from robyn_server.http.responses import empty_response, json_response
from robyn_server.http.routing import Param, RouteTable
from robyn_server.http.sse import json_stream_response, sse_response
from robyn_server.routes._common import accepts, caller_for, either, rpc_message
from robyn_server.schemas.protocols import JsonRpcAnswer
from robyn_server.schemas.responses import ErrorResponse
from robyn_server.services import jsonrpc, mcp
from robyn_server.services.context import get_context
from robyn_server.services.jsonrpc import RpcError

table = RouteTable()
route = table.route
TAGS = ["MCP"]
ACCEPT_DETAIL = "Accept header must include application/json or text/event-stream"
HEADERS = {
    "accept": Param(
        "application/json and/or text/event-stream (else 400)",
        {"type": "string", "enum": ["application/json, text/event-stream", "application/json"]},
        required=True,
    ),
    "mcp-protocol-version": Param("The protocol version initialize settled on", {"type": "string"}),
}


async def _one(frame: bytes) -> AsyncIterator[bytes]:
    yield frame


@route(
    "POST",
    "/mcp",
    summary="MCP: initialize, ping, tools/list, tools/call (every assistant is a tool)",
    tags=TAGS,
    body=Any,
    headers=HEADERS,
    responses={
        200: ("A JSON-RPC response, or an SSE stream carrying it", JsonRpcAnswer),
        202: "A notification or a response: accepted, no body",
        400: (
            "No acceptable Accept header, or not a JSON-RPC message",
            either(JsonRpcAnswer, ErrorResponse),
        ),
        404: "MCP is turned off (http.disable_mcp)",
    },
)
async def mcp_rpc(req: ApiRequest) -> Any:
    ctx = get_context()
    mcp.enabled(ctx)
    json_ok = accepts(req, "application/json")
    if not (json_ok or accepts(req, "text/event-stream")):
        return json_response({"detail": ACCEPT_DETAIL}, 400)
    try:
        rpc = rpc_message(req)
    except RpcError as exc:
        return json_response(jsonrpc.error(None, exc), 400)
    if rpc is None or not rpc.has_id:
        return empty_response(202)
    call = mcp.Call(
        ctx,
        caller_for(req),
        rpc,
        protocol_version=req.header("mcp-protocol-version"),
        request_id=req.header("x-request-id"),
        sse=not json_ok,
    )
    try:
        answer = await mcp.handle(call)
    except RpcError as exc:
        answer = jsonrpc.error(rpc.id, exc)
    if not isinstance(answer, dict):
        stream = sse_response if call.sse else json_stream_response
        return stream(answer, {})
    if call.sse:
        return sse_response(_one(jsonrpc.sse_frame(answer)), {})
    return answer


@route(
    "DELETE",
    "/mcp",
    summary="End an MCP session: there are none (stateless), so 404",
    tags=TAGS,
    responses={404: "No such session"},
)
async def mcp_delete(req: ApiRequest) -> Any:
    raise NotFound("Not Found")

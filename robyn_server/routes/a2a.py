"""/a2a/{assistant_id} (A2A JSON-RPC) and the agent cards.

JSON-RPC errors are answered with HTTP 200, as A2A servers do; HTTP errors are kept for
what is not JSON-RPC: an unknown assistant (404), a body over the size limit (413), and
an `Accept` header that does not take the answer (400, as the reference server does).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from robyn_server.auth.caller import ANONYMOUS_CALLER
from robyn_server.errors import ValidationFailed
from robyn_server.http.requests import ApiRequest
from robyn_server.http.responses import json_response
from robyn_server.http.routing import Param, RouteTable
from robyn_server.http.sse import json_stream_response, sse_response
from robyn_server.routes._common import accepts, caller_for, public_base_url, rpc_message
from robyn_server.schemas.protocols import ASSISTANT_OR_GRAPH, AgentCard, JsonRpcAnswer
from robyn_server.services import jsonrpc
from robyn_server.services.a2a import service
from robyn_server.services.a2a.codecs import V03, V03_METHODS, V10_METHODS, codec_for
from robyn_server.services.context import get_context
from robyn_server.services.jsonrpc import INVALID_REQUEST, METHOD_NOT_FOUND, RpcError

table = RouteTable()
route = table.route
TAGS = ["A2A"]
PATH = {"assistant_id": ASSISTANT_OR_GRAPH}
CARD = {404: "No such assistant"}
STREAMING = ("message/stream", "SendStreamingMessage", "tasks/resubscribe", "SubscribeToTask")


async def single(frame: bytes) -> AsyncIterator[bytes]:
    yield frame


RPC_HEADERS = {
    "accept": Param(
        "application/json, or text/event-stream for message/stream (else 400)",
        {"type": "string", "enum": ["application/json", "text/event-stream", "*/*"]},
        required=True,
    ),
    # Not an enum: any value reaches the handler, and an unsupported one is answered
    # with a JSON-RPC error (-32009) in a 200, as A2A answers every protocol error.
    "a2a-version": Param(
        "Protocol version: 0.3 (default) or 1.0 (0.x and 1.x are read as those; others "
        "get the JSON-RPC error -32009)",
        {"type": "string"},
    ),
}


async def _card(req: ApiRequest, assistant_id: str) -> Any:
    ctx = get_context()
    # Agent cards are public, as A2A discovery needs (the server reads the assistant
    # itself, whoever asks): they show an assistant's name, description and skills.
    assistant = await service.load_assistant(ctx, ANONYMOUS_CALLER, assistant_id)
    return await service.card(ctx, assistant, public_base_url(req, ctx.settings))


# The card is served where each client version looks for it: the endpoint itself, A2A
# 0.3's well-known path under it, and 0.2's.
CARD_PATHS = {
    "get_agent": ("", "The assistant's A2A agent card"),
    "get_agent_card": ("/.well-known/agent-card.json", "The assistant's A2A agent card"),
    "get_agent_json": ("/.well-known/agent.json", "The agent card (A2A 0.2 location)"),
}


def _card_route(name: str, suffix: str, summary: str) -> None:
    async def endpoint(req: ApiRequest) -> Any:
        return await _card(req, req.path_params["assistant_id"])

    endpoint.__name__ = name
    route(
        "GET",
        f"/a2a/:assistant_id{suffix}",
        summary=summary,
        tags=TAGS,
        path_params=PATH,
        responses=CARD,
        response=AgentCard,
        public=True,
    )(endpoint)


for _name, (_suffix, _summary) in CARD_PATHS.items():
    _card_route(_name, _suffix, _summary)


@route(
    "GET",
    "/.well-known/agent-card.json",
    summary="An assistant's A2A agent card",
    tags=TAGS,
    query={"assistant_id": Param("The assistant (or graph ID)", ASSISTANT_OR_GRAPH, True)},
    responses=CARD,
    response=AgentCard,
    public=True,
)
async def get_root_agent_card(req: ApiRequest) -> Any:
    assistant_id = req.query_one("assistant_id")
    if not assistant_id:
        raise ValidationFailed("assistant_id: a query parameter naming the assistant is required")
    return await _card(req, assistant_id)


@route(
    "POST",
    "/a2a/:assistant_id",
    summary="A2A JSON-RPC: message/send, message/stream, tasks/get, tasks/cancel (and v1.0)",
    tags=TAGS,
    body=Any,
    headers=RPC_HEADERS,
    path_params=PATH,
    responses={
        200: ("A JSON-RPC response (errors too), or an SSE stream of them", JsonRpcAnswer),
        400: "The Accept header does not take the answer",
        404: "No such assistant",
    },
)
async def a2a_rpc(req: ApiRequest) -> Any:
    ctx = get_context()
    caller = caller_for(req)
    assistant = await service.load_assistant(ctx, caller, req.path_params["assistant_id"])
    if not (accepts(req, "application/json") or accepts(req, "text/event-stream")):
        return json_response({"detail": "Accept header must include application/json"}, 400)
    codec = V03()
    message_id, stream = None, False
    try:
        rpc = rpc_message(req)
        if rpc is None or not rpc.has_id:
            raise RpcError(INVALID_REQUEST, "Invalid message format: must be a JSON-RPC request")
        message_id = rpc.id
        codec = codec_for(rpc.method, req.header("a2a-version"))
        kind = V03_METHODS.get(rpc.method) or V10_METHODS.get(rpc.method)
        if kind is None:
            raise RpcError(METHOD_NOT_FOUND, f"Method not found: {rpc.method}")
        stream = rpc.method in STREAMING
        if not accepts(req, "text/event-stream" if stream else "application/json"):
            wanted = "text/event-stream for streaming" if stream else "application/json"
            return json_response({"detail": f"Accept header must include {wanted}"}, 400)
        call = service.Call(ctx, caller, assistant, rpc, codec, req.header("x-request-id"))
        reply = await service.dispatch(call, kind, public_base_url(req, ctx.settings))
    except RpcError as exc:
        answer = jsonrpc.error(message_id, codec.error(exc))
        if stream:  # the client reads a stream: the error is its one event
            return sse_response(single(jsonrpc.sse_frame(answer, "error")), {})
        return answer
    if isinstance(reply.body, dict):
        return reply.body
    if reply.sse:
        return sse_response(reply.body, {})
    return json_stream_response(reply.body, {})

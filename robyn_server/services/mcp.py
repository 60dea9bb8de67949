"""MCP (streamable HTTP, stateless): every assistant is a tool at `/mcp`.

`tools/list` lists the assistants the caller may see, oldest first, with names made
unique under MCP's rules; `tools/call` runs one statelessly through `create_run` (the
temporary thread is deleted afterwards), and a client that leaves cancels it. A run
error is a tool result with `isError: true`, never a protocol error.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from robyn_server import __version__
from robyn_server.auth.caller import Caller
from robyn_server.engine.broker import Event, RunChannel
from robyn_server.errors import ApiError, NotFound, ServiceUnavailable
from robyn_server.graphs.registry import system_assistant_id
from robyn_server.schemas.runs import RunCreate
from robyn_server.serialization import dumps
from robyn_server.services import jsonrpc, run_streams
from robyn_server.services.context import AppContext
from robyn_server.services.jsonrpc import INVALID_PARAMS, METHOD_NOT_FOUND, RpcError, RpcRequest
from robyn_server.storage.types import ANONYMOUS

PROTOCOL_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
LATEST = PROTOCOL_VERSIONS[-1]
# What a request without MCP-Protocol-Version speaks (the transport spec's default).
DEFAULT_VERSION = "2025-03-26"
# `structuredContent` in tool results is in the protocol from this revision on.
STRUCTURED_SINCE = "2025-06-18"
PAGE_SIZE = 100
# tools/list and tools/call look through at most this many assistants.
MAX_ASSISTANTS = 10_000
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_.-]")
MESSAGES_AS_TEXT = {"type": "string", "description": "The user message to send to the agent."}
ANNOTATIONS = {
    "readOnlyHint": False,
    "destructiveHint": False,
    "idempotentHint": False,
    "openWorldHint": True,
}


def enabled(ctx: AppContext) -> None:
    """404 when langgraph.json turns MCP off (`http.disable_mcp`)."""
    if ctx.registry.http_config().get("disable_mcp"):
        raise NotFound("Not Found")


@dataclass(slots=True)
class Call:
    ctx: AppContext
    caller: Caller
    rpc: RpcRequest
    # The client's MCP-Protocol-Version header (None: not sent).
    protocol_version: str | None = None
    request_id: str | None = None
    sse: bool = False


def tool_name(name: str) -> str:
    """An assistant name under MCP's rules: `[A-Za-z0-9_.-]`, 1 to 128 characters."""
    return _NOT_ALLOWED.sub("_", name)[:128] or "assistant"


async def _assistants(ctx: AppContext, caller: Caller) -> list[dict[str, Any]]:
    """The assistants the caller may run, oldest first: those `assistants.search` lets
    them see, and the graphs' system assistants, which anyone may run (see
    `assistants.runnable`)."""
    value: dict[str, Any] = {"graph_id": None, "metadata": {}, "limit": PAGE_SIZE, "offset": 0}
    scope = await caller.scope("assistants", "search", value)
    found: list[dict[str, Any]] = []
    offset = 0
    while offset < MAX_ASSISTANTS:
        page = await ctx.storage.assistant_search(
            scope, sort_by="created_at", sort_order="asc", limit=PAGE_SIZE, offset=offset
        )
        found += page.items
        if page.next_offset is None:
            break
        offset = page.next_offset
    if scope is ANONYMOUS:
        return found
    seen = {a["assistant_id"] for a in found}
    for graph_id in ctx.registry.ids():
        assistant_id = system_assistant_id(graph_id)
        if assistant_id not in seen:
            system = await ctx.storage.assistant_get(ANONYMOUS, assistant_id)
            found += [system] if system is not None else []
    return sorted(found, key=lambda a: (a["created_at"], a["assistant_id"]))


async def _named_assistants(ctx: AppContext, caller: Caller) -> list[tuple[str, dict[str, Any]]]:
    """(tool name, assistant) for every assistant the caller may run, oldest first. A
    name already taken gets the assistant's id as a suffix, so every name is unique."""
    named: list[tuple[str, dict[str, Any]]] = []
    taken: set[str] = set()
    for assistant in await _assistants(ctx, caller):
        name = tool_name(assistant.get("name") or assistant["graph_id"])
        if name in taken:
            name = f"{name[:119]}_{str(assistant['assistant_id'])[:8]}"
        taken.add(name)
        named.append((name, assistant))
    return named


def input_schema(schema: dict[str, Any] | None) -> dict[str, Any]:
    """A graph's input schema as a tool's: message lists become one text field; a
    graph without a schema takes any object."""
    if not schema:
        return {"type": "object", "properties": {}, "additionalProperties": True}
    out = {**schema, "type": "object"}
    properties = dict(out.get("properties") or {})
    if "messages" in properties:
        properties["messages"] = MESSAGES_AS_TEXT
    out["properties"] = properties
    if "$defs" in out and b"#/$defs/" not in dumps({**out, "$defs": None}):
        del out["$defs"]  # only the message types used them
    return out


async def _tool(ctx: AppContext, name: str, assistant: dict[str, Any]) -> dict[str, Any]:
    title = assistant.get("name") or assistant["graph_id"]
    schemas = await ctx.registry.schemas(assistant["graph_id"])
    return {
        "name": name,
        "title": title,
        "description": assistant.get("description") or f"Tool based on the {title} assistant",
        "inputSchema": input_schema(schemas.get("input_schema")),
        "annotations": ANNOTATIONS,
    }


async def list_tools(call: Call) -> dict[str, Any]:
    cursor = call.rpc.params_object().get("cursor")
    if cursor is not None and (not isinstance(cursor, str) or not cursor.isdigit()):
        raise RpcError(INVALID_PARAMS, "Invalid cursor")
    start = int(cursor or 0)
    named = [
        (name, assistant)
        for name, assistant in await _named_assistants(call.ctx, call.caller)
        if assistant["graph_id"] in call.ctx.registry
    ]
    page = named[start : start + PAGE_SIZE]
    result: dict[str, Any] = {"tools": [await _tool(call.ctx, n, a) for n, a in page]}
    if start + PAGE_SIZE < len(named):
        result["nextCursor"] = str(start + PAGE_SIZE)
    return result


def _structured(call: Call) -> bool:
    version = call.protocol_version or DEFAULT_VERSION
    return version >= STRUCTURED_SINCE


def tool_result(call: Call, values: Any) -> dict[str, Any]:
    """A finished run as a tool result: its final values as JSON text (and as
    `structuredContent` for clients whose protocol has it), or its error."""
    values = values if isinstance(values, dict) else {}
    error = values.get("__error__")
    if isinstance(error, dict):
        text = ": ".join(str(v) for v in (error.get("error"), error.get("message")) if v)
        return {"content": [{"type": "text", "text": text or "Run failed"}], "isError": True}
    result: dict[str, Any] = {"content": [{"type": "text", "text": dumps(values).decode()}]}
    if _structured(call):
        result["structuredContent"] = values
    return result


class _AnswerAtEnd:
    """An SSE answer to tools/call: heartbeats while the run executes, then the one
    JSON-RPC response as a `message` event."""

    def __init__(self, call: Call) -> None:
        self.call = call

    def opening(self) -> bytes:
        return b""

    def event(self, event: Event) -> bytes | None:
        return None

    async def closing(self, channel: RunChannel) -> bytes:
        return jsonrpc.sse_frame(
            jsonrpc.result(self.call.rpc.id, tool_result(self.call, channel.result))
        )


async def call_tool(call: Call) -> dict[str, Any] | AsyncIterator[bytes]:
    params = call.rpc.params_object()
    name = params.get("name")
    arguments = params.get("arguments")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise RpcError(INVALID_PARAMS, "Invalid arguments: must be an object")
    matches = [a for n, a in await _named_assistants(call.ctx, call.caller) if n == name]
    if len(matches) != 1:
        raise RpcError(INVALID_PARAMS, f"Unknown tool: {name}")
    context = params.get("context")
    body = RunCreate.model_validate(
        {
            "assistant_id": matches[0]["assistant_id"],
            "input": arguments,
            "context": context if isinstance(context, dict) else None,
            "on_disconnect": "cancel",
        }
    )
    try:
        created, slot = await run_streams.create_streamed(
            call.ctx, call.caller, None, body, call.request_id
        )
    except ServiceUnavailable:
        raise
    except ApiError as exc:
        # Refused before it ran (a graph that is not loaded, a bad command): the
        # tool call fails, the protocol exchange does not.
        return tool_result(
            call, {"__error__": {"error": type(exc).__name__, "message": exc.detail}}
        )
    if call.sse:
        return run_streams.run_events(
            call.ctx, created, slot, with_ids=False, view=_AnswerAtEnd(call)
        )

    async def render(channel: RunChannel) -> bytes:
        return jsonrpc.encode(jsonrpc.result(call.rpc.id, tool_result(call, channel.result)))

    return run_streams.run_answer(call.ctx, created, slot, render)


def initialize(call: Call) -> dict[str, Any]:
    asked = call.rpc.params_object().get("protocolVersion")
    return {
        "protocolVersion": asked if asked in PROTOCOL_VERSIONS else LATEST,
        "capabilities": {"tools": {"listChanged": False}},
        "serverInfo": {"name": "LangGraph", "version": __version__},
    }


async def handle(call: Call) -> dict[str, Any] | AsyncIterator[bytes]:
    """A method's result: a JSON-RPC response, or a body streaming one (tools/call).
    Errors are `RpcError`."""
    method = call.rpc.method
    if method == "initialize":
        return jsonrpc.result(call.rpc.id, initialize(call))
    if method == "ping":
        return jsonrpc.result(call.rpc.id, {})
    if method == "tools/list":
        return jsonrpc.result(call.rpc.id, await list_tools(call))
    if method == "tools/call":
        answer = await call_tool(call)
        return jsonrpc.result(call.rpc.id, answer) if isinstance(answer, dict) else answer
    raise RpcError(METHOD_NOT_FOUND, f"Method not found: {method}")

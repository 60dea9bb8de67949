"""/mcp through the real `mcp` 1.x client, on both backends, and on the wire."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import McpError

from tests.support.server import ServerProcess

BOTH = {"accept": "application/json, text/event-stream"}


async def with_session(server: ServerProcess, use: Any) -> Any:
    async with (
        streamable_http_client(f"{server.url}/mcp") as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        return await use(session)


async def test_list_and_call_tools(server: ServerProcess) -> None:
    async def use(session: ClientSession) -> Any:
        tools = (await session.list_tools()).tools
        called = await session.call_tool("agent", {"messages": "hi"})
        failed = await session.call_tool("errgraph", {"messages": "hi"})
        with pytest.raises(McpError) as unknown:
            await session.call_tool("no-such-tool", {})
        return tools, called, failed, unknown.value

    tools, called, failed, unknown = await with_session(server, use)
    by_name = {tool.name: tool for tool in tools}
    agent = by_name["agent"]
    assert agent.title == "agent"
    assert agent.description == "Tool based on the agent assistant"
    assert agent.inputSchema["properties"]["messages"]["type"] == "string"
    assert agent.annotations.openWorldHint is True
    assert "$defs" not in agent.inputSchema
    assert by_name["echo_config"].inputSchema["type"] == "object"
    assert not called.isError
    values = json.loads(called.content[0].text)
    assert values["messages"][-1]["content"] == "hello there friend"
    assert called.structuredContent == values
    assert failed.isError is True
    assert failed.content[0].text == "ValueError: kaboom"
    assert unknown.error.code == -32602


async def test_tool_names_are_unique_and_follow_mcp_rules(server: ServerProcess, client) -> None:
    tag = uuid.uuid4().hex[:8]
    for _ in range(2):
        await client.assistants.create("agent", name=f"my agent {tag}!")

    async def use(session: ClientSession) -> Any:
        names = [t.name for t in (await session.list_tools()).tools]
        mine = [n for n in names if tag in n]
        results = [await session.call_tool(name, {"messages": "hey"}) for name in mine]
        return names, mine, results

    names, mine, results = await with_session(server, use)
    assert len(names) == len(set(names))
    assert mine[0] == f"my_agent_{tag}_"
    assert mine[1].startswith(f"my_agent_{tag}__")
    assert not any(r.isError for r in results)


async def rpc(http: httpx.AsyncClient, body: Any, headers: dict | None = None) -> httpx.Response:
    return await http.post("/mcp", json=body, headers=headers or BOTH)


async def test_transport_edges(http: httpx.AsyncClient) -> None:
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    assert (await rpc(http, ping)).json() == {"jsonrpc": "2.0", "id": 1, "result": {}}
    for accept in ("", "text/html"):
        assert (await rpc(http, ping, {"accept": accept})).status_code == 400
    assert (await rpc(http, ping, {"accept": "application/json"})).status_code == 200
    bad = await http.post("/mcp", content=b"{bad", headers=BOTH)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == -32700
    for body in ([ping], {"id": 1, "method": "ping"}, {"jsonrpc": "2.0", "id": 1}, 5):
        response = await rpc(http, body)
        assert response.status_code == 400 and response.json()["error"]["code"] == -32600
    notification = await rpc(http, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert notification.status_code == 202 and notification.content == b""
    reply = await rpc(http, {"jsonrpc": "2.0", "id": 9, "result": {}})
    assert reply.status_code == 202
    assert (await http.get("/mcp")).status_code == 405
    assert (await http.delete("/mcp")).status_code == 404
    for method in ("server/discover", "resources/list"):
        error = (await rpc(http, {"jsonrpc": "2.0", "id": 2, "method": method})).json()["error"]
        assert error["code"] == -32601


@pytest.mark.parametrize(
    ("asked", "answered"),
    [("2024-11-05", "2024-11-05"), ("2025-06-18", "2025-06-18"), ("1999-01-01", "2025-11-25")],
)
async def test_initialize_negotiates_the_version(http, asked: str, answered: str) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": asked}}
    result = (await rpc(http, body)).json()["result"]
    assert result["protocolVersion"] == answered
    assert result["capabilities"] == {"tools": {"listChanged": False}}


async def test_tools_list_pages_with_a_cursor(http) -> None:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    everything = (await rpc(http, body)).json()["result"]["tools"]
    skipped = (await rpc(http, {**body, "params": {"cursor": "1"}})).json()["result"]["tools"]
    assert skipped == everything[1 : 1 + len(skipped)]
    bad = (await rpc(http, {**body, "params": {"cursor": "x"}})).json()
    assert bad["error"]["code"] == -32602


async def test_call_edges(http) -> None:
    def call(params: Any, version: str | None = None) -> Any:
        headers = {**BOTH, **({"mcp-protocol-version": version} if version else {})}
        body = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": params}
        return rpc(http, body, headers)

    old = (await call({"name": "agent", "arguments": {"messages": "x"}}, "2025-03-26")).json()
    assert "structuredContent" not in old["result"]
    for params in ({"name": "agent", "arguments": [1]}, {}, [1]):
        assert (await call(params)).json()["error"]["code"] == -32602
    streamed = await http.post(
        "/mcp",
        headers={"accept": "text/event-stream"},
        json={"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "agent"}},
    )
    assert streamed.headers["content-type"].startswith("text/event-stream")
    data = [line[5:] for line in streamed.text.splitlines() if line.startswith("data:")]
    assert json.loads(data[-1])["id"] == 4


async def test_a_caller_that_leaves_cancels_the_run(http, client) -> None:
    params = {"name": "slow", "arguments": {}, "context": {"delay": 60}}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
    [slow] = await client.assistants.search(graph_id="slow", metadata={"created_by": "system"})
    busy = {"metadata": {"assistant_id": slow["assistant_id"]}, "status": "busy"}
    # The answer streams (heartbeats while the run executes): leave before it ends.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(http.post("/mcp", json=body, headers=BOTH), 1.0)
    # The run's temporary thread goes when the run ends: long before its 60 s.
    for _ in range(100):
        if not await client.threads.search(**busy):
            break
        await asyncio.sleep(0.1)
    assert not await client.threads.search(**busy)

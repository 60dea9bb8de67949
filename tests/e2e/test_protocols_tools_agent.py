"""A2A and MCP with the default agent (`tools_agent`, the repo's langgraph.json), its
model a loopback OpenAI stub, on both backends: a card, a send with the a2a-sdk client,
a stream, and an MCP tool call."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.types import Message, Part, Role, TaskState, TextPart
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.support.openai_stub import OpenAIStub, Text
from tests.support.paths import REPO_CONFIG
from tests.support.server import BACKENDS, ServerProcess, serve_backend

pytest_plugins = ["tests.support.fixtures"]


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    yield from serve_backend(request, config=REPO_CONFIG, env={"OPENAI_API_KEY": ""})


@pytest.fixture
async def agent(client, openai_stub: OpenAIStub, model_id: str, tag: str) -> dict:
    context = {"base_url": openai_stub.base_url, "model": model_id, "memory": False}
    return await client.assistants.create("agent", context=context, name=f"agent {tag}")


@pytest.mark.parametrize("streaming", [False, True])
async def test_a2a(server: ServerProcess, agent, openai_stub, model_id, streaming) -> None:
    openai_stub.script(model_id, Text("Hello over A2A"))
    async with httpx.AsyncClient(timeout=30.0) as http:
        base = f"{server.url}/a2a/{agent['assistant_id']}"
        card = await A2ACardResolver(http, base).get_agent_card()
        assert card.name == agent["name"]
        assert card.skills[0].id == f"{agent['assistant_id']}-main"
        config = ClientConfig(streaming=streaming, httpx_client=http)
        a2a = ClientFactory(config).create(card)
        message = Message(
            role=Role.user, message_id=str(uuid.uuid4()), parts=[Part(root=TextPart(text="hi"))]
        )
        events = [event async for event in a2a.send_message(message)]
    task = events[-1][0]
    assert task.status.state == TaskState.completed
    assert task.artifacts[-1].parts[0].root.text == "Hello over A2A"
    [request] = openai_stub.requests(model_id)
    assert request.messages[-1]["content"] == "hi"


async def test_mcp(server: ServerProcess, agent, openai_stub, model_id, tag) -> None:
    openai_stub.script(model_id, Text("Hello over MCP"))
    async with (
        streamable_http_client(f"{server.url}/mcp") as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        tool = tools[f"agent_{tag}"]
        assert tool.inputSchema["properties"]["messages"]["type"] == "string"
        result = await session.call_tool(tool.name, {"messages": "hi"})
    assert not result.isError
    assert json.loads(result.content[0].text)["messages"][-1]["content"] == "Hello over MCP"

"""The tools agent graph, run directly (InMemorySaver + InMemoryStore) with the real
ChatOpenAI client against the loopback stub and a real FastMCP server."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore
from langgraph.types import Command

from tests.support.mcp_server import UNUSED_PORT_URL, McpTestServer
from tests.support.openai_stub import OpenAIStub, Text, ToolCall, ToolCalls, tool_call
from tools_agent.graph import graph
from tools_agent.mcp_tools import mcp_cache
from tools_agent.models import AgentConfigurationError

pytest_plugins = ["tests.support.fixtures"]


def agent(store: InMemoryStore | None = None):
    return graph.copy(update={"checkpointer": InMemorySaver(), "store": store or InMemoryStore()})


def thread() -> dict[str, Any]:
    return {"configurable": {"thread_id": str(uuid.uuid4())}}


@pytest.fixture
def settings(openai_stub: OpenAIStub, model_id: str) -> dict[str, Any]:
    return {"base_url": openai_stub.base_url, "model": model_id, "api_key": "sk-unit"}


def tool_messages(result: dict[str, Any]) -> list[ToolMessage]:
    return [m for m in result["messages"] if isinstance(m, ToolMessage)]


def text_of(message: ToolMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    return "".join(block.get("text", "") for block in message.content)


async def test_streams_the_answer_token_by_token(openai_stub, model_id, settings):
    openai_stub.script(model_id, Text("Hello there, how are you?"))
    settings.update(system_prompt="Be terse.", temperature=0.5, max_tokens=64)
    tokens = []
    async for chunk, meta in agent().astream(
        {"messages": [("user", "hi")]}, thread(), context=settings, stream_mode="messages"
    ):
        assert meta["langgraph_node"] == "agent"
        if isinstance(chunk, AIMessageChunk) and chunk.content:
            tokens.append(chunk.content)
    assert tokens == ["Hello", " there,", " how", " are", " you?"]
    [request] = openai_stub.requests(model_id)
    assert request.body["stream"] is True
    assert request.body["temperature"] == 0.5 and request.body["max_tokens"] == 64
    assert request.messages[:2] == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "hi"},
    ]
    assert request.headers["authorization"] == "Bearer sk-unit"


@pytest.mark.parametrize("transport", ["streamable_http", "sse"])
async def test_mcp_tool_round_trip(openai_stub, model_id, settings, mcp_server, transport):
    url = mcp_server.streamable_url if transport == "streamable_http" else mcp_server.sse_url
    settings["mcp_config"] = [{"url": url, "auth_token": f"tok-{model_id}"}]
    openai_stub.script(
        model_id,
        ToolCalls([ToolCall("add", {"a": 2, "b": 40}), ToolCall("whoami", {})]),
        Text("It is 42."),
    )
    result = await agent().ainvoke({"messages": [("user", "2+40?")]}, thread(), context=settings)

    assert result["messages"][-1].content == "It is 42."
    add, whoami = tool_messages(result)
    assert text_of(add) == "42" and add.status == "success"
    assert text_of(whoami) == f"Bearer tok-{model_id}"
    first, second = openai_stub.requests(model_id)
    assert {"add", "echo", "fail", "whoami"} <= set(first.tool_names)
    tool_results = [m for m in second.messages if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_results] == [add.tool_call_id, whoami.tool_call_id]
    assert "42" in str(tool_results[0]["content"])


async def test_the_allowlist_is_enforced(openai_stub, model_id, settings, mcp_server):
    settings["mcp_config"] = [{"url": mcp_server.streamable_url, "tools": ["echo"]}]
    settings["memory"] = False
    before = len(mcp_server.calls_of("add"))
    openai_stub.script(model_id, tool_call("add", {"a": 1, "b": 1}), Text("Cannot add."))
    result = await agent().ainvoke({"messages": [("user", "1+1")]}, thread(), context=settings)

    assert openai_stub.requests(model_id)[0].tool_names == ["echo"]
    [message] = tool_messages(result)
    assert message.status == "error"
    assert text_of(message) == "Error: tool 'add' is not available."
    assert len(mcp_server.calls_of("add")) == before
    assert result["messages"][-1].content == "Cannot add."


async def test_a_server_that_is_down_becomes_a_tool_error(openai_stub, model_id, settings):
    settings["mcp_config"] = [{"url": UNUSED_PORT_URL, "name": "calculator", "timeout": 5}]
    openai_stub.script(model_id, tool_call("add", {"a": 1, "b": 2}), Text("The tools are down."))
    result = await agent().ainvoke({"messages": [("user", "1+2")]}, thread(), context=settings)

    [message] = tool_messages(result)
    assert message.status == "error"
    assert text_of(message).startswith(
        "Error: tool 'add' is not available. Unavailable tool servers: calculator ("
    )
    system = openai_stub.requests(model_id)[0].messages[0]["content"]
    assert "Some tool servers are unavailable right now: calculator (" in system
    assert result["messages"][-1].content == "The tools are down."


async def test_a_server_that_goes_away_and_comes_back(
    openai_stub,
    model_id,
    settings,
    monkeypatch,
):
    monkeypatch.setattr("tools_agent.mcp_tools.FAILURE_TTL", 0)  # retry at once
    server = McpTestServer().start()
    try:
        settings["mcp_config"] = [{"url": server.streamable_url, "timeout": 5}]
        settings["memory"] = False
        app = agent()
        openai_stub.script(model_id, tool_call("echo", {"text": "one"}), Text("ok"))
        result = await app.ainvoke({"messages": [("user", "a")]}, thread(), context=settings)
        assert text_of(tool_messages(result)[0]) == "one"

        server.stop()
        openai_stub.script(model_id, tool_call("echo", {"text": "two"}), Text("it failed"))
        result = await app.ainvoke({"messages": [("user", "b")]}, thread(), context=settings)
        [message] = tool_messages(result)
        assert message.status == "error" and text_of(message).startswith("Error: tool 'echo'")
        assert result["messages"][-1].content == "it failed"

        server.start()  # same port
        openai_stub.script(model_id, tool_call("echo", {"text": "three"}), Text("back"))
        result = await app.ainvoke({"messages": [("user", "c")]}, thread(), context=settings)
        assert text_of(tool_messages(result)[0]) == "three"
    finally:
        server.stop()


async def test_one_mcp_session_per_server_configuration_until_its_ttl(
    openai_stub,
    model_id,
    settings,
    monkeypatch,
):
    server = McpTestServer().start()
    try:
        settings["mcp_config"] = [{"url": server.streamable_url}]
        app, config = agent(), thread()
        for word in ("one", "two", "three"):
            openai_stub.script(model_id, tool_call("echo", {"text": word}), Text(word))
            await app.ainvoke({"messages": [("user", word)]}, config, context=settings)
        assert [c["text"] for c in server.calls_of("echo")] == ["one", "two", "three"]
        assert server.sessions_opened == 1

        # Another configuration of the same server is another session, kept for the TTL.
        monkeypatch.setattr(mcp_cache(), "ttl", 0.2)
        settings["mcp_config"] = [{"url": server.streamable_url, "headers": {"X-Team": "b"}}]
        openai_stub.script(model_id, Text("a"), Text("b"), Text("c"))
        await app.ainvoke({"messages": [("user", "a")]}, config, context=settings)
        await app.ainvoke({"messages": [("user", "b")]}, config, context=settings)
        assert server.sessions_opened == 2
        await asyncio.sleep(0.3)
        await app.ainvoke({"messages": [("user", "c")]}, config, context=settings)
        assert server.sessions_opened == 3
    finally:
        server.stop()


async def test_a_failing_tool_is_reported_to_the_model(openai_stub, model_id, settings, mcp_server):
    settings["mcp_config"] = [{"url": mcp_server.streamable_url}]
    openai_stub.script(model_id, tool_call("fail", {"message": "disk full"}), Text("Sorry."))
    result = await agent().ainvoke({"messages": [("user", "go")]}, thread(), context=settings)
    [message] = tool_messages(result)
    assert message.status == "error" and "disk full" in text_of(message)
    assert result["messages"][-1].content == "Sorry."


async def test_memory_written_in_one_thread_is_recalled_in_another(
    openai_stub,
    model_id,
    settings,
):
    store = InMemoryStore()
    app = agent(store)
    openai_stub.script(
        model_id,
        tool_call("remember", {"content": "The user's favourite colour is teal."}),
        Text("Noted."),
        tool_call("recall", {"query": "favourite colour"}),
        Text("Teal."),
    )
    user = {"configurable": {"thread_id": "A", "user_id": "ann.lee"}}
    await app.ainvoke({"messages": [("user", "I like teal")]}, user, context=settings)
    [item] = await store.asearch(("memories", "ann%2Elee"))
    assert item.value == {"content": "The user's favourite colour is teal."}

    other_thread = {"configurable": {"thread_id": "B", "user_id": "ann.lee"}}
    result = await app.ainvoke({"messages": [("user", "colour?")]}, other_thread, context=settings)
    [recalled] = tool_messages(result)
    assert text_of(recalled) == f"- [{item.key}] The user's favourite colour is teal."

    stranger = {"configurable": {"thread_id": "C", "user_id": "bob"}}
    openai_stub.script(model_id, tool_call("recall", {}), Text("Nothing."))
    result = await app.ainvoke({"messages": [("user", "colour?")]}, stranger, context=settings)
    assert text_of(tool_messages(result)[0]) == "No memories yet."


async def test_forget_and_memory_off(openai_stub, model_id, settings):
    store = InMemoryStore()
    await store.aput(("memories", "anonymous"), "m1", {"content": "x"})
    openai_stub.script(model_id, tool_call("forget", {"memory_id": "m1"}), Text("Gone."))
    result = await agent(store).ainvoke(
        {"messages": [("user", "forget")]}, thread(), context=settings
    )
    assert text_of(tool_messages(result)[0]) == "Forgot memory_id=m1."
    assert await store.aget(("memories", "anonymous"), "m1") is None

    openai_stub.script(model_id, Text("No tools."))
    settings["memory"] = False
    await agent(store).ainvoke({"messages": [("user", "hi")]}, thread(), context=settings)
    assert "tools" not in openai_stub.requests(model_id)[-1].body


async def interrupted(app, config, settings, openai_stub, model_id, args):
    openai_stub.script(model_id, tool_call("echo", args, id="call_review"))
    result = await app.ainvoke({"messages": [("user", "echo")]}, config, context=settings)
    return result["__interrupt__"][0].value


@pytest.fixture
def reviewed(settings, mcp_server):
    settings["mcp_config"] = [{"url": mcp_server.streamable_url}]
    settings["interrupt_before_tools"] = ["echo"]
    return settings


async def test_approval_pauses_with_the_proposed_call(openai_stub, model_id, reviewed, mcp_server):
    app, config = agent(), thread()
    before = len(mcp_server.calls_of("echo"))
    request = await interrupted(app, config, reviewed, openai_stub, model_id, {"text": "hi"})
    assert request == {
        "action_requests": [
            {
                "name": "echo",
                "args": {"text": "hi"},
                "description": "Tool execution requires approval\n\n"
                'Tool: echo\nArgs: {"text": "hi"}',
                "tool_call_id": "call_review",
            }
        ],
        "review_configs": [
            {"action_name": "echo", "allowed_decisions": ["approve", "edit", "reject"]}
        ],
    }
    assert len(mcp_server.calls_of("echo")) == before  # nothing ran yet
    state = await app.aget_state(config)
    assert state.next == ("tools",)

    openai_stub.script(model_id, Text("Echoed."))
    resume = Command(resume={"decisions": [{"type": "approve"}]})
    result = await app.ainvoke(resume, config, context=reviewed)
    assert text_of(tool_messages(result)[0]) == "hi"
    assert result["messages"][-1].content == "Echoed."


async def test_an_edited_call_runs_as_edited(openai_stub, model_id, reviewed, mcp_server):
    app, config = agent(), thread()
    await interrupted(app, config, reviewed, openai_stub, model_id, {"text": "draft"})
    openai_stub.script(model_id, Text("Done."))
    edit = {"type": "edit", "edited_action": {"name": "echo", "args": {"text": "final"}}}
    result = await app.ainvoke(Command(resume={"decisions": [edit]}), config, context=reviewed)
    assert text_of(tool_messages(result)[0]) == "final"
    assert {"text": "draft"} not in mcp_server.calls_of("echo")
    ai_call = result["messages"][1]
    assert ai_call.tool_calls[0]["args"] == {"text": "final"}  # history shows what ran
    sent = openai_stub.requests(model_id)[-1].messages
    assert '"final"' in sent[2]["tool_calls"][0]["function"]["arguments"]


async def test_a_rejected_call_does_not_run(openai_stub, model_id, reviewed, mcp_server):
    app, config = agent(), thread()
    await interrupted(app, config, reviewed, openai_stub, model_id, {"text": "secret-plan"})
    openai_stub.script(model_id, Text("Understood."))
    reject = {"type": "reject", "message": "not now"}
    result = await app.ainvoke(Command(resume=reject), config, context=reviewed)
    [message] = tool_messages(result)
    assert message.status == "error"
    assert text_of(message) == (
        "The user rejected this call to 'echo'; it did not run. They said: not now"
    )
    assert {"text": "secret-plan"} not in mcp_server.calls_of("echo")
    assert result["messages"][-1].content == "Understood."


async def test_only_the_listed_tools_wait_for_approval(
    openai_stub,
    model_id,
    reviewed,
    mcp_server,
):
    app, config = agent(), thread()
    calls = [ToolCall("add", {"a": 5, "b": 5}, "call_add"), ToolCall("echo", {"text": model_id})]
    openai_stub.script(model_id, ToolCalls(calls))
    result = await app.ainvoke({"messages": [("user", "both")]}, config, context=reviewed)
    [pending] = result["__interrupt__"][0].value["action_requests"]
    assert pending["name"] == "echo"
    assert {"a": 5, "b": 5} not in mcp_server.calls_of("add")  # nothing runs before approval

    openai_stub.script(model_id, Text("Both done."))
    result = await app.ainvoke(Command(resume="approve"), config, context=reviewed)
    assert [text_of(m) for m in tool_messages(result)] == ["10", model_id]


async def test_a_resume_that_does_not_fit_is_an_error(openai_stub, model_id, reviewed):
    app, config = agent(), thread()
    await interrupted(app, config, reviewed, openai_stub, model_id, {"text": "x"})
    with pytest.raises(ValueError, match="must hold 1 decision"):
        await app.ainvoke(Command(resume=["approve", "approve"]), config, context=reviewed)


async def test_a_missing_key_is_a_clear_error_before_any_request(monkeypatch, openai_stub):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(AgentConfigurationError) as caught:
        await agent().ainvoke({"messages": [("user", "hi")]}, thread())
    assert str(caught.value) == (
        "No API key for provider 'openai': set OPENAI_API_KEY or configure base_url"
    )

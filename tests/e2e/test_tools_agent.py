"""The tools agent ("agent" in the repo's langgraph.json) through the real server and
langgraph-sdk, on both backends: the real ChatOpenAI talks to a loopback stub, MCP tools
come from a real FastMCP server."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.agent_e2e import last_values, text, tokens, tool_messages
from tests.support.graphs import human
from tests.support.mcp_server import UNUSED_PORT_URL
from tests.support.openai_stub import OpenAIStub, Text, ToolCall, ToolCalls, tool_call
from tests.support.paths import REPO_CONFIG
from tests.support.runs import stream
from tests.support.server import BACKENDS, ServerProcess, serve_backend

pytest_plugins = ["tests.support.fixtures"]


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    # No provider key, whatever the developer's shell holds: the missing-key test needs it.
    yield from serve_backend(request, config=REPO_CONFIG, env={"OPENAI_API_KEY": ""})


@pytest.fixture
async def assistant(client, openai_stub: OpenAIStub, model_id: str, tag: str):
    """Creates an agent assistant on the stub with extra settings; returns its id."""

    async def create(**settings: Any) -> str:
        context = {"base_url": openai_stub.base_url, "model": model_id, **settings}
        created = await client.assistants.create(
            "agent", context=context, metadata={"tag": tag}, name=f"agent {tag}"
        )
        return created["assistant_id"]

    return create


async def test_a_streamed_answer_arrives_token_by_token(client, assistant, openai_stub, model_id):
    assistant_id = await assistant(system_prompt="You are terse.")
    thread = await client.threads.create()
    openai_stub.script(model_id, Text("Hello from the stub model"))

    parts = await stream(
        client,
        thread["thread_id"],
        assistant_id,
        input=human("hi"),
        stream_mode=["messages-tuple", "values"],
    )

    assert parts[0].event == "metadata"
    assert tokens(parts) == ["Hello", " from", " the", " stub", " model"]
    metadata = next(p.data[1] for p in parts if p.event == "messages")
    assert metadata["langgraph_node"] == "agent" and metadata["assistant_id"] == assistant_id
    final = last_values(parts)["messages"]
    assert [m["type"] for m in final] == ["human", "ai"]
    assert final[-1]["content"] == "Hello from the stub model"
    [request] = openai_stub.requests(model_id)
    assert request.messages[0] == {"role": "system", "content": "You are terse."}
    state = await client.threads.get_state(thread["thread_id"])
    assert state["values"]["messages"][-1]["content"] == "Hello from the stub model"


@pytest.mark.parametrize("transport", ["streamable_http", "sse"])
async def test_an_mcp_tool_round_trip(
    client, assistant, openai_stub, model_id, mcp_server, transport
):
    url = mcp_server.streamable_url if transport == "streamable_http" else mcp_server.sse_url
    assistant_id = await assistant(mcp_config=[{"url": url, "tools": ["add"]}], memory=False)
    thread = await client.threads.create()
    openai_stub.script(
        model_id,
        ToolCalls([ToolCall("add", {"a": 20, "b": 22})]),
        Text("The sum is 42"),
    )

    parts = await stream(
        client,
        thread["thread_id"],
        assistant_id,
        input=human("20+22?"),
        stream_mode=["messages-tuple", "values", "updates"],
    )

    updates = [p.data for p in parts if p.event == "updates"]
    assert [next(iter(u)) for u in updates] == ["agent", "tools", "agent"]
    [result] = tool_messages(last_values(parts))
    assert text(result) == "42" and result["status"] == "success"
    assert tokens(parts)[-4:] == ["The", " sum", " is", " 42"]
    first, second = openai_stub.requests(model_id)
    assert first.tool_names == ["add"]  # the allowlist
    assert [m["role"] for m in second.messages] == ["system", "user", "assistant", "tool"]
    assert {"a": 20, "b": 22} in mcp_server.calls_of("add")


async def test_an_mcp_server_that_is_down(client, assistant, openai_stub, model_id):
    assistant_id = await assistant(
        mcp_config=[{"url": UNUSED_PORT_URL, "name": "calculator", "timeout": 5}], memory=False
    )
    thread = await client.threads.create()
    openai_stub.script(model_id, tool_call("add", {"a": 1, "b": 2}), Text("Tools are down."))

    parts = await stream(client, thread["thread_id"], assistant_id, input=human("1+2"))

    assert not [p for p in parts if p.event == "error"]
    [result] = tool_messages(last_values(parts))
    assert result["status"] == "error"
    assert text(result).startswith("Error: tool 'add' is not available.")
    assert "calculator" in text(result)
    assert last_values(parts)["messages"][-1]["content"] == "Tools are down."
    assert (await client.threads.get(thread["thread_id"]))["status"] == "idle"


async def test_memory_written_in_one_thread_is_recalled_in_another(
    client,
    assistant,
    openai_stub,
    model_id,
    tag,
):
    assistant_id = await assistant(memory_namespace=f"{tag}/{{user_id}}")
    openai_stub.script(
        model_id,
        tool_call("remember", {"content": "Favourite colour: teal", "memory_id": "colour"}),
        Text("Noted."),
        tool_call("recall", {"query": "colour"}),
        Text("Teal."),
    )
    thread_a = await client.threads.create()
    await stream(client, thread_a["thread_id"], assistant_id, input=human("I like teal"))

    item = await client.store.get_item([tag, "anonymous"], "colour")
    assert item["value"] == {"content": "Favourite colour: teal"}

    thread_b = await client.threads.create()
    parts = await stream(client, thread_b["thread_id"], assistant_id, input=human("colour?"))
    [recalled] = tool_messages(last_values(parts))
    assert text(recalled) == "- [colour] Favourite colour: teal"
    assert last_values(parts)["messages"][-1]["content"] == "Teal."


async def test_memories_are_kept_per_user_id_the_client_sends(
    client, assistant, openai_stub, model_id, tag
):
    # No auth: the user_id a client sends is whose memory it is (not one shared key).
    assistant_id = await assistant(memory_namespace=f"{tag}/{{user_id}}")
    for user, colour in (("alice", "teal"), ("bob", "red")):
        openai_stub.script(
            model_id,
            tool_call("remember", {"content": f"Likes {colour}", "memory_id": "colour"}),
            Text("Noted."),
        )
        thread = await client.threads.create()
        await stream(
            client,
            thread["thread_id"],
            assistant_id,
            input=human(f"I like {colour}"),
            config={"configurable": {"user_id": user}},
        )

    assert (await client.store.get_item([tag, "alice"], "colour"))["value"]["content"] == (
        "Likes teal"
    )
    assert (await client.store.get_item([tag, "bob"], "colour"))["value"]["content"] == "Likes red"
    assert (await client.store.search_items([tag, "anonymous"]))["items"] == []


async def test_mcp_servers_in_the_multi_server_shape(
    client, assistant, openai_stub, model_id, mcp_server
):
    servers = [{"url": mcp_server.streamable_url, "tools": ["add"]}, {"url": mcp_server.sse_url}]
    assistant_id = await assistant(mcp_config={"servers": servers}, memory=False)
    thread = await client.threads.create()
    openai_stub.script(model_id, tool_call("add", {"a": 2, "b": 3}), Text("5"))

    parts = await stream(client, thread["thread_id"], assistant_id, input=human("2+3?"))

    assert not [p for p in parts if p.event == "error"]
    [result] = tool_messages(last_values(parts))
    assert text(result) == "5" and result["status"] == "success"
    # Both servers' tools: the allowlisted one of the first, all of the second's (the same
    # server, so `add` is offered once).
    first = openai_stub.requests(model_id)[0]
    assert set(first.tool_names) == {"add", "echo", "fail", "whoami"}


@pytest.mark.parametrize("where", ["assistant", "run"])
async def test_an_unreadable_mcp_config_ends_the_run_with_an_error_naming_it(
    client, assistant, openai_stub, model_id, mcp_server, where
):
    unreadable = {"mcpServers": {"calc": {"url": mcp_server.streamable_url}}}
    # Saved as given, as on the reference server (it does not check settings against the
    # graph): the run is where the agent reads them.
    assistant_id = await assistant(**({"mcp_config": unreadable} if where == "assistant" else {}))
    run_settings = (
        {"config": {"configurable": {"mcp_config": unreadable}}} if where == "run" else {}
    )
    thread = await client.threads.create()

    parts = await stream(
        client, thread["thread_id"], assistant_id, input=human("hi"), **run_settings
    )

    [error] = [p.data for p in parts if p.event == "error"]
    assert error["error"] == "ValidationError"
    assert "mcp_config must be" in error["message"]
    assert '{"servers": [...]}' in error["message"]
    assert openai_stub.requests(model_id) == []  # the agent did not run without its tools
    assert (await client.threads.get(thread["thread_id"]))["status"] == "error"


async def _interrupted(client, assistant, openai_stub, model_id, mcp_server, args):
    assistant_id = await assistant(
        mcp_config=[{"url": mcp_server.streamable_url}], interrupt_before_tools=["echo"]
    )
    thread = await client.threads.create()
    openai_stub.script(model_id, tool_call("echo", args, id="call_e2e"))
    parts = await stream(
        client, thread["thread_id"], assistant_id, input=human("echo it"), stream_mode="updates"
    )
    [interrupt] = parts[-1].data["__interrupt__"]
    return assistant_id, thread["thread_id"], interrupt


async def test_approving_an_interrupted_tool_call(
    client, assistant, openai_stub, model_id, mcp_server
):
    assistant_id, thread_id, interrupt = await _interrupted(
        client, assistant, openai_stub, model_id, mcp_server, {"text": "approved text " + model_id}
    )
    assert interrupt["value"]["action_requests"][0]["name"] == "echo"
    assert interrupt["value"]["action_requests"][0]["args"] == {"text": "approved text " + model_id}
    thread = await client.threads.get(thread_id)
    assert thread["status"] == "interrupted"
    assert {"text": "approved text " + model_id} not in mcp_server.calls_of("echo")

    openai_stub.script(model_id, Text("Echoed it."))
    parts = await stream(
        client,
        thread_id,
        assistant_id,
        command={"resume": {"decisions": [{"type": "approve"}]}},
        stream_mode="values",
    )
    assert text(tool_messages(last_values(parts))[0]) == "approved text " + model_id
    assert last_values(parts)["messages"][-1]["content"] == "Echoed it."
    assert (await client.threads.get(thread_id))["status"] == "idle"


async def test_editing_an_interrupted_tool_call(
    client, assistant, openai_stub, model_id, mcp_server
):
    assistant_id, thread_id, _ = await _interrupted(
        client, assistant, openai_stub, model_id, mcp_server, {"text": "first draft " + model_id}
    )
    openai_stub.script(model_id, Text("Sent the edit."))
    edit = {
        "type": "edit",
        "edited_action": {"name": "echo", "args": {"text": "final " + model_id}},
    }
    parts = await stream(client, thread_id, assistant_id, command={"resume": {"decisions": [edit]}})
    values = last_values(parts)
    assert text(tool_messages(values)[0]) == "final " + model_id
    assert values["messages"][1]["tool_calls"][0]["args"] == {"text": "final " + model_id}
    assert {"text": "first draft " + model_id} not in mcp_server.calls_of("echo")


async def test_rejecting_an_interrupted_tool_call(
    client, assistant, openai_stub, model_id, mcp_server
):
    assistant_id, thread_id, _ = await _interrupted(
        client, assistant, openai_stub, model_id, mcp_server, {"text": "never sent " + model_id}
    )
    openai_stub.script(model_id, Text("Okay, I will not."))
    parts = await stream(
        client,
        thread_id,
        assistant_id,
        command={"resume": {"decisions": [{"type": "reject", "message": "no"}]}},
    )
    [rejected] = tool_messages(last_values(parts))
    assert rejected["status"] == "error"
    assert text(rejected) == "The user rejected this call to 'echo'; it did not run. They said: no"
    assert {"text": "never sent " + model_id} not in mcp_server.calls_of("echo")
    assert last_values(parts)["messages"][-1]["content"] == "Okay, I will not."


async def test_a_missing_key_ends_the_run_with_a_clear_error(client):
    thread = await client.threads.create()
    parts = await stream(client, thread["thread_id"], "agent", input=human("hi"))
    errors = [p.data for p in parts if p.event == "error"]
    assert errors == [
        {
            "error": "AgentConfigurationError",
            "message": "No API key for provider 'openai': set OPENAI_API_KEY or configure base_url",
        }
    ]
    [run] = await client.runs.list(thread["thread_id"])
    assert run["status"] == "error"


@pytest.mark.skipif(
    importlib.util.find_spec("langchain_anthropic") is not None,
    reason="langchain-anthropic is installed here",
)
async def test_a_provider_that_is_not_installed(client):
    context = {"model_name": "anthropic:claude-sonnet-4-5", "api_key": "sk-ant-test"}
    parts = await stream(client, None, "agent", input=human("hi"), context=context)
    [error] = [p.data for p in parts if p.event == "error"]
    assert error["error"] == "AgentConfigurationError"
    assert error["message"].startswith("Provider 'anthropic' is not installed on this server")
    assert "sk-ant-test" not in str(parts)

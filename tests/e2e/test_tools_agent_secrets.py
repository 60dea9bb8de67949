"""API keys and tokens given to the tools agent reach the model and the MCP server, and
nothing else: not checkpoints or their metadata, not run kwargs, not thread config, not
stream events, not the server log, not API responses. On Postgres, every table is
searched for them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from robyn_server.serialization import dumps
from tests.support.agent_e2e import rows_containing
from tests.support.graphs import human
from tests.support.openai_stub import OpenAIStub, Text, tool_call
from tests.support.paths import REPO_CONFIG
from tests.support.runs import stream
from tests.support.server import BACKENDS, ServerProcess, serve_backend

pytest_plugins = ["tests.support.fixtures"]

ALL_MODES = [
    "values", "updates", "messages-tuple", "debug", "checkpoints", "tasks", "custom", "events"
]  # fmt: skip
ASSISTANT_TABLES = ("langgraph_server.assistants.", "langgraph_server.assistant_versions.")


def distinctive(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex}"


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    # INFO, as servers usually run: more log lines, more chances to leak.
    yield from serve_backend(request, config=REPO_CONFIG, env={"LOG_LEVEL": "INFO"})


def leaked(secrets: list[str], *outputs: Any) -> list[str]:
    """`where: secret` for each secret found, `where` a path into the outputs as a client
    receives them (JSON)."""
    found: list[str] = []

    def visit(value: Any, where: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                visit(item, f"{where}.{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                visit(item, f"{where}[{index}]")
        elif isinstance(value, str):
            found.extend(f"{where}: {secret}" for secret in secrets if secret in value)

    for index, output in enumerate(outputs):
        visit(output if isinstance(output, str) else orjson.loads(dumps(output)), f"#{index}")
    return found


async def everything_shown(client, thread_id: str) -> list[Any]:
    """What the API returns about a thread and its runs."""
    runs = await client.runs.list(thread_id)
    return [
        await client.threads.get(thread_id),
        await client.threads.get_state(thread_id),
        await client.threads.get_history(thread_id, limit=100),
        runs,
        [await client.runs.get(thread_id, run["run_id"]) for run in runs],
    ]


async def test_run_secrets_are_used_but_never_stored_or_shown(
    client, server, openai_stub: OpenAIStub, model_id: str, mcp_server
):
    run_key, config_key, stateless_key = (distinctive("sk-run") for _ in range(3))
    token, header = distinctive("mcp-token"), distinctive("mcp-header")
    secrets = [run_key, config_key, stateless_key, token, header]
    server_settings = {
        "url": mcp_server.streamable_url,
        "auth_token": token,
        "headers": {"X-Api-Key": header},
        "tools": ["add"],
    }
    created = await client.assistants.create(
        "agent", context={"base_url": openai_stub.base_url, "model": model_id, "memory": False}
    )
    assistant_id = created["assistant_id"]

    # Secrets in the run's context (current clients), with every stream mode on.
    thread_a = (await client.threads.create())["thread_id"]
    openai_stub.script(model_id, tool_call("add", {"a": 1, "b": 2}), Text("3"))
    parts_a = await stream(
        client,
        thread_a,
        assistant_id,
        input=human("1+2"),
        context={"api_key": run_key, "mcp_config": [server_settings]},
        stream_mode=ALL_MODES,
    )
    # Secrets in config.configurable (older clients).
    thread_b = (await client.threads.create())["thread_id"]
    openai_stub.script(model_id, Text("ok"))
    parts_b = await stream(
        client,
        thread_b,
        assistant_id,
        input=human("hi"),
        config={"configurable": {"api_key": config_key}},
        stream_mode=ALL_MODES,
    )
    # A stateless run kept afterwards.
    openai_stub.script(model_id, Text("ok"))
    waited = await client.runs.wait(
        None,
        assistant_id,
        input=human("hi"),
        context={"api_key": stateless_key},
        on_completion="keep",
    )

    # They were used where they belong...
    keys_sent = [r.headers["authorization"] for r in openai_stub.requests(model_id)]
    assert keys_sent == [f"Bearer {run_key}"] * 2 + [
        f"Bearer {config_key}",
        f"Bearer {stateless_key}",
    ]
    assert any(h.get("authorization") == f"Bearer {token}" for h in mcp_server.request_headers)
    assert any(h.get("x-api-key") == header for h in mcp_server.request_headers)
    assert [p.event for p in parts_a].count("error") == 0 and parts_a[-1].event != "error"

    # ...and nowhere else.
    shown = [*await everything_shown(client, thread_a), *await everything_shown(client, thread_b)]
    searched = await client.threads.search(limit=100)
    assert leaked(secrets, parts_a, parts_b, waited, shown, searched) == []
    assert leaked(secrets, server.output()) == []
    if server.backend == "postgres":
        assert await rows_containing(server.env["DATABASE_URL"], secrets) == {}


async def test_assistant_secrets_are_redacted_in_output_and_survive_a_round_trip(
    client, server, openai_stub: OpenAIStub, model_id: str, mcp_server, tag: str
):
    key, token = distinctive("sk-assistant"), distinctive("mcp-token")
    context = {
        "base_url": openai_stub.base_url,
        "model": model_id,
        "api_key": key,
        "memory": False,
        "mcp_config": [{"url": mcp_server.streamable_url, "auth_token": token}],
    }
    created = await client.assistants.create("agent", context=context, metadata={"tag": tag})
    assistant_id = created["assistant_id"]
    shown = [
        created,
        await client.assistants.get(assistant_id),
        await client.assistants.search(metadata={"tag": tag}),
        await client.assistants.get_versions(assistant_id),
    ]
    assert leaked([key, token], shown) == []
    assert created["context"]["api_key"] == "***"
    assert created["config"]["configurable"]["mcp_config"][0]["auth_token"] == "***"

    # A client saves the form it read back, placeholders included: the keys stay.
    edited = {**shown[1]["context"], "system_prompt": "Be brief."}
    updated = await client.assistants.update(assistant_id, context=edited)
    assert updated["context"]["api_key"] == "***" and updated["version"] == 2
    thread_id = (await client.threads.create())["thread_id"]
    openai_stub.script(model_id, Text("ok"))
    parts = await stream(client, thread_id, assistant_id, input=human("hi"))
    assert parts[-1].event != "error"
    [request] = openai_stub.requests(model_id)
    assert request.headers["authorization"] == f"Bearer {key}"
    assert request.messages[0]["content"] == "Be brief."

    assert leaked([key, token], await everything_shown(client, thread_id)) == []
    assert leaked([key, token], server.output()) == []
    if server.backend == "postgres":
        # Stored with the assistant, as its owner asked, and nowhere else.
        found = await rows_containing(server.env["DATABASE_URL"], [key, token])
        places = [place for places in found.values() for place in places]
        assert places and all(place.startswith(ASSISTANT_TABLES) for place in places)

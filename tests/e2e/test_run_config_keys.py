"""What a run's graph receives in `config["configurable"]`, `config["metadata"]` and its
runtime context, key by key as on the reference server (graph `echo_config` echoes them).

The reference treats `config.configurable` and `context` as one set of settings (assistant's
overridden by the run's), found in both places; server keys (ids, auth, request id) override
the client's; a client's `user_id` reaches the graph unless an authenticated user overrides it.
"""

from __future__ import annotations

from typing import Any

import pytest

ECHO = "echo_config"
SERVER_KEYS = {
    "thread_id": "client-thread",
    "run_id": "client-run",
    "assistant_id": "client-assistant",
    "graph_id": "client-graph",
    "langgraph_auth_user_id": "client-auth-user",
    "langgraph_auth_user": "client-auth",
    "langgraph_auth_permissions": ["client"],
    "langgraph_request_id": "client-request",
}


async def echo(client, stateful: bool, assistant_id: str = ECHO, **body: Any) -> dict[str, Any]:
    """Run the echo graph on a new thread (or statelessly); what it saw, plus the ids."""
    thread_id = (await client.threads.create())["thread_id"] if stateful else None
    seen = await client.runs.wait(thread_id, assistant_id, input={}, **body)
    assert "__error__" not in seen, seen
    return seen


@pytest.mark.parametrize("stateful", [True, False], ids=["stateful", "stateless"])
@pytest.mark.parametrize("where", ["configurable", "context"])
async def test_a_clients_user_id_reaches_the_graph(client, stateful, where):
    settings = {"user_id": "alice", "lang": "fr"}
    body = {"config": {"configurable": settings}} if where == "configurable" else {}
    body = body or {"context": settings}

    seen = await echo(client, stateful, **body)

    assert seen["conf"]["user_id"] == "alice"
    assert seen["conf"]["lang"] == "fr"
    assert seen["context"] == settings  # both ways of sending settings reach both places
    assert seen["conf"]["langgraph_auth_user_id"] == ""  # nobody is authenticated


async def test_without_a_user_id_the_graph_sees_an_empty_one_and_the_auth_keys(client):
    seen = await echo(client, stateful=True)

    conf = seen["conf"]
    assert conf["user_id"] == ""
    assert conf["langgraph_auth_user_id"] == ""
    assert conf["langgraph_auth_user"] is None
    assert conf["langgraph_auth_permissions"] == []
    assert seen["context"] is None  # no settings at all: no context, as on the reference


async def test_server_keys_override_the_clients_and_the_rest_is_kept(client):
    thread = await client.threads.create()
    thread_id = thread["thread_id"]
    configurable = {**SERVER_KEYS, "user_id": "bob", "x-custom": "kept"}

    seen = await client.runs.wait(thread_id, ECHO, input={}, config={"configurable": configurable})

    [run] = await client.runs.list(thread_id)
    conf = seen["conf"]
    assert conf["thread_id"] == thread_id
    assert conf["run_id"] == run["run_id"]
    assert conf["assistant_id"] == run["assistant_id"]
    assert conf["graph_id"] == ECHO
    assert conf["langgraph_auth_user_id"] == ""
    assert conf["langgraph_auth_user"] is None
    assert conf["langgraph_auth_permissions"] == []
    assert conf["langgraph_request_id"] != "client-request"
    assert (conf["user_id"], conf["x-custom"]) == ("bob", "kept")
    # The runtime context is the client's settings minus the auth and request keys.
    assert seen["context"] == {
        "thread_id": "client-thread",
        "run_id": "client-run",
        "assistant_id": "client-assistant",
        "graph_id": "client-graph",
        "user_id": "bob",
        "x-custom": "kept",
    }


@pytest.mark.parametrize("assistant_way", ["configurable", "context"])
@pytest.mark.parametrize("run_way", ["configurable", "context"])
async def test_the_runs_settings_override_the_assistants_wherever_either_sent_them(
    client, tag, assistant_way, run_way
):
    mine = {"user_id": "assistant-user", "shared": "assistant", "only_assistant": 1}
    assistant_body = (
        {"config": {"configurable": mine}} if assistant_way == "configurable" else {"context": mine}
    )
    assistant = await client.assistants.create(ECHO, metadata={"tag": tag}, **assistant_body)
    override = {"shared": "run", "only_run": 2}
    run_body = (
        {"config": {"configurable": override}}
        if run_way == "configurable"
        else {"context": override}
    )

    seen = await echo(client, True, assistant["assistant_id"], **run_body)

    expected = {"user_id": "assistant-user", "shared": "run", "only_assistant": 1, "only_run": 2}
    assert seen["context"] == expected
    assert {k: seen["conf"][k] for k in expected} == expected
    # Without an override of its own, the assistant's user_id is the one the graph sees.
    plain = await echo(client, False, assistant["assistant_id"])
    assert plain["conf"]["user_id"] == "assistant-user"


async def test_a_dataclass_context_schema_gets_its_defaults_and_only_its_fields(client):
    nothing = await echo(client, True, "echo_dataclass")
    assert nothing["context"] == {
        "dataclass": "Settings",
        "model": "default-model",
        "temperature": 0.5,
    }

    # Keys the schema does not declare (here the ids a client may send along) are left out
    # rather than failing the run.
    for body in (
        {"config": {"configurable": {"model": "m1", "user_id": "u", "unknown": 1}}},
        {"context": {"model": "m1", "user_id": "u", "unknown": 1}},
    ):
        seen = await echo(client, False, "echo_dataclass", **body)
        assert seen["context"] == {"dataclass": "Settings", "model": "m1", "temperature": 0.5}
        assert seen["conf"]["user_id"] == "u"


async def test_the_graph_sees_the_run_metadata_with_the_server_ids(client, tag):
    thread = await client.threads.create(metadata={"owner": "t"})
    thread_id = thread["thread_id"]
    assistant = await client.assistants.create(ECHO, metadata={"tag": tag, "team": "a"})

    seen = await client.runs.wait(
        thread_id,
        assistant["assistant_id"],
        input={},
        metadata={"run_id": "client-run", "thread_id": "client-thread", "graph_id": "mine"},
        config={"metadata": {"from_config": 1, "team": "b"}},
    )

    [run] = await client.runs.list(thread_id)
    meta = seen["meta"]
    assert meta["run_id"] == run["run_id"]
    assert meta["thread_id"] == thread_id
    assert meta["assistant_id"] == assistant["assistant_id"]
    # The run's metadata: assistant < thread < config.metadata < metadata; graph_id is not
    # reserved, so a client's own wins, as on the reference.
    assert (meta["team"], meta["owner"], meta["from_config"]) == ("b", "t", 1)
    assert meta["graph_id"] == "mine"
    assert meta["run_attempt"] == 1

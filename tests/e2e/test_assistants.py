"""Assistants through the real SDK and raw HTTP, on every backend."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from langgraph_sdk.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    UnprocessableEntityError,
)

from tests.support.graphs import AGENT_ASSISTANT_ID, FIXTURE_GRAPHS, HELLO_STEPS, HI
from tests.support.server import checkpoint_counts


async def test_create_with_explicit_id_round_trips(client, tag):
    assistant_id = str(uuid.uuid4())
    created = await client.assistants.create(
        "agent",
        config={"configurable": {"model": "fake"}, "tags": ["t1"], "recursion_limit": 7},
        metadata={"tag": tag, "nested": {"a": [1, 2]}},
        assistant_id=assistant_id,
        name="My assistant",
        description="does things",
    )
    assert created["assistant_id"] == assistant_id
    assert created["graph_id"] == "agent"
    assert created["version"] == 1
    assert created["name"] == "My assistant"
    assert created["description"] == "does things"
    assert created["metadata"] == {"tag": tag, "nested": {"a": [1, 2]}}
    assert created["config"]["configurable"] == {"model": "fake"}
    assert created["config"]["tags"] == ["t1"]
    assert created["config"]["recursion_limit"] == 7
    # config.configurable is mirrored into context.
    assert created["context"] == {"model": "fake"}
    assert created["created_at"] == created["updated_at"]

    assert await client.assistants.get(assistant_id) == created


async def test_create_defaults(client, tag):
    created = await client.assistants.create("agent", metadata={"tag": tag})
    uuid.UUID(created["assistant_id"])
    assert created["name"] == "Untitled"
    assert created["version"] == 1
    assert created["description"] is None


async def test_context_is_mirrored_into_configurable(client, tag):
    created = await client.assistants.create("agent", context={"user": "u1"}, metadata={"tag": tag})
    assert created["context"] == {"user": "u1"}
    assert created["config"]["configurable"] == {"user": "u1"}


async def test_create_with_both_configurable_and_context_is_400(client, tag):
    with pytest.raises(BadRequestError) as err:
        await client.assistants.create(
            "agent", config={"configurable": {"a": 1}}, context={"b": 2}, metadata={"tag": tag}
        )
    assert "configurable and context" in err.value.response.json()["detail"]
    assert await client.assistants.count(metadata={"tag": tag}) == 0


async def test_create_existing_id_raise_and_do_nothing(client, tag):
    assistant_id = str(uuid.uuid4())
    original = await client.assistants.create(
        "agent", assistant_id=assistant_id, name="first", metadata={"tag": tag}
    )
    with pytest.raises(ConflictError) as err:
        await client.assistants.create("agent", assistant_id=assistant_id, name="second")
    assert assistant_id in err.value.response.json()["detail"]

    again = await client.assistants.create(
        "agent", assistant_id=assistant_id, if_exists="do_nothing", name="third"
    )
    assert again == original
    assert await client.assistants.get(assistant_id) == original


async def test_create_unknown_graph_is_404_listing_graphs(client, http):
    with pytest.raises(NotFoundError) as err:
        await client.assistants.create("no_such_graph")
    detail = err.value.response.json()["detail"]
    assert detail.startswith("Graph 'no_such_graph' not found. Expected one of")
    for graph_id in FIXTURE_GRAPHS:
        assert graph_id in detail


async def test_create_invalid_assistant_id_is_422(http, tag):
    resp = await http.post(
        "/assistants",
        json={"graph_id": "agent", "assistant_id": "not-a-uuid", "metadata": {"tag": tag}},
    )
    assert resp.status_code == 422
    assert "must be a UUID" in resp.json()["detail"]
    count = await http.post("/assistants/count", json={"metadata": {"tag": tag}})
    assert count.json() == 0


async def test_system_assistant(client):
    system = await client.assistants.get(AGENT_ASSISTANT_ID)
    assert system["graph_id"] == "agent"
    assert system["metadata"] == {"created_by": "system"}
    # The graph keeps LangGraph's default name, so the server names it after the graph id.
    assert system["name"] == "agent"
    assert system["version"] == 1
    for graph_id in FIXTURE_GRAPHS:
        found = await client.assistants.search(graph_id=graph_id, metadata={"created_by": "system"})
        assert [a["graph_id"] for a in found] == [graph_id]


async def test_get_missing_assistant_is_404(client, http):
    missing = str(uuid.uuid4())
    with pytest.raises(NotFoundError):
        await client.assistants.get(missing)
    resp = await http.get(f"/assistants/{missing}")
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("application/json")
    assert isinstance(resp.json()["detail"], str)


@pytest.mark.parametrize("bad_id", ["notauuid", "agent", "1234"])
async def test_get_non_uuid_is_422(client, bad_id):
    with pytest.raises(UnprocessableEntityError) as err:
        await client.assistants.get(bad_id)
    assert err.value.response.json() == {"detail": "Invalid assistant ID: must be a UUID"}


async def test_patch_creates_versions_and_merges_metadata(client, tag):
    created = await client.assistants.create(
        "agent", metadata={"tag": tag, "keep": 1}, name="v1", context={"x": 1}
    )
    assistant_id = created["assistant_id"]
    await asyncio.sleep(0.01)

    v2 = await client.assistants.update(assistant_id, metadata={"extra": 2}, name="v2")
    assert v2["version"] == 2
    assert v2["name"] == "v2"
    assert v2["metadata"] == {"tag": tag, "keep": 1, "extra": 2}
    assert v2["context"] == {"x": 1}
    assert v2["created_at"] == created["created_at"]
    assert v2["updated_at"] > created["updated_at"]

    v3 = await client.assistants.update(assistant_id, context={"x": 3}, description="third")
    assert v3["version"] == 3
    assert v3["context"] == {"x": 3}
    assert v3["config"]["configurable"] == {"x": 3}
    assert v3["description"] == "third"
    assert v3["name"] == "v2"
    assert await client.assistants.get(assistant_id) == v3

    versions = await client.assistants.get_versions(assistant_id)
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert [v["name"] for v in versions] == ["v2", "v2", "v1"]
    assert versions[2]["metadata"] == {"tag": tag, "keep": 1}
    assert versions[0]["context"] == {"x": 3}
    assert all(v["assistant_id"] == assistant_id for v in versions)

    page = await client.assistants.get_versions(assistant_id, limit=1, offset=1)
    assert [v["version"] for v in page] == [2]
    filtered = await client.assistants.get_versions(assistant_id, metadata={"extra": 2})
    assert [v["version"] for v in filtered] == [3, 2]


async def test_patch_to_unknown_graph_is_404_and_changes_nothing(client, tag):
    created = await client.assistants.create("agent", metadata={"tag": tag})
    with pytest.raises(NotFoundError):
        await client.assistants.update(created["assistant_id"], graph_id="nope")
    assert await client.assistants.get(created["assistant_id"]) == created


async def test_patch_missing_assistant_is_404(client):
    with pytest.raises(NotFoundError):
        await client.assistants.update(str(uuid.uuid4()), metadata={"a": 1})


async def test_set_latest(client, tag):
    created = await client.assistants.create("agent", metadata={"tag": tag}, name="one")
    assistant_id = created["assistant_id"]
    await client.assistants.update(assistant_id, name="two", metadata={"v": 2})

    rolled = await client.assistants.set_latest(assistant_id, 1)
    assert rolled["version"] == 1
    assert rolled["name"] == "one"
    assert rolled["metadata"] == {"tag": tag}
    assert await client.assistants.get(assistant_id) == rolled
    # Versions are kept: rolling back does not delete version 2.
    versions = await client.assistants.get_versions(assistant_id)
    assert [v["version"] for v in versions] == [2, 1]

    with pytest.raises(NotFoundError):
        await client.assistants.set_latest(assistant_id, 99)
    assert (await client.assistants.get(assistant_id))["version"] == 1

    # A new PATCH after a rollback continues the numbering.
    v3 = await client.assistants.update(assistant_id, name="three")
    assert v3["version"] == 3


async def test_versions_of_missing_assistant_is_404(client):
    with pytest.raises(NotFoundError):
        await client.assistants.get_versions(str(uuid.uuid4()))


async def test_delete(client, http, tag):
    created = await client.assistants.create("agent", metadata={"tag": tag})
    assistant_id = created["assistant_id"]
    resp = await http.delete(f"/assistants/{assistant_id}")
    assert resp.status_code == 204
    assert resp.content == b""
    with pytest.raises(NotFoundError):
        await client.assistants.get(assistant_id)
    with pytest.raises(NotFoundError):
        await client.assistants.delete(assistant_id)
    assert await client.assistants.count(metadata={"tag": tag}) == 0
    with pytest.raises(NotFoundError):
        await client.assistants.get_versions(assistant_id)

    # The id can be used again, starting over at version 1.
    again = await client.assistants.create(
        "agent", assistant_id=assistant_id, metadata={"tag": tag}
    )
    assert again["version"] == 1
    assert [v["version"] for v in await client.assistants.get_versions(assistant_id)] == [1]


async def test_delete_with_delete_threads(client, server, tag):
    doomed = await client.assistants.create("agent", metadata={"tag": tag})
    kept = await client.assistants.create("agent", metadata={"tag": tag})

    async def used_by(assistant: dict, **create) -> dict:
        # A run marks its thread with its assistant; clients cannot (the key is reserved).
        thread = await client.threads.create(metadata={"tag": tag}, **create)
        await client.runs.wait(thread["thread_id"], assistant["assistant_id"], input=HI)
        return thread

    own = await used_by(doomed, graph_id="agent", supersteps=HELLO_STEPS)
    other = await used_by(kept)
    plain = await client.threads.create(metadata={"tag": tag})

    # Without the flag the threads survive.
    survivor = await client.assistants.create("agent", metadata={"tag": tag})
    survivor_thread = await used_by(survivor)
    await client.assistants.delete(survivor["assistant_id"])
    assert (await client.threads.get(survivor_thread["thread_id"]))["thread_id"]

    await client.assistants.delete(doomed["assistant_id"], delete_threads=True)
    with pytest.raises(NotFoundError):
        await client.threads.get(own["thread_id"])
    # Their checkpoints go with them.
    assert await checkpoint_counts(server, own["thread_id"]) in (None, {})
    remaining = await client.threads.search(metadata={"tag": tag}, limit=100)
    assert {t["thread_id"] for t in remaining} == {
        other["thread_id"],
        plain["thread_id"],
        survivor_thread["thread_id"],
    }
    assert (await client.assistants.get(kept["assistant_id"]))["assistant_id"]


async def test_unknown_body_fields_are_ignored(http, tag):
    resp = await http.post(
        "/assistants",
        json={"graph_id": "agent", "metadata": {"tag": tag}, "something_new": {"x": 1}},
    )
    assert resp.status_code == 200
    assert "something_new" not in resp.json()


async def test_wrong_types_are_422_and_create_nothing(http, tag):
    for body in (
        {"graph_id": 5, "metadata": {"tag": tag}},
        {"graph_id": "agent", "metadata": {"tag": tag}, "config": "nope"},
        {"graph_id": "agent", "metadata": {"tag": tag}, "if_exists": "overwrite"},
        {"metadata": {"tag": tag}},
    ):
        resp = await http.post("/assistants", json=body)
        assert resp.status_code == 422, body
        assert resp.json()["detail"]
    resp = await http.post("/assistants/count", json={"metadata": {"tag": tag}})
    assert resp.json() == 0


async def test_sdk_errors_are_http_status_errors(client):
    with pytest.raises(httpx.HTTPStatusError):
        await client.assistants.get(str(uuid.uuid4()))

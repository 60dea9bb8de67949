"""An assistant's graph: drawing (with xray), schemas and subgraphs."""

from __future__ import annotations

import uuid

import pytest
from langgraph_sdk.errors import (
    NotFoundError,
    UnprocessableEntityError,
)

from tests.support.graphs import AGENT_ASSISTANT_ID, SCHEMA_KEYS


async def test_draw_graph(client):
    graph = await client.assistants.get_graph(AGENT_ASSISTANT_ID)
    assert {n["id"] for n in graph["nodes"]} == {"__start__", "chat", "__end__"}
    assert {(e["source"], e["target"]) for e in graph["edges"]} == {
        ("__start__", "chat"),
        ("chat", "__end__"),
    }
    chat = next(n for n in graph["nodes"] if n["id"] == "chat")
    assert chat["type"] == "runnable"
    assert chat["data"]["name"] == "chat"


async def test_draw_graph_by_graph_id_with_xray(client):
    flat = await client.assistants.get_graph("parent")
    assert "child:inner_node" not in {n["id"] for n in flat["nodes"]}
    assert "child" in {n["id"] for n in flat["nodes"]}

    xray = await client.assistants.get_graph("parent", xray=True)
    assert "child:inner_node" in {n["id"] for n in xray["nodes"]}
    assert ("__start__", "child:inner_node") in {(e["source"], e["target"]) for e in xray["edges"]}
    assert await client.assistants.get_graph("parent", xray=1) == xray


async def test_draw_graph_errors(client, http):
    resp = await http.get(f"/assistants/{AGENT_ASSISTANT_ID}/graph", params={"xray": "sideways"})
    assert resp.status_code == 422
    with pytest.raises(UnprocessableEntityError):
        await client.assistants.get_graph("no_such_graph")
    with pytest.raises(NotFoundError):
        await client.assistants.get_graph(str(uuid.uuid4()))


async def test_schemas(client, tag):
    schemas = await client.assistants.get_schemas(AGENT_ASSISTANT_ID)
    assert schemas["graph_id"] == "agent"
    assert SCHEMA_KEYS <= set(schemas)
    state = schemas["state_schema"]
    assert state["type"] == "object"
    assert {"messages", "count"} <= set(state["properties"])

    created = await client.assistants.create("hitl", metadata={"tag": tag})
    hitl = await client.assistants.get_schemas(created["assistant_id"])
    assert hitl["graph_id"] == "hitl"
    assert "answer" in hitl["state_schema"]["properties"]

    with pytest.raises(NotFoundError):
        await client.assistants.get_schemas(str(uuid.uuid4()))


async def test_subgraphs(client, http):
    parent_id = (await client.assistants.search(graph_id="parent", limit=1))[0]["assistant_id"]
    subgraphs = await client.assistants.get_subgraphs(parent_id)
    assert set(subgraphs) == {"child"}
    assert SCHEMA_KEYS <= set(subgraphs["child"])

    assert await client.assistants.get_subgraphs(parent_id, namespace="child") == subgraphs
    assert await client.assistants.get_subgraphs(AGENT_ASSISTANT_ID) == {}
    resp = await http.get("/assistants/parent/subgraphs")
    assert resp.status_code == 422

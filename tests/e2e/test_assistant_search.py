"""Assistant search and count: filters, sorting, select and pagination headers."""

from __future__ import annotations

import asyncio

import pytest
from langgraph_sdk.errors import (
    NotFoundError,
)


@pytest.fixture
async def trio(client, tag):
    """Three assistants, created in the order beta, Alpha, gamma."""
    made = []
    for name, graph_id in (("beta one", "agent"), ("Alpha two", "hitl"), ("gamma three", "agent")):
        made.append(
            await client.assistants.create(
                graph_id, name=name, metadata={"tag": tag, "group": {"name": name[:1].lower()}}
            )
        )
        await asyncio.sleep(0.01)
    return made


async def test_search_filters(client, tag, trio):
    beta, alpha, gamma = trio
    everything = await client.assistants.search(metadata={"tag": tag}, limit=100)
    # Default order: newest first.
    assert [a["assistant_id"] for a in everything] == [
        gamma["assistant_id"],
        alpha["assistant_id"],
        beta["assistant_id"],
    ]
    assert everything[0] == gamma

    nested = await client.assistants.search(metadata={"tag": tag, "group": {"name": "a"}})
    assert [a["assistant_id"] for a in nested] == [alpha["assistant_id"]]

    by_graph = await client.assistants.search(metadata={"tag": tag}, graph_id="hitl")
    assert [a["assistant_id"] for a in by_graph] == [alpha["assistant_id"]]

    by_name = await client.assistants.search(metadata={"tag": tag}, name="ALPHA")
    assert [a["assistant_id"] for a in by_name] == [alpha["assistant_id"]]
    by_substring = await client.assistants.search(metadata={"tag": tag}, name="e")
    assert {a["assistant_id"] for a in by_substring} == {
        beta["assistant_id"],
        gamma["assistant_id"],
    }

    assert await client.assistants.search(metadata={"tag": tag, "missing": 1}) == []
    assert await client.assistants.count(metadata={"tag": tag}) == 3
    assert await client.assistants.count(metadata={"tag": tag}, graph_id="agent") == 2
    assert await client.assistants.count(metadata={"tag": tag}, name="gAmMa") == 1


async def test_search_sort(client, tag, trio):
    beta, alpha, gamma = trio
    asc = await client.assistants.search(metadata={"tag": tag}, sort_by="name", sort_order="asc")
    assert [a["name"] for a in asc] == ["Alpha two", "beta one", "gamma three"]
    desc = await client.assistants.search(metadata={"tag": tag}, sort_by="name", sort_order="desc")
    assert [a["name"] for a in desc] == list(reversed([a["name"] for a in asc]))

    oldest_first = await client.assistants.search(
        metadata={"tag": tag}, sort_by="created_at", sort_order="asc"
    )
    assert [a["assistant_id"] for a in oldest_first] == [
        beta["assistant_id"],
        alpha["assistant_id"],
        gamma["assistant_id"],
    ]
    by_graph = await client.assistants.search(
        metadata={"tag": tag}, sort_by="graph_id", sort_order="asc"
    )
    assert [a["graph_id"] for a in by_graph] == ["agent", "agent", "hitl"]


async def test_search_select(client, http, tag, trio):
    selected = await client.assistants.search(
        metadata={"tag": tag}, select=["assistant_id", "name"], sort_by="created_at"
    )
    assert len(selected) == 3
    assert all(set(a) == {"assistant_id", "name"} for a in selected)

    resp = await http.post("/assistants/search", json={"select": ["foo"]})
    assert resp.status_code == 422
    assert "select" in resp.json()["detail"]


async def test_search_pagination(client, http, tag, trio):
    body = {"metadata": {"tag": tag}, "limit": 2, "offset": 0}
    first = await http.post("/assistants/search", json=body)
    assert first.status_code == 200
    assert len(first.json()) == 2
    assert first.headers["x-pagination-next"] == "2"
    assert int(first.headers["x-pagination-total"]) >= 3

    last = await http.post("/assistants/search", json={**body, "offset": 2})
    assert len(last.json()) == 1
    assert "x-pagination-next" not in last.headers
    assert last.headers["x-pagination-total"] == "3"

    ids = [a["assistant_id"] for a in first.json() + last.json()]
    assert sorted(ids) == sorted(a["assistant_id"] for a in trio)

    page = await client.assistants.search(metadata={"tag": tag}, limit=2, response_format="object")
    assert len(page["assistants"]) == 2
    assert page["next"] == "2"
    end = await client.assistants.search(
        metadata={"tag": tag}, limit=2, offset=2, response_format="object"
    )
    assert len(end["assistants"]) == 1
    assert end["next"] is None

    beyond = await http.post("/assistants/search", json={**body, "offset": 10})
    assert beyond.json() == []


async def test_search_unknown_graph_is_404(client):
    with pytest.raises(NotFoundError):
        await client.assistants.search(graph_id="nope")

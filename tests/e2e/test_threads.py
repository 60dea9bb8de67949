"""Threads through the real SDK and raw HTTP, on every backend."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

import pytest
from langgraph_sdk.errors import (
    ConflictError,
    NotFoundError,
    UnprocessableEntityError,
)

from tests.support.graphs import HELLO_STEPS
from tests.support.server import checkpoint_counts


async def test_create_fresh_thread(client, tag):
    thread = await client.threads.create(metadata={"tag": tag, "user": "u1"})
    uuid.UUID(thread["thread_id"])
    assert thread["metadata"] == {"tag": tag, "user": "u1"}
    assert thread["status"] == "idle"
    assert thread["values"] is None
    assert thread["config"] == {}
    assert thread["created_at"] == thread["updated_at"]
    assert "ttl" not in thread
    assert await client.threads.get(thread["thread_id"]) == thread


async def test_create_with_explicit_id_and_if_exists(client, tag):
    thread_id = str(uuid.uuid4())
    created = await client.threads.create(thread_id=thread_id, metadata={"tag": tag, "n": 1})
    assert created["thread_id"] == thread_id

    with pytest.raises(ConflictError) as err:
        await client.threads.create(thread_id=thread_id, metadata={"n": 2})
    assert thread_id in err.value.response.json()["detail"]

    again = await client.threads.create(
        thread_id=thread_id, if_exists="do_nothing", metadata={"n": 3}
    )
    assert again == created
    assert (await client.threads.get(thread_id))["metadata"] == {"tag": tag, "n": 1}


async def test_create_with_graph_id_sets_metadata(client, tag):
    thread = await client.threads.create(graph_id="agent", metadata={"tag": tag})
    assert thread["metadata"] == {"tag": tag, "graph_id": "agent"}
    found = await client.threads.search(metadata={"tag": tag, "graph_id": "agent"})
    assert [t["thread_id"] for t in found] == [thread["thread_id"]]


async def test_create_with_ttl(client, http, tag):
    thread = await client.threads.create(metadata={"tag": tag}, ttl=30)
    assert "ttl" not in await client.threads.get(thread["thread_id"])

    with_ttl = await client.threads.get(thread["thread_id"], include=["ttl"])
    ttl = with_ttl["ttl"]
    assert ttl["strategy"] == "delete"
    assert ttl["ttl_minutes"] == 30
    expires = datetime.fromisoformat(ttl["expires_at"])
    updated = datetime.fromisoformat(with_ttl["updated_at"])
    assert expires - updated == timedelta(minutes=30)

    keep = await http.post(
        "/threads",
        json={"metadata": {"tag": tag}, "ttl": {"ttl": 5, "strategy": "keep_latest"}},
    )
    assert keep.status_code == 200
    got = await client.threads.get(keep.json()["thread_id"], include=["ttl"])
    assert got["ttl"]["strategy"] == "keep_latest"
    assert got["ttl"]["ttl_minutes"] == 5

    # A thread without a TTL has none to include.
    plain = await client.threads.create(metadata={"tag": tag})
    assert "ttl" not in await client.threads.get(plain["thread_id"], include=["ttl"])


async def test_create_with_supersteps_sets_values(client, server, tag):
    thread = await client.threads.create(
        graph_id="agent", metadata={"tag": tag}, supersteps=HELLO_STEPS
    )
    values = thread["values"]
    assert values["count"] == 1
    assert [m["content"] for m in values["messages"]] == ["hi", "hello"]
    assert [m["type"] for m in values["messages"]] == ["human", "ai"]
    assert thread["status"] == "idle"
    assert (await client.threads.get(thread["thread_id"]))["values"] == values

    by_values = await client.threads.search(values={"count": 1}, metadata={"tag": tag})
    assert [t["thread_id"] for t in by_values] == [thread["thread_id"]]
    assert await client.threads.count(values={"count": 2}, metadata={"tag": tag}) == 0

    counts = await checkpoint_counts(server, thread["thread_id"])
    if counts is not None:
        assert counts[""] >= 2


async def test_supersteps_without_graph_is_rejected(http, client, tag):
    thread_id = str(uuid.uuid4())
    resp = await http.post(
        "/threads",
        json={"thread_id": thread_id, "metadata": {"tag": tag}, "supersteps": HELLO_STEPS},
    )
    assert 400 <= resp.status_code < 500
    assert resp.json()["detail"]
    with pytest.raises(NotFoundError):
        await client.threads.get(thread_id)


async def test_supersteps_for_unknown_node_leaves_no_thread(http, client, tag):
    thread_id = str(uuid.uuid4())
    resp = await http.post(
        "/threads",
        json={
            "thread_id": thread_id,
            "metadata": {"tag": tag, "graph_id": "agent"},
            "supersteps": [{"updates": [{"values": {"count": 1}, "as_node": "no_such_node"}]}],
        },
    )
    assert 400 <= resp.status_code < 500
    assert resp.json()["detail"]
    with pytest.raises(NotFoundError):
        await client.threads.get(thread_id)


async def test_do_nothing_with_supersteps_keeps_existing_state(client, tag):
    thread = await client.threads.create(
        graph_id="agent", metadata={"tag": tag}, supersteps=HELLO_STEPS
    )
    again = await client.threads.create(
        thread_id=thread["thread_id"],
        if_exists="do_nothing",
        graph_id="agent",
        supersteps=[{"updates": [{"values": {"count": 99}, "as_node": "chat"}]}],
    )
    assert again == thread
    assert (await client.threads.get(thread["thread_id"]))["values"]["count"] == 1


async def test_malformed_supersteps_leave_no_thread(http, client, tag):
    thread_id = str(uuid.uuid4())
    resp = await http.post(
        "/threads",
        json={
            "thread_id": thread_id,
            "metadata": {"tag": tag, "graph_id": "agent"},
            "supersteps": [{"updates": "not a list"}],
        },
    )
    assert resp.status_code == 422
    with pytest.raises(NotFoundError):
        await client.threads.get(thread_id)


async def test_get_errors(client, http):
    missing = str(uuid.uuid4())
    with pytest.raises(NotFoundError) as err:
        await client.threads.get(missing)
    assert err.value.response.json() == {"detail": f"Thread with ID {missing} not found"}

    with pytest.raises(UnprocessableEntityError) as err:
        await client.threads.get("not-a-uuid")
    assert err.value.response.json() == {"detail": "Invalid thread ID: must be a UUID"}


async def test_update_merges_metadata(client, http, tag):
    thread = await client.threads.create(metadata={"tag": tag, "a": 1, "b": {"x": 1}})
    await asyncio.sleep(0.01)
    updated = await client.threads.update(thread["thread_id"], metadata={"b": {"y": 2}, "c": 3})
    assert updated["metadata"] == {"tag": tag, "a": 1, "b": {"y": 2}, "c": 3}
    assert updated["updated_at"] > thread["updated_at"]
    assert updated["created_at"] == thread["created_at"]
    assert await client.threads.get(thread["thread_id"]) == updated

    minimal = await client.threads.update(
        thread["thread_id"], metadata={"d": 4}, return_minimal=True
    )
    assert minimal is None
    resp = await http.patch(
        f"/threads/{thread['thread_id']}",
        json={"metadata": {"e": 5}},
        headers={"Prefer": "return=minimal"},
    )
    assert resp.status_code == 204
    assert resp.content == b""
    final = await client.threads.get(thread["thread_id"])
    assert final["metadata"] == {"tag": tag, "a": 1, "b": {"y": 2}, "c": 3, "d": 4, "e": 5}


async def test_update_ttl(client, tag):
    thread = await client.threads.create(metadata={"tag": tag})
    await client.threads.update(thread["thread_id"], metadata={}, ttl=15)
    got = await client.threads.get(thread["thread_id"], include=["ttl"])
    assert got["ttl"]["ttl_minutes"] == 15
    assert got["metadata"] == {"tag": tag}


async def test_update_missing_thread_is_404(client):
    with pytest.raises(NotFoundError):
        await client.threads.update(str(uuid.uuid4()), metadata={"a": 1})


async def test_delete(client, http, server, tag):
    thread = await client.threads.create(
        graph_id="agent", metadata={"tag": tag}, supersteps=HELLO_STEPS
    )
    thread_id = thread["thread_id"]
    resp = await http.delete(f"/threads/{thread_id}")
    assert resp.status_code == 204
    assert resp.content == b""
    with pytest.raises(NotFoundError):
        await client.threads.get(thread_id)
    with pytest.raises(NotFoundError):
        await client.threads.delete(thread_id)
    assert await client.threads.count(metadata={"tag": tag}) == 0
    assert await checkpoint_counts(server, thread_id) in (None, {})


@pytest.fixture
async def three_threads(client, tag):
    made = []
    for i in range(3):
        made.append(await client.threads.create(metadata={"tag": tag, "i": i, "even": i % 2 == 0}))
        await asyncio.sleep(0.01)
    return made


async def test_search_filters(client, tag, three_threads):
    first, second, third = three_threads
    everything = await client.threads.search(metadata={"tag": tag})
    assert {t["thread_id"] for t in everything} == {t["thread_id"] for t in three_threads}

    evens = await client.threads.search(metadata={"tag": tag, "even": True})
    assert {t["thread_id"] for t in evens} == {first["thread_id"], third["thread_id"]}

    by_ids = await client.threads.search(ids=[second["thread_id"], str(uuid.uuid4())])
    assert [t["thread_id"] for t in by_ids] == [second["thread_id"]]

    idle = await client.threads.search(metadata={"tag": tag}, status="idle")
    assert len(idle) == 3
    assert await client.threads.search(metadata={"tag": tag}, status="busy") == []

    assert await client.threads.count(metadata={"tag": tag}) == 3
    assert await client.threads.count(metadata={"tag": tag, "even": False}) == 1
    assert await client.threads.count(metadata={"tag": tag}, status="interrupted") == 0


async def test_search_sort(client, tag, three_threads):
    first = three_threads[0]
    ids = [t["thread_id"] for t in three_threads]
    oldest_first = await client.threads.search(
        metadata={"tag": tag}, sort_by="created_at", sort_order="asc"
    )
    assert [t["thread_id"] for t in oldest_first] == ids
    newest_first = await client.threads.search(
        metadata={"tag": tag}, sort_by="created_at", sort_order="desc"
    )
    assert [t["thread_id"] for t in newest_first] == ids[::-1]

    # Default: most recently updated first.
    await client.threads.update(first["thread_id"], metadata={"touched": True})
    default = await client.threads.search(metadata={"tag": tag})
    assert [t["thread_id"] for t in default] == [ids[0], ids[2], ids[1]]

    by_id = await client.threads.search(
        metadata={"tag": tag}, sort_by="thread_id", sort_order="asc"
    )
    assert [t["thread_id"] for t in by_id] == sorted(ids)


async def test_search_select_and_extract(client, http, tag, three_threads):
    selected = await client.threads.search(metadata={"tag": tag}, select=["thread_id", "status"])
    assert len(selected) == 3
    assert all(set(t) == {"thread_id", "status"} for t in selected)

    extracted = await client.threads.search(
        metadata={"tag": tag},
        select=["thread_id"],
        extract={"i": "metadata.i", "missing": "values.messages[-1].content"},
        sort_by="created_at",
        sort_order="asc",
    )
    assert [t["extracted"] for t in extracted] == [
        {"i": 0, "missing": None},
        {"i": 1, "missing": None},
        {"i": 2, "missing": None},
    ]
    assert all(set(t) == {"thread_id", "extracted"} for t in extracted)

    bad_select = await http.post("/threads/search", json={"select": ["nope"]})
    assert bad_select.status_code == 422
    bad_extract = await http.post("/threads/search", json={"extract": {"x": "secrets.key"}})
    assert bad_extract.status_code == 422
    # Refused even when no thread matches, so a typo is never silently "no results".
    nothing = {"metadata": {"tag": "matches-nothing"}, "extract": {"x": "secrets.key"}}
    assert (await http.post("/threads/search", json=nothing)).status_code == 422
    bad_status = await http.post("/threads/search", json={"status": "sleeping"})
    assert bad_status.status_code == 422


async def test_search_extract_from_values(client, tag):
    thread = await client.threads.create(
        graph_id="agent", metadata={"tag": tag}, supersteps=HELLO_STEPS
    )
    found = await client.threads.search(
        ids=[thread["thread_id"]],
        extract={"last": "values.messages[-1].content", "first": "values.messages[0].type"},
    )
    assert found[0]["extracted"] == {"last": "hello", "first": "human"}


async def test_search_pagination(http, tag, three_threads):
    body = {"metadata": {"tag": tag}, "limit": 2, "sort_by": "created_at", "sort_order": "asc"}
    first = await http.post("/threads/search", json=body)
    assert first.status_code == 200
    assert [t["thread_id"] for t in first.json()] == [t["thread_id"] for t in three_threads[:2]]
    assert first.headers["x-pagination-next"] == "2"
    assert int(first.headers["x-pagination-total"]) >= 3

    last = await http.post("/threads/search", json={**body, "offset": 2})
    assert [t["thread_id"] for t in last.json()] == [three_threads[2]["thread_id"]]
    assert "x-pagination-next" not in last.headers
    assert last.headers["x-pagination-total"] == "3"


async def test_copy(client, server, tag):
    source = await client.threads.create(
        graph_id="agent", metadata={"tag": tag, "owner": "me"}, supersteps=HELLO_STEPS
    )
    copy = await client.threads.copy(source["thread_id"])
    assert copy["thread_id"] != source["thread_id"]
    uuid.UUID(copy["thread_id"])
    assert copy["metadata"] == source["metadata"]
    assert copy["status"] == "idle"
    assert copy["values"] == source["values"]
    assert await client.threads.get(copy["thread_id"]) == copy
    # The source is untouched.
    assert await client.threads.get(source["thread_id"]) == source

    src_counts = await checkpoint_counts(server, source["thread_id"])
    if src_counts is not None:
        assert await checkpoint_counts(server, copy["thread_id"]) == src_counts

    # Deleting the copy leaves the source's checkpoints alone.
    await client.threads.delete(copy["thread_id"])
    if src_counts is not None:
        assert await checkpoint_counts(server, source["thread_id"]) == src_counts


async def test_copy_missing_thread_is_409(client):
    with pytest.raises(ConflictError):
        await client.threads.copy(str(uuid.uuid4()))


async def test_prune_delete(client, tag):
    a = await client.threads.create(metadata={"tag": tag})
    b = await client.threads.create(metadata={"tag": tag})
    c = await client.threads.create(metadata={"tag": tag})
    result = await client.threads.prune([a["thread_id"], b["thread_id"], str(uuid.uuid4())])
    assert result == {"pruned_count": 2}
    remaining = await client.threads.search(metadata={"tag": tag})
    assert [t["thread_id"] for t in remaining] == [c["thread_id"]]


async def test_prune_keep_latest(client, server, tag):
    thread = await client.threads.create(
        graph_id="agent", metadata={"tag": tag}, supersteps=HELLO_STEPS
    )
    before = await checkpoint_counts(server, thread["thread_id"])
    result = await client.threads.prune([thread["thread_id"]], strategy="keep_latest")
    assert result == {"pruned_count": 1}
    after = await client.threads.get(thread["thread_id"])
    assert after["values"] == thread["values"]
    assert after["metadata"] == thread["metadata"]
    if before is not None:
        assert before[""] >= 2
        assert await checkpoint_counts(server, thread["thread_id"]) == {"": 1}


async def test_prune_bad_input(http, client, tag):
    thread = await client.threads.create(metadata={"tag": tag})
    for body in (
        {},
        {"thread_ids": "abc"},
        {"thread_ids": [thread["thread_id"]], "strategy": "everything"},
        {"thread_ids": [thread["thread_id"], "not-a-uuid"]},
    ):
        resp = await http.post("/threads/prune", json=body)
        assert resp.status_code == 422, body
    assert (await client.threads.get(thread["thread_id"]))["thread_id"] == thread["thread_id"]

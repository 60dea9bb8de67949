"""Assistant CRUD, versioning and conflicts, identical on every backend."""

from __future__ import annotations

from datetime import UTC
from functools import partial

import pytest

from robyn_server.storage.base import Storage
from robyn_server.storage.persistence import Persistence
from robyn_server.storage.types import ANONYMOUS, StorageConflict
from tests.support.contract import ASSISTANT_KEYS, VERSION_KEYS, make_assistant, make_thread, new_id
from tests.support.races import ASSISTANT_ROW_LOCK, race

S = ANONYMOUS


async def test_create_returns_the_full_record(storage: Storage) -> None:
    assistant_id = new_id()
    created = await make_assistant(
        storage,
        assistant_id=assistant_id,
        graph_id="g1",
        config={"configurable": {"k": 1}},
        context={"user": "u"},
        metadata={"m": [1, 2]},
        name="First",
        description="about",
    )
    assert set(created) == ASSISTANT_KEYS
    assert created["assistant_id"] == assistant_id
    assert created["graph_id"] == "g1"
    assert created["config"] == {"configurable": {"k": 1}}
    assert created["context"] == {"user": "u"}
    assert created["metadata"] == {"m": [1, 2]}
    assert (created["name"], created["description"], created["version"]) == ("First", "about", 1)
    assert created["created_at"] == created["updated_at"]
    assert created["created_at"].tzinfo is not None
    assert created["created_at"].utcoffset() == UTC.utcoffset(None)
    assert await storage.assistant_get(S, assistant_id) == created


async def test_create_writes_version_one(storage: Storage) -> None:
    created = await make_assistant(storage, metadata={"a": 1}, name="n")
    versions = await storage.assistant_versions(S, created["assistant_id"])
    assert len(versions) == 1
    assert set(versions[0]) == VERSION_KEYS
    expected = {k: v for k, v in created.items() if k != "updated_at"}
    assert versions[0] == expected


async def test_ids_are_canonicalised(storage: Storage) -> None:
    assistant_id = new_id()
    created = await make_assistant(storage, assistant_id=assistant_id.upper())
    assert created["assistant_id"] == assistant_id
    assert (await storage.assistant_get(S, assistant_id.upper()))["assistant_id"] == assistant_id


async def test_malformed_ids(storage: Storage) -> None:
    with pytest.raises(ValueError):
        await make_assistant(storage, assistant_id="not-a-uuid")
    assert await storage.assistant_get(S, "not-a-uuid") is None
    assert await storage.assistant_update(S, "not-a-uuid", name="x") is None
    assert await storage.assistant_delete(S, "not-a-uuid") is None
    assert await storage.assistant_versions(S, "not-a-uuid") == []
    assert await storage.assistant_set_latest(S, "not-a-uuid", 1) is None


async def test_create_conflict_raises(storage: Storage) -> None:
    created = await make_assistant(storage)
    with pytest.raises(StorageConflict):
        await make_assistant(storage, assistant_id=created["assistant_id"])
    with pytest.raises(StorageConflict):
        await make_assistant(storage, assistant_id=created["assistant_id"], if_exists="raise")


async def test_create_do_nothing_returns_existing_unchanged(storage: Storage) -> None:
    created = await make_assistant(storage, name="original", metadata={"v": 1})
    again = await make_assistant(
        storage,
        assistant_id=created["assistant_id"],
        name="other",
        metadata={"v": 2},
        graph_id="other",
        if_exists="do_nothing",
    )
    assert again == created
    assert len(await storage.assistant_versions(S, created["assistant_id"])) == 1


async def test_get_missing(storage: Storage) -> None:
    assert await storage.assistant_get(S, new_id()) is None


async def test_update_writes_a_new_version(storage: Storage) -> None:
    created = await make_assistant(
        storage,
        graph_id="g1",
        config={"a": 1, "b": 2},
        context={"c": 1},
        metadata={"keep": 1, "change": 1},
        name="before",
        description="d1",
    )
    assistant_id = created["assistant_id"]
    updated = await storage.assistant_update(
        S,
        assistant_id,
        graph_id="g2",
        config={"a": 9},
        context={"x": 2},
        metadata={"change": 2, "new": 3},
        name="after",
        description="d2",
    )
    assert updated is not None
    assert set(updated) == ASSISTANT_KEYS
    assert updated["version"] == 2
    assert updated["graph_id"] == "g2"
    assert updated["config"] == {"a": 9}  # replaced, not merged
    assert updated["context"] == {"x": 2}
    assert updated["metadata"] == {"keep": 1, "change": 2, "new": 3}  # merged
    assert (updated["name"], updated["description"]) == ("after", "d2")
    assert updated["created_at"] == created["created_at"]
    assert updated["updated_at"] > created["updated_at"]
    assert await storage.assistant_get(S, assistant_id) == updated

    versions = await storage.assistant_versions(S, assistant_id)
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[0]["metadata"] == updated["metadata"]
    assert versions[0]["config"] == {"a": 9}
    assert versions[1]["metadata"] == {"keep": 1, "change": 1}
    assert versions[1]["name"] == "before"


async def test_update_with_nothing_given_keeps_fields_but_versions(storage: Storage) -> None:
    created = await make_assistant(storage, description="kept", config={"k": 1})
    updated = await storage.assistant_update(S, created["assistant_id"])
    assert updated is not None
    assert updated["version"] == 2
    assert updated["description"] == "kept"
    assert updated["config"] == {"k": 1}
    assert updated["updated_at"] > created["updated_at"]


async def test_update_empty_dicts_replace(storage: Storage) -> None:
    created = await make_assistant(storage, config={"k": 1}, context={"c": 1}, metadata={"m": 1})
    updated = await storage.assistant_update(
        S, created["assistant_id"], config={}, context={}, metadata={}
    )
    assert updated is not None
    assert updated["config"] == {}
    assert updated["context"] == {}
    assert updated["metadata"] == {"m": 1}


async def test_update_missing(storage: Storage) -> None:
    assert await storage.assistant_update(S, new_id(), name="x") is None


async def test_updated_at_keeps_advancing(storage: Storage) -> None:
    created = await make_assistant(storage)
    stamps = [created["updated_at"]]
    for i in range(5):
        updated = await storage.assistant_update(S, created["assistant_id"], name=f"n{i}")
        stamps.append(updated["updated_at"])
    assert stamps == sorted(set(stamps))


async def test_concurrent_updates_get_distinct_versions(
    storage: Storage, backend: Persistence | None
) -> None:
    created = await make_assistant(storage)
    assistant_id = created["assistant_id"]
    updates = [
        partial(storage.assistant_update, S, assistant_id, metadata={f"k{i}": i}) for i in range(8)
    ]
    # Proven to overlap (tests/support/races.py): on Postgres, all eight queue on the row.
    results = await race(backend, ASSISTANT_ROW_LOCK, (assistant_id,), updates)
    assert sorted(r["version"] for r in results) == list(range(2, 10))
    current = await storage.assistant_get(S, assistant_id)
    assert current["version"] == 9
    assert current["metadata"] == {f"k{i}": i for i in range(8)}
    versions = await storage.assistant_versions(S, assistant_id, limit=100)
    assert [v["version"] for v in versions] == list(range(9, 0, -1))


async def test_set_latest_rolls_back_and_update_continues_numbering(storage: Storage) -> None:
    created = await make_assistant(storage, name="v1", metadata={"v": 1}, graph_id="g1")
    assistant_id = created["assistant_id"]
    await storage.assistant_update(
        S, assistant_id, name="v2", metadata={"v": 2}, graph_id="g2", config={"c": 2}
    )
    latest = await storage.assistant_set_latest(S, assistant_id, 1)
    assert latest is not None
    assert set(latest) == ASSISTANT_KEYS
    assert latest["version"] == 1
    assert (latest["name"], latest["graph_id"], latest["config"]) == ("v1", "g1", {})
    assert latest["metadata"] == {"v": 1}
    assert latest["created_at"] == created["created_at"]
    assert await storage.assistant_get(S, assistant_id) == latest

    after = await storage.assistant_update(S, assistant_id, name="v3")
    assert after["version"] == 3
    assert after["graph_id"] == "g1"  # built on the current (rolled back) fields
    versions = await storage.assistant_versions(S, assistant_id)
    assert [v["version"] for v in versions] == [3, 2, 1]


async def test_set_latest_missing(storage: Storage) -> None:
    created = await make_assistant(storage)
    assert await storage.assistant_set_latest(S, created["assistant_id"], 7) is None
    assert await storage.assistant_set_latest(S, new_id(), 1) is None
    assert (await storage.assistant_get(S, created["assistant_id"]))["version"] == 1


async def test_versions_metadata_filter_and_paging(storage: Storage) -> None:
    created = await make_assistant(storage, metadata={"tag": "a"})
    assistant_id = created["assistant_id"]
    for i in range(2, 7):
        await storage.assistant_update(S, assistant_id, metadata={"tag": "a" if i % 2 else "b"})
    # Versions: 1 a, 2 b, 3 a, 4 b, 5 a, 6 b
    everything = await storage.assistant_versions(S, assistant_id, limit=100)
    assert [v["version"] for v in everything] == [6, 5, 4, 3, 2, 1]
    tagged_a = await storage.assistant_versions(S, assistant_id, metadata={"tag": "a"})
    assert [v["version"] for v in tagged_a] == [5, 3, 1]
    page = await storage.assistant_versions(S, assistant_id, limit=2, offset=1)
    assert [v["version"] for v in page] == [5, 4]
    page = await storage.assistant_versions(
        S, assistant_id, metadata={"tag": "b"}, limit=2, offset=2
    )
    assert [v["version"] for v in page] == [2]
    assert await storage.assistant_versions(S, assistant_id, offset=10) == []
    assert await storage.assistant_versions(S, assistant_id, metadata={"tag": "z"}) == []
    assert await storage.assistant_versions(S, new_id()) == []


async def test_delete(storage: Storage) -> None:
    created = await make_assistant(storage)
    assistant_id = created["assistant_id"]
    await storage.assistant_update(S, assistant_id, name="v2")
    assert await storage.assistant_delete(S, assistant_id) == []
    assert await storage.assistant_get(S, assistant_id) is None
    assert await storage.assistant_versions(S, assistant_id) == []
    assert await storage.assistant_delete(S, assistant_id) is None
    # The id is free again, and numbering starts over.
    again = await make_assistant(storage, assistant_id=assistant_id)
    assert again["version"] == 1


async def test_delete_keeps_threads_unless_asked(storage: Storage) -> None:
    created = await make_assistant(storage)
    thread = await make_thread(storage, metadata={"assistant_id": created["assistant_id"]})
    assert await storage.assistant_delete(S, created["assistant_id"]) == []
    assert await storage.thread_get(S, thread["thread_id"]) is not None


async def test_delete_with_threads_returns_their_ids(storage: Storage) -> None:
    doomed = await make_assistant(storage)
    other = await make_assistant(storage)
    mine = [
        (await make_thread(storage, metadata={"assistant_id": doomed["assistant_id"]}))["thread_id"]
        for _ in range(3)
    ]
    theirs = await make_thread(storage, metadata={"assistant_id": other["assistant_id"]})
    unrelated = await make_thread(storage, metadata={"x": doomed["assistant_id"]})
    deleted = await storage.assistant_delete(S, doomed["assistant_id"], delete_threads=True)
    assert sorted(deleted) == sorted(mine)
    for thread_id in mine:
        assert await storage.thread_get(S, thread_id) is None
    assert await storage.thread_get(S, theirs["thread_id"]) is not None
    assert await storage.thread_get(S, unrelated["thread_id"]) is not None
    assert await storage.assistant_delete(S, doomed["assistant_id"], delete_threads=True) is None


async def test_results_are_not_aliases_of_stored_state(storage: Storage) -> None:
    config = {"configurable": {"k": [1]}}
    metadata = {"nested": {"a": 1}}
    created = await make_assistant(storage, config=config, metadata=metadata)
    assistant_id = created["assistant_id"]
    # Mutating the caller's inputs, or any returned record, must not reach storage.
    config["configurable"]["k"].append(2)
    metadata["nested"]["a"] = 2
    created["metadata"]["nested"]["a"] = 3
    created["name"] = "mutated"
    got = await storage.assistant_get(S, assistant_id)
    assert got["config"] == {"configurable": {"k": [1]}}
    assert got["metadata"] == {"nested": {"a": 1}}
    assert got["name"] == "assistant"
    got["config"]["configurable"]["k"].append(3)
    page = await storage.assistant_search(S)
    page.items[0]["metadata"]["nested"]["a"] = 4
    versions = await storage.assistant_versions(S, assistant_id)
    versions[0]["metadata"]["nested"]["a"] = 5
    updated = await storage.assistant_update(S, assistant_id, metadata={"extra": {"b": 1}})
    updated["metadata"]["extra"]["b"] = 2
    again = await storage.assistant_get(S, assistant_id)
    assert again["config"] == {"configurable": {"k": [1]}}
    assert again["metadata"] == {"nested": {"a": 1}, "extra": {"b": 1}}
    first = (await storage.assistant_versions(S, assistant_id))[-1]
    assert first["metadata"] == {"nested": {"a": 1}}

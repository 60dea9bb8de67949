"""Thread CRUD, copy and run-engine state updates, identical on every backend."""

from __future__ import annotations

import pytest

from robyn_server.storage.base import Storage
from robyn_server.storage.types import ANONYMOUS, UNSET, StorageConflict
from tests.support.contract import THREAD_KEYS, make_thread, new_id

S = ANONYMOUS


async def test_create_returns_an_idle_thread(storage: Storage) -> None:
    thread_id = new_id()
    created = await storage.thread_create(
        S, thread_id=thread_id, metadata={"m": {"n": 1}}, ttl={"strategy": "delete", "ttl": 5}
    )
    assert set(created) == THREAD_KEYS
    assert created["thread_id"] == thread_id
    assert created["metadata"] == {"m": {"n": 1}}
    assert created["status"] == "idle"
    assert created["config"] == {}
    assert created["values"] is None
    assert created["interrupts"] == {}
    assert created["error"] is None
    assert created["ttl"] == {"strategy": "delete", "ttl": 5}
    assert created["created_at"] == created["updated_at"] == created["state_updated_at"]
    assert created["created_at"].utcoffset().total_seconds() == 0
    assert await storage.thread_get(S, thread_id) == created
    assert await storage.thread_get(S, thread_id.upper()) == created


async def test_create_without_ttl(storage: Storage) -> None:
    created = await make_thread(storage)
    assert created["ttl"] is None


async def test_create_conflicts(storage: Storage) -> None:
    created = await make_thread(storage, metadata={"v": 1})
    with pytest.raises(StorageConflict):
        await make_thread(storage, thread_id=created["thread_id"])
    again = await make_thread(
        storage, thread_id=created["thread_id"], metadata={"v": 2}, if_exists="do_nothing"
    )
    assert again == created


async def test_malformed_ids(storage: Storage) -> None:
    with pytest.raises(ValueError):
        await make_thread(storage, thread_id="nope")
    assert await storage.thread_get(S, "nope") is None
    assert await storage.thread_update(S, "nope", metadata={"a": 1}) is None
    assert await storage.thread_delete(S, "nope") is False
    assert await storage.thread_set_state(S, "nope", status="busy") is None
    assert await storage.thread_copy(S, "nope", new_id()) is None
    source = await make_thread(storage)
    with pytest.raises(ValueError):
        await storage.thread_copy(S, source["thread_id"], "nope")


async def test_get_missing(storage: Storage) -> None:
    assert await storage.thread_get(S, new_id()) is None


async def test_update_merges_metadata_and_replaces_ttl(storage: Storage) -> None:
    created = await make_thread(storage, metadata={"a": 1, "b": {"x": 1}}, ttl={"ttl": 1})
    updated = await storage.thread_update(
        S, created["thread_id"], metadata={"b": {"y": 2}, "c": 3}, ttl={"ttl": 2}
    )
    assert updated is not None
    assert set(updated) == THREAD_KEYS
    assert updated["metadata"] == {"a": 1, "b": {"y": 2}, "c": 3}  # shallow merge
    assert updated["ttl"] == {"ttl": 2}
    assert updated["updated_at"] > created["updated_at"]
    assert updated["created_at"] == created["created_at"]
    assert updated["state_updated_at"] == created["state_updated_at"]
    assert await storage.thread_get(S, created["thread_id"]) == updated

    untouched = await storage.thread_update(S, created["thread_id"])
    assert untouched["metadata"] == updated["metadata"]
    assert untouched["ttl"] == {"ttl": 2}
    assert untouched["updated_at"] > updated["updated_at"]


async def test_update_missing(storage: Storage) -> None:
    assert await storage.thread_update(S, new_id(), metadata={"a": 1}) is None


async def test_delete(storage: Storage) -> None:
    created = await make_thread(storage)
    assert await storage.thread_delete(S, created["thread_id"]) is True
    assert await storage.thread_get(S, created["thread_id"]) is None
    assert await storage.thread_delete(S, created["thread_id"]) is False


async def test_delete_many(storage: Storage) -> None:
    threads = [await make_thread(storage) for _ in range(4)]
    keep = threads[3]["thread_id"]
    wanted = [t["thread_id"] for t in threads[:3]]
    missing = new_id()
    deleted = await storage.thread_delete_many(
        S, [wanted[2], missing, wanted[0].upper(), "garbage", wanted[1], wanted[0]]
    )
    assert deleted == [wanted[2], wanted[0], wanted[1]]
    for thread_id in wanted:
        assert await storage.thread_get(S, thread_id) is None
    assert await storage.thread_get(S, keep) is not None
    assert await storage.thread_delete_many(S, wanted) == []
    assert await storage.thread_delete_many(S, []) == []


async def test_copy(storage: Storage) -> None:
    source = await make_thread(storage, metadata={"m": 1}, ttl={"ttl": 9})
    source = await storage.thread_set_state(
        S,
        source["thread_id"],
        status="interrupted",
        config={"configurable": {"c": 1}},
        values={"messages": [1, 2]},
        interrupts={"task": [{"value": "?"}]},
        error={"message": "boom"},
    )
    new_thread_id = new_id()
    copied = await storage.thread_copy(S, source["thread_id"], new_thread_id)
    assert copied is not None
    assert set(copied) == THREAD_KEYS
    assert copied["thread_id"] == new_thread_id
    assert copied["status"] == "idle"
    for field in ("metadata", "config", "values", "interrupts", "error"):
        assert copied[field] == source[field], field
    assert copied["ttl"] is None
    assert copied["created_at"] >= source["updated_at"]
    assert copied["created_at"] == copied["updated_at"] == copied["state_updated_at"]
    assert await storage.thread_get(S, new_thread_id) == copied
    assert await storage.thread_get(S, source["thread_id"]) == source


async def test_copy_missing_source_and_taken_target(storage: Storage) -> None:
    assert await storage.thread_copy(S, new_id(), new_id()) is None
    source = await make_thread(storage)
    taken = await make_thread(storage)
    with pytest.raises(StorageConflict):
        await storage.thread_copy(S, source["thread_id"], taken["thread_id"])
    with pytest.raises(StorageConflict):
        await storage.thread_copy(S, source["thread_id"], source["thread_id"])


async def test_set_state_replaces_and_merges(storage: Storage) -> None:
    created = await make_thread(storage, metadata={"a": 1})
    thread_id = created["thread_id"]
    updated = await storage.thread_set_state(
        S,
        thread_id,
        status="busy",
        metadata={"b": 2},
        config={"configurable": {"x": 1}},
    )
    assert updated is not None
    assert set(updated) == THREAD_KEYS
    assert updated["status"] == "busy"
    assert updated["metadata"] == {"a": 1, "b": 2}
    assert updated["config"] == {"configurable": {"x": 1}}
    assert updated["updated_at"] > created["updated_at"]
    # No values / interrupts / error given: the state itself did not change.
    assert updated["state_updated_at"] == created["state_updated_at"]
    assert updated["values"] is None and updated["interrupts"] == {}

    replaced = await storage.thread_set_state(S, thread_id, config={"other": True})
    assert replaced["config"] == {"other": True}
    assert replaced["status"] == "busy"
    assert await storage.thread_get(S, thread_id) == replaced


async def test_set_state_values_unset_versus_none(storage: Storage) -> None:
    created = await make_thread(storage)
    thread_id = created["thread_id"]
    with_values = await storage.thread_set_state(
        S, thread_id, values={"messages": ["hi"]}, interrupts={"t": [1]}, error={"e": 1}
    )
    assert with_values["values"] == {"messages": ["hi"]}
    assert with_values["interrupts"] == {"t": [1]}
    assert with_values["error"] == {"e": 1}
    assert with_values["state_updated_at"] > created["state_updated_at"]

    untouched = await storage.thread_set_state(S, thread_id, status="idle")
    assert untouched["values"] == {"messages": ["hi"]}
    assert untouched["interrupts"] == {"t": [1]}
    assert untouched["error"] == {"e": 1}
    assert untouched["state_updated_at"] == with_values["state_updated_at"]

    explicit_unset = await storage.thread_set_state(
        S, thread_id, values=UNSET, interrupts=UNSET, error=UNSET
    )
    assert explicit_unset["values"] == {"messages": ["hi"]}
    assert explicit_unset["state_updated_at"] == with_values["state_updated_at"]

    cleared = await storage.thread_set_state(S, thread_id, values=None, error=None)
    assert cleared["values"] is None
    assert cleared["error"] is None
    assert cleared["interrupts"] == {"t": [1]}
    assert cleared["state_updated_at"] > with_values["state_updated_at"]

    no_interrupts = await storage.thread_set_state(S, thread_id, interrupts=None)
    assert no_interrupts["interrupts"] == {}
    assert no_interrupts["state_updated_at"] > cleared["state_updated_at"]

    only_error = await storage.thread_set_state(S, thread_id, error={"e": 2})
    assert only_error["state_updated_at"] > no_interrupts["state_updated_at"]
    assert only_error["updated_at"] >= only_error["state_updated_at"]
    assert await storage.thread_get(S, thread_id) == only_error


async def test_set_state_accepts_non_dict_values(storage: Storage) -> None:
    created = await make_thread(storage)
    updated = await storage.thread_set_state(S, created["thread_id"], values=[1, "two"])
    assert updated["values"] == [1, "two"]


async def test_set_state_every_status(storage: Storage) -> None:
    created = await make_thread(storage)
    for status in ("busy", "interrupted", "error", "idle"):
        updated = await storage.thread_set_state(S, created["thread_id"], status=status)
        assert updated["status"] == status
    with pytest.raises(ValueError):
        await storage.thread_set_state(S, created["thread_id"], status="sleeping")
    assert (await storage.thread_get(S, created["thread_id"]))["status"] == "idle"


async def test_set_state_missing(storage: Storage) -> None:
    assert await storage.thread_set_state(S, new_id(), status="busy") is None
    assert await storage.thread_set_state(S, new_id(), values={"a": 1}) is None


async def test_results_are_not_aliases_of_stored_state(storage: Storage) -> None:
    metadata = {"nested": {"a": 1}}
    created = await make_thread(storage, metadata=metadata)
    thread_id = created["thread_id"]
    metadata["nested"]["a"] = 2
    created["metadata"]["nested"]["a"] = 3
    values = {"list": [1]}
    state = await storage.thread_set_state(S, thread_id, values=values)
    values["list"].append(2)
    state["values"]["list"].append(3)
    found = await storage.thread_search(S)
    found.items[0]["metadata"]["nested"]["a"] = 4
    got = await storage.thread_get(S, thread_id)
    assert got["metadata"] == {"nested": {"a": 1}}
    assert got["values"] == {"list": [1]}
    got["values"]["list"].append(5)
    copied = await storage.thread_copy(S, thread_id, new_id())
    copied["values"]["list"].append(6)
    assert (await storage.thread_get(S, thread_id))["values"] == {"list": [1]}
    assert (await storage.thread_get(S, copied["thread_id"]))["values"] == {"list": [1]}

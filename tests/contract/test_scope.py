"""Owner isolation: a scoped caller sees, changes and deletes only its own rows."""

from __future__ import annotations

import pytest

from robyn_server.storage.base import Storage
from robyn_server.storage.types import ANONYMOUS, Scope, StorageConflict
from tests.support.contract import (
    ALICE,
    ASSISTANT_KEYS,
    BOB,
    THREAD_KEYS,
    make_assistant,
    make_thread,
    new_id,
)


async def test_assistants_are_isolated(storage: Storage) -> None:
    mine = await make_assistant(storage, ALICE, name="shared name", metadata={"k": 1})
    theirs = await make_assistant(storage, BOB, name="shared name", metadata={"k": 1})
    assert set(mine) == ASSISTANT_KEYS  # no owner key leaks out
    a_id, b_id = mine["assistant_id"], theirs["assistant_id"]

    assert await storage.assistant_get(BOB, a_id) is None
    assert await storage.assistant_update(BOB, a_id, name="hijack") is None
    assert await storage.assistant_versions(BOB, a_id) == []
    assert await storage.assistant_set_latest(BOB, a_id, 1) is None
    assert await storage.assistant_delete(BOB, a_id) is None
    assert await storage.assistant_delete(BOB, a_id, delete_threads=True) is None
    assert await storage.assistant_get(ALICE, a_id) == mine

    page = await storage.assistant_search(BOB, metadata={"k": 1}, name="shared")
    assert [a["assistant_id"] for a in page.items] == [b_id]
    assert await storage.assistant_count(BOB) == 1
    assert await storage.assistant_count(ALICE, name="shared") == 1
    assert await storage.assistant_count(Scope("carol")) == 0

    # No owner: every row is visible and writable.
    assert await storage.assistant_count(ANONYMOUS) == 2
    assert await storage.assistant_get(ANONYMOUS, b_id) == theirs
    assert (await storage.assistant_update(ANONYMOUS, b_id, name="admin"))["version"] == 2
    assert (await storage.assistant_get(BOB, b_id))["name"] == "admin"


async def test_assistant_id_taken_by_another_owner(storage: Storage) -> None:
    mine = await make_assistant(storage, ALICE)
    for if_exists in ("raise", "do_nothing"):
        with pytest.raises(StorageConflict):
            await make_assistant(
                storage, BOB, assistant_id=mine["assistant_id"], if_exists=if_exists
            )
    same = await make_assistant(
        storage, ALICE, assistant_id=mine["assistant_id"], if_exists="do_nothing"
    )
    assert same == mine
    anyone = await make_assistant(
        storage, ANONYMOUS, assistant_id=mine["assistant_id"], if_exists="do_nothing"
    )
    assert anyone == mine


async def test_anonymous_rows_are_invisible_to_owners(storage: Storage) -> None:
    public = await make_assistant(storage, ANONYMOUS)
    thread = await make_thread(storage, ANONYMOUS)
    assert await storage.assistant_get(ALICE, public["assistant_id"]) is None
    assert await storage.thread_get(ALICE, thread["thread_id"]) is None


async def test_versions_follow_the_assistant_owner(storage: Storage) -> None:
    mine = await make_assistant(storage, ALICE)
    await storage.assistant_update(ALICE, mine["assistant_id"], name="v2")
    assert len(await storage.assistant_versions(ALICE, mine["assistant_id"])) == 2
    assert (await storage.assistant_set_latest(ALICE, mine["assistant_id"], 1))["version"] == 1


async def test_delete_threads_only_touches_own_threads(storage: Storage) -> None:
    assistant = await make_assistant(storage, ALICE)
    metadata = {"assistant_id": assistant["assistant_id"]}
    mine = await make_thread(storage, ALICE, metadata=metadata)
    theirs = await make_thread(storage, BOB, metadata=metadata)
    deleted = await storage.assistant_delete(ALICE, assistant["assistant_id"], delete_threads=True)
    assert deleted == [mine["thread_id"]]
    assert await storage.thread_get(BOB, theirs["thread_id"]) is not None


async def test_threads_are_isolated(storage: Storage) -> None:
    mine = await make_thread(storage, ALICE, metadata={"k": 1})
    theirs = await make_thread(storage, BOB, metadata={"k": 1})
    assert set(mine) == THREAD_KEYS
    a_id, b_id = mine["thread_id"], theirs["thread_id"]

    assert await storage.thread_get(BOB, a_id) is None
    assert await storage.thread_update(BOB, a_id, metadata={"x": 1}) is None
    assert await storage.thread_set_state(BOB, a_id, status="busy", values={"v": 1}) is None
    assert await storage.thread_copy(BOB, a_id, new_id()) is None
    assert await storage.thread_delete(BOB, a_id) is False
    assert await storage.thread_delete_many(BOB, [a_id, b_id]) == [b_id]
    assert await storage.thread_get(ALICE, a_id) == mine

    theirs = await make_thread(storage, BOB, metadata={"k": 1})
    page = await storage.thread_search(BOB, metadata={"k": 1})
    assert [t["thread_id"] for t in page.items] == [theirs["thread_id"]]
    page = await storage.thread_search(BOB, ids=[a_id, theirs["thread_id"]])
    assert [t["thread_id"] for t in page.items] == [theirs["thread_id"]]
    assert await storage.thread_count(BOB) == 1
    assert await storage.thread_count(ALICE, metadata={"k": 1}) == 1
    assert await storage.thread_count(ANONYMOUS) == 2
    assert await storage.thread_get(ANONYMOUS, a_id) == mine


async def test_thread_id_taken_by_another_owner(storage: Storage) -> None:
    mine = await make_thread(storage, ALICE)
    for if_exists in ("raise", "do_nothing"):
        with pytest.raises(StorageConflict):
            await make_thread(storage, BOB, thread_id=mine["thread_id"], if_exists=if_exists)
    assert (
        await make_thread(storage, ALICE, thread_id=mine["thread_id"], if_exists="do_nothing")
        == mine
    )


async def test_copy_belongs_to_the_copier(storage: Storage) -> None:
    source = await make_thread(storage, ALICE, metadata={"k": 1})
    copied = await storage.thread_copy(ALICE, source["thread_id"], new_id())
    assert await storage.thread_get(ALICE, copied["thread_id"]) == copied
    assert await storage.thread_get(BOB, copied["thread_id"]) is None
    # An unscoped caller may copy anyone's thread; the copy is then unowned.
    admin_copy = await storage.thread_copy(ANONYMOUS, source["thread_id"], new_id())
    assert admin_copy["metadata"] == {"k": 1}
    assert await storage.thread_get(ALICE, admin_copy["thread_id"]) is None
    # Copying onto an id someone else owns is a conflict, not a silent overwrite.
    bobs = await make_thread(storage, BOB)
    with pytest.raises(StorageConflict):
        await storage.thread_copy(ALICE, source["thread_id"], bobs["thread_id"])

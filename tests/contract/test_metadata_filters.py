"""Auth filters (`Scope.metadata_filter`): both backends select exactly the same rows, on
every kind of row, for the whole dialect ($eq, $contains, $or, $and, nested values).

Postgres renders the filter in SQL; memory checks each row. The cases name the rows that
must match by hand, so neither implementation is the other's oracle.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from robyn_server.storage.base import Storage
from robyn_server.storage.filters import MetadataFilter
from robyn_server.storage.types import ANONYMOUS, Scope
from tests.support.contract import make_assistant, make_run, make_thread, new_id
from tests.support.graphs import AGENT_ASSISTANT_ID

ROWS: dict[str, dict[str, Any]] = {
    "alice": {"owner": "alice", "tags": ["red", "blue"], "level": 1},
    "bob": {"owner": "bob", "tags": ["blue"], "level": 1.0},
    "carol": {"owner": "carol", "tags": "red", "level": True},
    "team": {"owner": {"team": "a", "role": "admin"}, "members": [{"id": "a", "role": "x"}]},
    "list": {"owner": ["alice", "bob"], "members": [["alice", "bob"]]},
    "null": {"owner": None, "system": True},
    "bare": {},
}
ALL = set(ROWS)

CASES: list[tuple[str, dict[str, Any], set[str]]] = [
    ("shorthand", {"owner": "alice"}, {"alice"}),
    ("$eq", {"owner": {"$eq": "bob"}}, {"bob"}),
    ("no match", {"owner": "dave"}, set()),
    ("missing key", {"nothing": "x"}, set()),
    ("null is a value", {"owner": None}, {"null"}),
    ("numbers by value", {"level": 1}, {"alice", "bob"}),
    ("a boolean is not a number", {"level": {"$eq": True}}, {"carol"}),
    ("an object whole", {"owner": {"team": "a", "role": "admin"}}, {"team"}),
    ("an object, keys in any order", {"owner": {"$eq": {"role": "admin", "team": "a"}}}, {"team"}),
    ("a smaller object is not equal", {"owner": {"$eq": {"team": "a"}}}, set()),
    ("an array whole", {"owner": ["alice", "bob"]}, {"list"}),
    ("an array in another order is not equal", {"owner": ["bob", "alice"]}, set()),
    ("$contains one", {"tags": {"$contains": "blue"}}, {"alice", "bob"}),
    ("$contains each of a list", {"tags": {"$contains": ["red", "blue"]}}, {"alice"}),
    ("a string does not contain", {"tags": {"$contains": "red"}}, {"alice"}),
    ("$contains an object element", {"members": {"$contains": {"id": "a"}}}, {"team"}),
    ("$contains a nested array", {"members": {"$contains": [["alice"]]}}, {"list"}),
    ("keys are all required", {"owner": "alice", "level": 2}, set()),
    ("$or", {"$or": [{"owner": "alice"}, {"system": True}]}, {"alice", "null"}),
    (
        "$or beside a key",
        {"level": 1, "$or": [{"owner": "alice"}, {"owner": "bob"}, {"owner": "carol"}]},
        {"alice", "bob"},
    ),
    (
        "$or of $contains and an object",
        {"$or": [{"tags": {"$contains": "red"}}, {"owner": {"team": "a", "role": "admin"}}]},
        {"alice", "team"},
    ),
    (
        "$or nested in $or",
        {"$or": [{"$or": [{"owner": "bob"}]}, {"owner": "carol"}]},
        {"bob", "carol"},
    ),
    ("an empty $or matches nothing", {"$or": []}, set()),
    ("$and", {"$and": [{"tags": {"$contains": "blue"}}, {"owner": "bob"}]}, {"bob"}),
    ("an empty filter matches everything", {}, ALL),
]


def scoped(where: dict[str, Any]) -> Scope:
    return Scope(metadata_filter=MetadataFilter.parse(where))


@pytest.mark.parametrize(("name", "where", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_every_kind_of_row_is_selected_by_the_filter(
    storage: Storage, name: str, where: dict[str, Any], expected: set[str]
) -> None:
    scope = scoped(where)
    names: dict[str, dict[str, str]] = {"thread": {}, "assistant": {}, "cron": {}}
    for row, metadata in ROWS.items():
        thread = await make_thread(storage, metadata=metadata)
        assistant = await make_assistant(storage, metadata=metadata)
        cron = await storage.cron_create(
            ANONYMOUS,
            cron_id=new_id(),
            assistant_id=assistant["assistant_id"],
            thread_id=None,
            schedule="* * * * *",
            timezone=None,
            end_time=None,
            payload={},
            metadata=metadata,
            on_run_completed="delete",
            enabled=True,
            next_run_date=datetime.now(UTC) + timedelta(hours=1),
        )
        assert cron is not None
        names["thread"][thread["thread_id"]] = row
        names["assistant"][assistant["assistant_id"]] = row
        names["cron"][cron["cron_id"]] = row

    threads = await storage.thread_search(scope, limit=100)
    assert {names["thread"][t["thread_id"]] for t in threads.items} == expected
    assert await storage.thread_count(scope) == len(expected)
    assistants = await storage.assistant_search(scope, limit=100)
    assert {names["assistant"][a["assistant_id"]] for a in assistants.items} == expected
    assert await storage.assistant_count(scope) == len(expected)
    crons = await storage.cron_search(scope, limit=100)
    assert {names["cron"][c["cron_id"]] for c in crons.items} == expected
    assert await storage.cron_count(scope) == len(expected)
    for thread_id, row in names["thread"].items():
        assert (await storage.thread_get(scope, thread_id) is not None) == (row in expected)


MINE = scoped({"owner": "alice"})


async def test_a_filtered_caller_reaches_only_matching_threads(storage: Storage) -> None:
    mine = await make_thread(storage, metadata={"owner": "alice", "k": 1})
    theirs = await make_thread(storage, metadata={"owner": "bob", "k": 1})
    a_id, b_id = mine["thread_id"], theirs["thread_id"]

    assert await storage.thread_update(MINE, b_id, metadata={"x": 1}) is None
    assert await storage.thread_set_state(MINE, b_id, status="busy") is None
    assert await storage.thread_copy(MINE, b_id, new_id()) is None
    assert await storage.thread_delete(MINE, b_id) is False
    assert await storage.thread_delete_many(MINE, [a_id, b_id]) == [a_id]
    page = await storage.thread_search(MINE, ids=[a_id, b_id], metadata={"k": 1})
    assert page.items == []
    assert await storage.thread_get(ANONYMOUS, b_id) == theirs


async def test_a_copy_can_carry_new_metadata(storage: Storage) -> None:
    source = await make_thread(storage, metadata={"owner": "alice", "topic": "x"})
    copied = await storage.thread_copy(
        MINE, source["thread_id"], new_id(), metadata={"owner": "bob", "topic": "x"}
    )
    assert copied is not None and copied["metadata"] == {"owner": "bob", "topic": "x"}
    plain = await storage.thread_copy(MINE, source["thread_id"], new_id())
    assert plain is not None and plain["metadata"] == source["metadata"]


async def test_a_filtered_caller_reaches_only_matching_assistants(storage: Storage) -> None:
    theirs = await make_assistant(storage, metadata={"owner": "bob"})
    b_id = theirs["assistant_id"]

    assert await storage.assistant_get(MINE, b_id) is None
    assert await storage.assistant_update(MINE, b_id, name="hijack") is None
    assert await storage.assistant_versions(MINE, b_id) == []
    assert await storage.assistant_set_latest(MINE, b_id, 1) is None
    assert await storage.assistant_delete(MINE, b_id) is None
    assert await storage.assistant_get(ANONYMOUS, b_id) == theirs
    mine = await make_assistant(storage, metadata={"owner": "alice"})
    assert len(await storage.assistant_versions(MINE, mine["assistant_id"])) == 1


async def test_deleting_an_assistants_threads_follows_the_thread_filter(
    storage: Storage,
) -> None:
    assistant = await make_assistant(storage, metadata={"owner": "alice"})
    marks = {"assistant_id": assistant["assistant_id"]}
    mine = await make_thread(storage, metadata={**marks, "owner": "alice"})
    theirs = await make_thread(storage, metadata={**marks, "owner": "bob"})
    deleted = await storage.assistant_delete(
        scoped({"owner": "alice"}),
        assistant["assistant_id"],
        delete_threads=True,
        thread_scope=scoped({"owner": "alice"}),
    )
    assert deleted == [mine["thread_id"]]
    assert await storage.thread_get(ANONYMOUS, theirs["thread_id"]) is not None


async def test_runs_follow_their_threads_metadata(storage: Storage) -> None:
    theirs = await make_thread(storage, metadata={"owner": "bob"})
    mine = await make_thread(storage, metadata={"owner": "alice"})
    # The run's own metadata says "alice": only the thread's counts.
    run, _ = await make_run(storage, theirs["thread_id"], metadata={"owner": "alice"})
    own, _ = await make_run(storage, mine["thread_id"], metadata={"owner": "bob"})
    run_id, thread_id = run["run_id"], theirs["thread_id"]

    assert await storage.run_get(MINE, run_id) is None
    assert await storage.run_get(MINE, run_id, thread_id=thread_id) is None
    assert await storage.run_search(MINE, thread_id) == []
    assert await storage.run_inflight(MINE, thread_id=thread_id) == []
    assert [r["run_id"] for r in await storage.run_inflight(MINE)] == [own["run_id"]]
    assert await storage.run_delete(MINE, run_id, thread_id=thread_id) is False
    assert (
        await storage.run_create(
            MINE,
            run_id=new_id(),
            thread_id=thread_id,
            assistant_id=AGENT_ASSISTANT_ID,
            metadata={},
            kwargs={},
            multitask_strategy="enqueue",
        )
        is None
    )
    assert (await storage.run_get(MINE, own["run_id"])) is not None
    assert [r["run_id"] for r in await storage.run_search(MINE, mine["thread_id"])] == [
        own["run_id"]
    ]
    assert await storage.run_get(ANONYMOUS, run_id) is not None


async def test_crons_are_filtered_and_remember_who_they_run_as(storage: Storage) -> None:
    assistant = await make_assistant(storage)
    fields: dict[str, Any] = {
        "assistant_id": assistant["assistant_id"],
        "thread_id": None,
        "schedule": "* * * * *",
        "timezone": None,
        "end_time": None,
        "payload": {},
        "on_run_completed": "delete",
        "enabled": True,
        "next_run_date": datetime.now(UTC) - timedelta(seconds=1),
    }
    user = {"identity": "bob", "permissions": ["p"], "display_name": "Bob", "token": "t"}
    theirs = await storage.cron_create(
        ANONYMOUS, cron_id=new_id(), metadata={"owner": "bob"}, run_as=user, **fields
    )
    assert theirs is not None and theirs["user_id"] == "bob"
    assert "run_as" not in theirs  # only the scheduler reads it
    cron_id = theirs["cron_id"]

    assert await storage.cron_get(MINE, cron_id) is None
    assert await storage.cron_update(MINE, cron_id, enabled=False) is None
    assert await storage.cron_delete(MINE, cron_id) is False
    assert await storage.cron_get(ANONYMOUS, cron_id) == theirs
    due = await storage.cron_due(datetime.now(UTC), limit=10)
    assert [(c["cron_id"], c["run_as"]) for c in due] == [(cron_id, user)]

    # A thread cron needs its thread visible to the scope it is created in.
    thread = await make_thread(storage, metadata={"owner": "bob"})
    created = await storage.cron_create(
        MINE, cron_id=new_id(), metadata={}, **{**fields, "thread_id": thread["thread_id"]}
    )
    assert created is None

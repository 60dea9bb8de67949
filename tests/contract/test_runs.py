"""Run creation, reads, deletion and scoping, identical on every backend."""

from __future__ import annotations

from datetime import timedelta

import pytest

from robyn_server.storage.base import Storage
from robyn_server.storage.types import ANONYMOUS, StorageConflict, ThreadBusy, utcnow
from tests.support.contract import (
    ALICE,
    BOB,
    assert_run_shape,
    make_assistant,
    make_run,
    make_thread,
    new_id,
)
from tests.support.graphs import AGENT_ASSISTANT_ID

S = ANONYMOUS


async def test_create_queues_a_pending_run_and_marks_the_thread_busy(storage: Storage) -> None:
    thread = await make_thread(storage, metadata={"keep": 1, "over": "old"})
    await storage.thread_set_state(S, thread["thread_id"], config={"configurable": {"x": 1}})
    run_id = new_id()
    run, others = await make_run(
        storage,
        thread["thread_id"].upper(),
        run_id=run_id.upper(),
        assistant_id=AGENT_ASSISTANT_ID.upper(),
        metadata={"source": "test"},
        kwargs={"input": {"n": [1, None, "é"]}, "stream_mode": ["values"]},
        multitask_strategy="reject",
        thread_metadata={"over": "new", "graph_id": "agent"},
        thread_config={"configurable": {"y": 2}},
    )
    assert_run_shape(run)
    assert others == []
    assert run["run_id"] == run_id
    assert run["thread_id"] == thread["thread_id"]
    assert run["assistant_id"] == AGENT_ASSISTANT_ID
    assert run["metadata"] == {"source": "test"}
    assert run["kwargs"] == {"input": {"n": [1, None, "é"]}, "stream_mode": ["values"]}
    assert run["status"] == "pending"
    assert run["multitask_strategy"] == "reject"
    assert run["attempt"] == 1
    assert run["created_at"] == run["updated_at"]
    assert abs(run["created_at"] - utcnow()) < timedelta(seconds=5)
    assert await storage.run_get(S, run_id) == run

    after = await storage.thread_get(S, thread["thread_id"])
    assert after is not None
    assert after["status"] == "busy"
    assert after["metadata"] == {"keep": 1, "over": "new", "graph_id": "agent"}
    assert after["config"] == {"configurable": {"y": 2}}  # replaced, not merged
    assert after["updated_at"] > thread["updated_at"]


async def test_create_without_thread_updates_keeps_metadata_and_config(storage: Storage) -> None:
    thread = await make_thread(storage, metadata={"a": 1})
    await storage.thread_set_state(S, thread["thread_id"], config={"c": 1})
    await make_run(storage, thread["thread_id"])
    after = await storage.thread_get(S, thread["thread_id"])
    assert after is not None
    assert (after["status"], after["metadata"], after["config"]) == ("busy", {"a": 1}, {"c": 1})


async def test_create_on_a_missing_thread_writes_nothing(storage: Storage) -> None:
    thread_id, run_id = new_id(), new_id()
    created = await storage.run_create(
        S,
        run_id=run_id,
        thread_id=thread_id,
        assistant_id=AGENT_ASSISTANT_ID,
        metadata={},
        kwargs={},
        multitask_strategy="reject",
    )
    assert created is None
    assert await storage.thread_get(S, thread_id) is None
    assert await storage.run_get(S, run_id) is None


async def test_create_thread_creates_a_missing_thread(storage: Storage) -> None:
    thread_id = new_id()
    run, others = await make_run(
        storage, thread_id, create_thread={"made": "by run"}, thread_metadata={"graph_id": "g"}
    )
    assert others == []
    assert run["thread_id"] == thread_id
    thread = await storage.thread_get(S, thread_id)
    assert thread is not None
    assert thread["status"] == "busy"
    assert thread["metadata"] == {"made": "by run", "graph_id": "g"}
    assert thread["config"] == {}
    assert thread["ttl"] is None


async def test_create_thread_leaves_an_existing_thread_as_it_is(storage: Storage) -> None:
    thread = await make_thread(storage, metadata={"own": 1})
    await make_run(storage, thread["thread_id"], create_thread={"ignored": True})
    after = await storage.thread_get(S, thread["thread_id"])
    assert after is not None
    assert after["metadata"] == {"own": 1}
    assert after["created_at"] == thread["created_at"]


async def test_reject_if_inflight_raises_and_writes_nothing(storage: Storage) -> None:
    thread = await make_thread(storage, metadata={"a": 1})
    first, _ = await make_run(storage, thread["thread_id"])
    before = await storage.thread_get(S, thread["thread_id"])
    rejected = new_id()
    with pytest.raises(ThreadBusy):
        await make_run(
            storage,
            thread["thread_id"],
            run_id=rejected,
            reject_if_inflight=True,
            thread_metadata={"b": 2},
            thread_config={"c": 3},
        )
    assert await storage.run_get(S, rejected) is None
    assert await storage.thread_get(S, thread["thread_id"]) == before

    # Still busy while the run is running; free again once it has finished.
    await storage.run_claim(thread["thread_id"])
    with pytest.raises(ThreadBusy):
        await make_run(storage, thread["thread_id"], reject_if_inflight=True)
    await storage.run_set_status(first["run_id"], "success")
    run, others = await make_run(storage, thread["thread_id"], reject_if_inflight=True)
    assert others == []
    assert run["status"] == "pending"


async def test_reject_if_inflight_on_a_new_thread(storage: Storage) -> None:
    run, others = await make_run(
        storage, new_id(), create_thread={}, reject_if_inflight=True, multitask_strategy="reject"
    )
    assert others == []
    assert run["status"] == "pending"


async def test_other_inflight_ids_come_oldest_first(storage: Storage) -> None:
    thread_id = (await make_thread(storage))["thread_id"]
    first, _ = await make_run(storage, thread_id)
    second, others = await make_run(storage, thread_id)
    assert others == [first["run_id"]]
    third, others = await make_run(storage, thread_id)
    assert others == [first["run_id"], second["run_id"]]
    assert first["created_at"] < second["created_at"] < third["created_at"]

    await storage.run_set_status(first["run_id"], "interrupted")
    delayed, others = await make_run(storage, thread_id, created_at=utcnow() + timedelta(hours=1))
    assert others == [second["run_id"], third["run_id"]]
    _, others = await make_run(storage, thread_id)
    # Ordered by created_at: the delayed run is due last.
    assert others == [second["run_id"], third["run_id"], delayed["run_id"]]
    other_thread = (await make_thread(storage))["thread_id"]
    _, others = await make_run(storage, other_thread)
    assert others == []


async def test_explicit_created_at_is_kept(storage: Storage) -> None:
    thread_id = (await make_thread(storage))["thread_id"]
    due = utcnow() + timedelta(seconds=30)
    run, _ = await make_run(storage, thread_id, created_at=due)
    assert run["created_at"] == due
    assert run["updated_at"] < due
    assert await storage.run_get(S, run["run_id"]) == run


async def test_duplicate_run_id_conflicts_and_writes_nothing(storage: Storage) -> None:
    thread = await make_thread(storage)
    run, _ = await make_run(storage, thread["thread_id"])
    new_thread = new_id()
    with pytest.raises(StorageConflict):
        await make_run(storage, new_thread, run_id=run["run_id"], create_thread={})
    assert await storage.thread_get(S, new_thread) is None
    assert await storage.run_get(S, run["run_id"]) == run


async def test_malformed_ids(storage: Storage) -> None:
    thread_id = (await make_thread(storage))["thread_id"]
    run, _ = await make_run(storage, thread_id)
    with pytest.raises(ValueError):
        await make_run(storage, thread_id, run_id="nope")
    with pytest.raises(ValueError):
        await make_run(storage, thread_id, assistant_id="nope")
    with pytest.raises(ValueError):
        await make_run(storage, "nope", create_thread={})
    assert (
        await storage.run_create(
            S,
            run_id=new_id(),
            thread_id="nope",
            assistant_id=AGENT_ASSISTANT_ID,
            metadata={},
            kwargs={},
            multitask_strategy="enqueue",
        )
        is None
    )
    assert await storage.run_get(S, "nope") is None
    assert await storage.run_get(S, run["run_id"], thread_id="nope") is None
    assert await storage.run_search(S, "nope") == []
    assert await storage.run_delete(S, "nope", thread_id=thread_id) is False
    assert await storage.run_delete(S, run["run_id"], thread_id="nope") is False
    assert await storage.run_inflight(S, thread_id="nope") == []
    assert await storage.run_inflight(S, run_ids=["nope"]) == []
    assert await storage.run_claim("nope") is None
    assert await storage.run_next_due("nope") is None
    assert await storage.run_set_status("nope", "success") is None


async def test_get_with_and_without_thread(storage: Storage) -> None:
    thread_id = (await make_thread(storage))["thread_id"]
    other_thread = (await make_thread(storage))["thread_id"]
    run, _ = await make_run(storage, thread_id)
    assert await storage.run_get(S, run["run_id"]) == run
    assert await storage.run_get(S, run["run_id"], thread_id=thread_id.upper()) == run
    assert await storage.run_get(S, run["run_id"], thread_id=other_thread) is None
    assert await storage.run_get(S, new_id()) is None


async def test_search_newest_first_with_status_filter_and_paging(storage: Storage) -> None:
    thread_id = (await make_thread(storage))["thread_id"]
    runs = [(await make_run(storage, thread_id))[0] for _ in range(5)]
    await make_run(storage, (await make_thread(storage))["thread_id"])  # another thread's
    await storage.run_set_status(runs[1]["run_id"], "success")
    await storage.run_set_status(runs[3]["run_id"], "success")

    found = await storage.run_search(S, thread_id)
    assert [r["run_id"] for r in found] == [r["run_id"] for r in reversed(runs)]
    for r in found:
        assert_run_shape(r)
    assert found[-1] == runs[0]

    successes = await storage.run_search(S, thread_id, status="success")
    assert [r["run_id"] for r in successes] == [runs[3]["run_id"], runs[1]["run_id"]]
    assert all(r["status"] == "success" for r in successes)
    assert await storage.run_search(S, thread_id, status="timeout") == []

    page = await storage.run_search(S, thread_id, limit=2, offset=1)
    assert [r["run_id"] for r in page] == [runs[3]["run_id"], runs[2]["run_id"]]
    assert await storage.run_search(S, thread_id, limit=2, offset=5) == []
    assert await storage.run_search(S, new_id()) == []
    with pytest.raises(ValueError):
        await storage.run_search(S, thread_id, limit=0)
    with pytest.raises(ValueError):
        await storage.run_search(S, thread_id, offset=-1)


async def test_search_breaks_created_at_ties_by_run_id(storage: Storage) -> None:
    thread_id = (await make_thread(storage))["thread_id"]
    same = utcnow()
    ids = [(await make_run(storage, thread_id, created_at=same))[0]["run_id"] for _ in range(4)]
    found = await storage.run_search(S, thread_id)
    assert [r["run_id"] for r in found] == sorted(ids, reverse=True)
    inflight = await storage.run_inflight(S, thread_id=thread_id)
    assert [r["run_id"] for r in inflight] == sorted(ids)


async def test_delete(storage: Storage) -> None:
    thread_id = (await make_thread(storage))["thread_id"]
    other_thread = (await make_thread(storage))["thread_id"]
    run, _ = await make_run(storage, thread_id)
    kept, _ = await make_run(storage, thread_id)
    assert await storage.run_delete(S, run["run_id"], thread_id=other_thread) is False
    assert await storage.run_delete(S, run["run_id"], thread_id=thread_id) is True
    assert await storage.run_get(S, run["run_id"]) is None
    assert await storage.run_delete(S, run["run_id"], thread_id=thread_id) is False
    assert [r["run_id"] for r in await storage.run_search(S, thread_id)] == [kept["run_id"]]


async def test_deleting_a_thread_deletes_its_runs(storage: Storage) -> None:
    doomed = (await make_thread(storage))["thread_id"]
    kept = (await make_thread(storage))["thread_id"]
    doomed_runs = [(await make_run(storage, doomed))[0]["run_id"] for _ in range(2)]
    kept_run, _ = await make_run(storage, kept)
    assert await storage.thread_delete(S, doomed) is True
    for run_id in doomed_runs:
        assert await storage.run_get(S, run_id) is None
    assert [r["run_id"] for r in await storage.run_inflight(S)] == [kept_run["run_id"]]

    # The id can be reused; the old thread's runs do not come back with it.
    await make_thread(storage, thread_id=doomed)
    assert await storage.run_search(S, doomed) == []
    assert await storage.run_claim(doomed) is None

    assert await storage.thread_delete_many(S, [kept]) == [kept]
    assert await storage.run_get(S, kept_run["run_id"]) is None


async def test_deleting_an_assistant_with_its_threads_deletes_their_runs(storage: Storage) -> None:
    assistant = await make_assistant(storage)
    thread_id = (await make_thread(storage, metadata={"assistant_id": assistant["assistant_id"]}))[
        "thread_id"
    ]
    run, _ = await make_run(storage, thread_id, assistant_id=assistant["assistant_id"])
    assert await storage.assistant_delete(S, assistant["assistant_id"], delete_threads=True) == [
        thread_id
    ]
    assert await storage.run_get(S, run["run_id"]) is None
    assert await storage.run_inflight(S) == []


async def test_runs_of_deleted_assistants_remain(storage: Storage) -> None:
    assistant = await make_assistant(storage)
    thread_id = (await make_thread(storage))["thread_id"]
    run, _ = await make_run(storage, thread_id, assistant_id=assistant["assistant_id"])
    await storage.assistant_delete(S, assistant["assistant_id"])
    assert await storage.run_get(S, run["run_id"]) == run


async def test_inflight_filters(storage: Storage) -> None:
    one = (await make_thread(storage))["thread_id"]
    two = (await make_thread(storage))["thread_id"]
    a, _ = await make_run(storage, one)
    b, _ = await make_run(storage, two)
    c, _ = await make_run(storage, one)
    done, _ = await make_run(storage, two)
    await storage.run_set_status(done["run_id"], "error")
    running = await storage.run_claim(one)
    assert running is not None and running["run_id"] == a["run_id"]

    def ids(runs: list[dict]) -> list[str]:
        return [r["run_id"] for r in runs]

    everything = await storage.run_inflight(S)
    assert ids(everything) == [a["run_id"], b["run_id"], c["run_id"]]
    for r in everything:
        assert_run_shape(r)
    assert everything[0]["status"] == "running"
    assert ids(await storage.run_inflight(S, thread_id=one)) == [a["run_id"], c["run_id"]]
    assert ids(await storage.run_inflight(S, statuses=["running"])) == [a["run_id"]]
    assert ids(await storage.run_inflight(S, statuses=("pending",))) == [b["run_id"], c["run_id"]]
    assert await storage.run_inflight(S, statuses=()) == []
    wanted = [c["run_id"].upper(), done["run_id"], b["run_id"], new_id(), "nope"]
    assert ids(await storage.run_inflight(S, run_ids=wanted)) == [b["run_id"], c["run_id"]]
    assert ids(await storage.run_inflight(S, thread_id=two, run_ids=wanted)) == [b["run_id"]]
    assert await storage.run_inflight(S, run_ids=[]) == []
    with pytest.raises(ValueError):
        await storage.run_inflight(S, statuses=["success"])


async def test_scope_isolation(storage: Storage) -> None:
    thread_id = (await make_thread(storage, ALICE))["thread_id"]
    run, _ = await make_run(storage, thread_id, ALICE)

    # Bob can neither create runs on Alice's thread nor take it over with create_thread.
    for create_thread in (None, {"bob": True}):
        refused = await storage.run_create(
            BOB,
            run_id=new_id(),
            thread_id=thread_id,
            assistant_id=AGENT_ASSISTANT_ID,
            metadata={},
            kwargs={},
            multitask_strategy="enqueue",
            create_thread=create_thread,
            thread_metadata={"bob": True},
        )
        assert refused is None
    thread = await storage.thread_get(ALICE, thread_id)
    assert thread is not None and "bob" not in thread["metadata"]

    assert await storage.run_get(BOB, run["run_id"]) is None
    assert await storage.run_search(BOB, thread_id) == []
    assert await storage.run_inflight(BOB) == []
    assert await storage.run_inflight(BOB, run_ids=[run["run_id"]]) == []
    assert await storage.run_delete(BOB, run["run_id"], thread_id=thread_id) is False
    assert [r["run_id"] for r in await storage.run_search(ALICE, thread_id)] == [run["run_id"]]

    # Without auth everything is visible, and a run made that way belongs to the thread's
    # owner, so Alice sees it too.
    assert await storage.run_get(S, run["run_id"]) == run
    anonymous, others = await make_run(storage, thread_id, S)
    assert others == [run["run_id"]]
    assert await storage.run_get(ALICE, anonymous["run_id"]) == anonymous
    assert await storage.run_get(BOB, anonymous["run_id"]) is None

    # A thread Bob creates through run_create is Bob's.
    bobs_thread = new_id()
    bobs_run, _ = await make_run(storage, bobs_thread, BOB, create_thread={})
    assert await storage.thread_get(BOB, bobs_thread) is not None
    assert await storage.thread_get(ALICE, bobs_thread) is None
    assert await storage.run_get(ALICE, bobs_run["run_id"]) is None
    assert await storage.run_delete(BOB, run["run_id"], thread_id=thread_id) is False
    assert await storage.run_delete(ALICE, run["run_id"], thread_id=thread_id) is True


async def test_records_are_not_shared_with_callers(storage: Storage) -> None:
    thread_id = (await make_thread(storage))["thread_id"]
    kwargs = {"input": {"messages": [{"role": "user", "content": "hi"}]}}
    metadata = {"tags": ["a"]}
    run, _ = await make_run(storage, thread_id, kwargs=kwargs, metadata=metadata)
    kwargs["input"]["messages"].append("mutated")
    metadata["tags"].append("mutated")
    run["kwargs"]["input"] = "mutated"
    stored = await storage.run_get(S, run["run_id"])
    assert stored is not None
    assert stored["kwargs"] == {"input": {"messages": [{"role": "user", "content": "hi"}]}}
    assert stored["metadata"] == {"tags": ["a"]}

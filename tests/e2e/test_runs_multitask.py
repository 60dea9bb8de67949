"""Multitask strategies ("double texting"): what a new run does to a thread that is
already running one: reject, enqueue, interrupt, rollback; and that a thread never
runs two runs at once, even when many requests race."""

from __future__ import annotations

import asyncio
import random
from functools import partial

from langgraph_sdk.errors import ConflictError

from tests.support.graphs import human, slow
from tests.support.http_races import race_requests
from tests.support.races import THREAD_ROW_LOCK
from tests.support.runs import BUSY, INFLIGHT, TERMINAL, eventually, run_reaches, thread_reaches


def contents(thread) -> list[str]:
    return [m["content"] for m in (thread["values"] or {}).get("messages", [])]


async def checkpoint_run_ids(client, thread_id: str) -> set[str]:
    history = await client.threads.get_history(thread_id, limit=100)
    return {state["metadata"].get("run_id") for state in history}


async def test_reject_refuses_with_409_and_creates_nothing(client, http, tag) -> None:
    thread = await client.threads.create(metadata={"tag": tag})
    thread_id = thread["thread_id"]
    first = await client.runs.create(thread_id, "slow", input=human("1"), config=slow(1.5))
    body = {"assistant_id": "slow", "input": human("2"), "multitask_strategy": "reject"}
    for path in ("runs", "runs/stream", "runs/wait"):
        refused = await http.post(f"/threads/{thread_id}/{path}", json=body)
        assert refused.status_code == 409, path
        assert refused.headers["content-type"].startswith("application/json")
        assert refused.json() == {"detail": BUSY}
    try:
        await client.runs.create(thread_id, "slow", input=human("2"), multitask_strategy="reject")
    except ConflictError as exc:
        assert BUSY in str(exc)
    else:
        raise AssertionError("the SDK did not raise ConflictError")
    assert [r["run_id"] for r in await client.runs.list(thread_id)] == [first["run_id"]]

    await run_reaches(client, thread_id, first["run_id"])
    await thread_reaches(client, thread_id, "idle")
    # Once the thread is idle, reject lets the run through.
    accepted = await client.runs.wait(
        thread_id, "slow", input=human("2"), config=slow(0), multitask_strategy="reject"
    )
    assert [m["content"] for m in accepted["messages"]] == ["1", "slept 1.5s", "2", "slept 0s"]


async def test_enqueue_runs_one_after_another_in_creation_order(client, tag) -> None:
    thread = await client.threads.create(metadata={"tag": tag})
    thread_id = thread["thread_id"]
    runs = []
    for n in range(3):
        runs.append(
            await client.runs.create(
                thread_id,
                "slow",
                input=human(str(n)),
                config=slow(0.3),
                multitask_strategy="enqueue",
            )
        )
    statuses = [r["status"] for r in await client.runs.list(thread_id)]
    assert statuses.count("running") <= 1
    finished = [await run_reaches(client, thread_id, r["run_id"]) for r in runs]
    assert [r["status"] for r in finished] == ["success"] * 3
    # Each run finished before the next one was even allowed to start.
    assert finished[0]["updated_at"] < finished[1]["updated_at"] < finished[2]["updated_at"]
    thread = await thread_reaches(client, thread_id, "idle")
    assert contents(thread) == ["0", "slept 0.3s", "1", "slept 0.3s", "2", "slept 0.3s"]


async def test_interrupt_stops_the_running_run_and_keeps_its_checkpoints(client, tag) -> None:
    thread = await client.threads.create(metadata={"tag": tag})
    thread_id = thread["thread_id"]
    old = await client.runs.create(thread_id, "slow", input=human("old"), config=slow(10))
    queued = await client.runs.create(thread_id, "slow", input=human("queued"), config=slow(10))
    await run_reaches(client, thread_id, old["run_id"], ("running",))
    await eventually(lambda: _has_checkpoints_of(client, thread_id, old["run_id"]))

    new = await client.runs.create(
        thread_id, "slow", input=human("new"), config=slow(0.1), multitask_strategy="interrupt"
    )
    assert (await run_reaches(client, thread_id, old["run_id"]))["status"] == "interrupted"
    assert (await run_reaches(client, thread_id, queued["run_id"]))["status"] == "interrupted"
    assert (await run_reaches(client, thread_id, new["run_id"]))["status"] == "success"
    thread = await thread_reaches(client, thread_id, "idle")
    # The interrupted run's input stayed in the state; the queued one never started.
    assert contents(thread) == ["old", "new", "slept 0.1s"]
    run_ids = await checkpoint_run_ids(client, thread_id)
    assert old["run_id"] in run_ids
    assert queued["run_id"] not in run_ids


async def _has_checkpoints_of(client, thread_id: str, run_id: str) -> bool:
    return run_id in await checkpoint_run_ids(client, thread_id)


async def test_rollback_deletes_the_old_run_and_its_checkpoints(client, http, tag) -> None:
    thread = await client.threads.create(metadata={"tag": tag})
    thread_id = thread["thread_id"]
    await client.runs.wait(thread_id, "slow", input=human("kept"), config=slow(0))
    [first] = [r["run_id"] for r in await client.runs.list(thread_id)]
    old = await client.runs.create(thread_id, "slow", input=human("old"), config=slow(10))
    queued = await client.runs.create(thread_id, "slow", input=human("queued"), config=slow(10))
    await run_reaches(client, thread_id, old["run_id"], ("running",))
    await eventually(lambda: _has_checkpoints_of(client, thread_id, old["run_id"]))

    new = await client.runs.create(
        thread_id, "slow", input=human("new"), config=slow(0.1), multitask_strategy="rollback"
    )
    await eventually(lambda: _is_gone(http, thread_id, old["run_id"]))
    assert await _is_gone(http, thread_id, queued["run_id"])
    assert (await run_reaches(client, thread_id, new["run_id"]))["status"] == "success"
    thread = await thread_reaches(client, thread_id, "idle")
    assert contents(thread) == ["kept", "slept 0s", "new", "slept 0.1s"]
    assert old["run_id"] not in await checkpoint_run_ids(client, thread_id)
    assert [r["run_id"] for r in await client.runs.list(thread_id)] == [new["run_id"], first]


async def _is_gone(http, thread_id: str, run_id: str) -> bool:
    response = await http.get(f"/threads/{thread_id}/runs/{run_id}")
    return response.status_code == 404


async def test_racing_requests_never_run_two_runs_of_a_thread_at_once(client, server, tag) -> None:
    thread = await client.threads.create(metadata={"tag": tag})
    thread_id = thread["thread_id"]
    strategies = ["enqueue"] * 12 + ["reject"] * 8
    random.Random(7).shuffle(strategies)

    async def fire(racing, n: int, strategy: str):
        try:
            return await racing.runs.create(
                thread_id,
                "slow",
                input=human(f"m{n}"),
                config=slow(0.05),
                multitask_strategy=strategy,
            )
        except ConflictError:
            return None

    seen_running: list[int] = []
    stop = asyncio.Event()

    async def watch() -> None:
        while not stop.is_set():
            listed = await client.runs.list(thread_id, limit=100, select=["status"])
            seen_running.append(sum(r["status"] == "running" for r in listed))
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    # The requests are proven to race (tests/support/http_races.py).
    results = await race_requests(
        server,
        [partial(fire, n=n, strategy=s) for n, s in enumerate(strategies)],
        lock_sql=THREAD_ROW_LOCK,
        params=(thread_id,),
    )
    accepted = [r for r in results if r is not None]
    assert len(accepted) >= 12  # every enqueue, and any reject that found the thread idle
    finished = [await run_reaches(client, thread_id, r["run_id"]) for r in accepted]
    stop.set()
    await watcher
    assert max(seen_running) <= 1
    assert {r["status"] for r in finished} == {"success"}

    listed = await client.runs.list(thread_id, limit=100)
    assert sorted(r["run_id"] for r in listed) == sorted(r["run_id"] for r in accepted)
    assert not [r for r in listed if r["status"] in INFLIGHT]
    assert {r["status"] for r in listed} <= set(TERMINAL)

    # Serial execution in creation order: every run saw the previous run's whole result,
    # so the messages alternate input, answer, input, answer... with nothing lost.
    thread = await thread_reaches(client, thread_id, "idle")
    by_creation = sorted(accepted, key=lambda r: (r["created_at"], r["run_id"]))
    expected = []
    for run in by_creation:
        expected += [run["kwargs"]["input"]["messages"][0]["content"], "slept 0.05s"]
    assert contents(thread) == expected

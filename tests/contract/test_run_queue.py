"""The run engine's side of run storage: claiming, status changes, crash recovery and
shutdown, and the races between concurrent callers, identical on every backend. Each
race proves that its callers overlapped (tests/support/races.py)."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest

from robyn_server.storage.base import Storage
from robyn_server.storage.persistence import Persistence
from robyn_server.storage.types import ANONYMOUS, LeaseLost, RunFence, Scope, ThreadBusy, utcnow
from tests.support.contract import assert_run_shape, make_run, make_thread, new_id
from tests.support.races import NEW_THREAD_LOCK, THREAD_ROW_LOCK, race

S = ANONYMOUS


async def test_claim_starts_the_oldest_pending_run_once_nothing_runs(storage: Storage) -> None:
    thread_id = (await make_thread(storage))["thread_id"]
    first, _ = await make_run(storage, thread_id)
    second, _ = await make_run(storage, thread_id)

    claimed = await storage.run_claim(thread_id.upper())
    assert claimed is not None
    assert_run_shape(claimed)
    assert claimed["run_id"] == first["run_id"]
    assert claimed["status"] == "running"
    assert claimed["attempt"] == 1
    assert claimed["updated_at"] > first["updated_at"]
    assert claimed["created_at"] == first["created_at"]
    assert await storage.run_get(S, first["run_id"]) == claimed

    assert await storage.run_claim(thread_id) is None  # one run at a time per thread
    assert (await storage.run_get(S, second["run_id"]))["status"] == "pending"

    await storage.run_set_status(first["run_id"], "success")
    claimed = await storage.run_claim(thread_id)
    assert claimed is not None and claimed["run_id"] == second["run_id"]
    await storage.run_set_status(second["run_id"], "error")
    assert await storage.run_claim(thread_id) is None  # nothing left


async def test_claiming_a_run_marks_its_thread_busy_again(storage: Storage) -> None:
    # The previous run's settle may have written "idle" just after this run was queued.
    thread_id = (await make_thread(storage))["thread_id"]
    await make_run(storage, thread_id)
    await storage.thread_set_state(S, thread_id, status="idle")
    assert await storage.run_claim(thread_id) is not None
    assert (await storage.thread_get(S, thread_id))["status"] == "busy"


async def test_claim_is_per_thread(storage: Storage) -> None:
    one = (await make_thread(storage))["thread_id"]
    two = (await make_thread(storage))["thread_id"]
    await make_run(storage, one)
    b, _ = await make_run(storage, two)
    assert await storage.run_claim(one) is not None
    claimed = await storage.run_claim(two)
    assert claimed is not None and claimed["run_id"] == b["run_id"]
    assert await storage.run_claim(new_id()) is None


async def test_claim_leaves_runs_due_in_the_future(storage: Storage) -> None:
    thread_id = (await make_thread(storage))["thread_id"]
    due = utcnow() + timedelta(hours=1)
    delayed, _ = await make_run(storage, thread_id, created_at=due)
    assert await storage.run_claim(thread_id) is None
    assert (await storage.run_get(S, delayed["run_id"]))["status"] == "pending"
    assert await storage.run_next_due(thread_id) == due

    # A run queued later without delay is due first; one stamped in the past, earlier still.
    now_run, _ = await make_run(storage, thread_id)
    past_run, _ = await make_run(storage, thread_id, created_at=utcnow() - timedelta(seconds=5))
    assert await storage.run_next_due(thread_id) == past_run["created_at"]
    claimed = await storage.run_claim(thread_id)
    assert claimed is not None and claimed["run_id"] == past_run["run_id"]
    await storage.run_set_status(past_run["run_id"], "success")
    claimed = await storage.run_claim(thread_id)
    assert claimed is not None and claimed["run_id"] == now_run["run_id"]
    await storage.run_set_status(now_run["run_id"], "success")
    assert await storage.run_claim(thread_id) is None
    assert await storage.run_next_due(thread_id) == due


async def test_next_due(storage: Storage) -> None:
    thread_id = (await make_thread(storage))["thread_id"]
    assert await storage.run_next_due(thread_id) is None
    run, _ = await make_run(storage, thread_id)
    assert await storage.run_next_due(thread_id) == run["created_at"]
    await storage.run_claim(thread_id)
    assert await storage.run_next_due(thread_id) is None  # running is not pending
    assert await storage.run_next_due(new_id()) is None


async def test_set_status(storage: Storage) -> None:
    thread_id = (await make_thread(storage))["thread_id"]
    run, _ = await make_run(storage, thread_id)
    running = await storage.run_set_status(run["run_id"].upper(), "running")
    assert running is not None
    assert_run_shape(running)
    assert running["status"] == "running"
    assert running["updated_at"] > run["updated_at"]
    assert {k: v for k, v in running.items() if k not in ("status", "updated_at")} == {
        k: v for k, v in run.items() if k not in ("status", "updated_at")
    }

    assert await storage.run_set_status(run["run_id"], "success", only_if=["pending"]) is None
    assert await storage.run_get(S, run["run_id"]) == running
    done = await storage.run_set_status(run["run_id"], "success", only_if=("pending", "running"))
    assert done is not None and done["status"] == "success"
    assert done["updated_at"] > running["updated_at"]
    assert await storage.run_set_status(run["run_id"], "timeout", only_if=[]) is None

    assert await storage.run_set_status(new_id(), "success") is None
    with pytest.raises(ValueError):
        await storage.run_set_status(run["run_id"], "finished")
    assert await storage.run_get(S, run["run_id"]) == done


async def test_recover_requeues_running_runs_until_attempts_run_out(storage: Storage) -> None:
    t1, t2, t3, t4 = [(await make_thread(storage))["thread_id"] for _ in range(4)]
    a, _ = await make_run(storage, t1)
    await storage.run_claim(t1)
    first = await storage.run_recover(max_attempts=3)
    assert first == {"requeued": [a["run_id"]], "failed": [], "threads": [t1]}
    requeued = await storage.run_get(S, a["run_id"])
    assert requeued is not None
    assert (requeued["status"], requeued["attempt"]) == ("pending", 2)
    assert requeued["updated_at"] > a["updated_at"]
    assert requeued["created_at"] == a["created_at"]
    again = await storage.run_claim(t1)
    assert again is not None and again["attempt"] == 2

    b, _ = await make_run(storage, t2)
    await storage.run_claim(t2)
    c, _ = await make_run(storage, t3)  # pending, never started
    d, _ = await make_run(storage, t4)
    await storage.run_claim(t4)
    await storage.run_set_status(d["run_id"], "success")

    second = await storage.run_recover(max_attempts=2)
    assert second == {"requeued": [b["run_id"]], "failed": [a["run_id"]], "threads": [t2, t3]}
    states = {
        run["run_id"]: (run["status"], run["attempt"])
        for run in [await storage.run_get(S, r["run_id"]) for r in (a, b, c, d)]
    }
    assert states == {
        a["run_id"]: ("error", 2),
        b["run_id"]: ("pending", 2),
        c["run_id"]: ("pending", 1),
        d["run_id"]: ("success", 1),
    }
    assert await storage.run_recover(max_attempts=2) == {
        "requeued": [],
        "failed": [],
        "threads": [t2, t3],
    }


async def test_recover_covers_every_owner(storage: Storage) -> None:
    thread_id = (await make_thread(storage, Scope("alice")))["thread_id"]
    run, _ = await make_run(storage, thread_id, Scope("alice"))
    await storage.run_claim(thread_id)
    recovered = await storage.run_recover(max_attempts=1)
    assert recovered == {"requeued": [], "failed": [run["run_id"]], "threads": []}


async def test_suspend_running_requeues_without_spending_an_attempt(storage: Storage) -> None:
    one = (await make_thread(storage))["thread_id"]
    two = (await make_thread(storage))["thread_id"]
    a, _ = await make_run(storage, one)
    b, _ = await make_run(storage, two)
    queued, _ = await make_run(storage, one)
    finished, _ = await make_run(storage, two)
    await storage.run_claim(one)
    await storage.run_claim(two)
    await storage.run_set_status(b["run_id"], "success")
    claimed = await storage.run_claim(two)
    assert claimed is not None and claimed["run_id"] == finished["run_id"]

    assert await storage.run_suspend_running() == [a["run_id"], finished["run_id"]]
    for run_id in (a["run_id"], finished["run_id"], queued["run_id"]):
        run = await storage.run_get(S, run_id)
        assert run is not None and (run["status"], run["attempt"]) == ("pending", 1)
    assert (await storage.run_get(S, b["run_id"]))["status"] == "success"
    assert await storage.run_suspend_running() == []
    # The next start runs them again, in their original order.
    claimed = await storage.run_claim(one)
    assert claimed is not None and claimed["run_id"] == a["run_id"]


async def test_concurrent_rejecting_creates_let_exactly_one_through(
    storage: Storage, backend: Persistence | None
) -> None:
    existing = (await make_thread(storage))["thread_id"]
    fresh = new_id()
    for thread_id, create_thread, lock in (
        (existing, None, THREAD_ROW_LOCK),
        (fresh, {}, NEW_THREAD_LOCK),
    ):
        create = partial(
            make_run, storage, thread_id, create_thread=create_thread, reject_if_inflight=True
        )
        outcomes = await race(backend, lock, (thread_id,), [create] * 20, return_exceptions=True)
        created = [o for o in outcomes if not isinstance(o, BaseException)]
        refused = [o for o in outcomes if isinstance(o, BaseException)]
        assert len(created) == 1, outcomes
        assert all(isinstance(o, ThreadBusy) for o in refused), refused
        assert created[0][1] == []
        runs = await storage.run_search(S, thread_id, limit=100)
        assert [r["run_id"] for r in runs] == [created[0][0]["run_id"]]


async def test_concurrent_creates_queue_in_a_consistent_order(
    storage: Storage, backend: Persistence | None
) -> None:
    thread_id = (await make_thread(storage))["thread_id"]
    create = partial(make_run, storage, thread_id)
    outcomes = await race(backend, THREAD_ROW_LOCK, (thread_id,), [create] * 20)
    # Each run saw exactly the runs queued before it, so the creation order is one line.
    ordered = sorted(outcomes, key=lambda o: (o[0]["created_at"], o[0]["run_id"]))
    ids = [run["run_id"] for run, _ in ordered]
    assert [others for _, others in ordered] == [ids[:i] for i in range(len(ids))]
    assert len(set(ids)) == 20


async def test_concurrent_claims_start_one_run(
    storage: Storage, backend: Persistence | None
) -> None:
    thread_id = (await make_thread(storage))["thread_id"]
    for _ in range(3):
        await make_run(storage, thread_id)
    claim = partial(storage.run_claim, thread_id)
    claims = await race(backend, THREAD_ROW_LOCK, (thread_id,), [claim] * 10)
    assert len([c for c in claims if c is not None]) == 1
    assert len(await storage.run_inflight(S, thread_id=thread_id, statuses=["running"])) == 1


async def test_fenced_writes_land_only_for_the_worker_and_attempt_holding_the_run(
    storage: Storage,
) -> None:
    thread_id = (await make_thread(storage))["thread_id"]
    run, _ = await make_run(storage, thread_id)
    worker = new_id()
    claimed = await storage.run_claim(thread_id, worker_id=worker)
    assert claimed is not None
    mine = RunFence(run["run_id"], worker, claimed["attempt"])
    stale = RunFence(run["run_id"], worker, claimed["attempt"] - 1)
    other = RunFence(run["run_id"], new_id(), claimed["attempt"])
    for fence in (stale, other):
        assert await storage.run_set_status(run["run_id"], "success", fence=fence) is None
        with pytest.raises(LeaseLost):
            await storage.thread_set_state(S, thread_id, status="idle", fence=fence)
    assert (await storage.thread_get(S, thread_id))["status"] == "busy"
    await storage.thread_set_state(S, thread_id, status="idle", fence=mine)
    done = await storage.run_set_status(run["run_id"], "success", fence=mine)
    assert done is not None and done["status"] == "success"
    # Once the run has ended, even its own fence holds no more.
    with pytest.raises(LeaseLost):
        await storage.thread_set_state(S, thread_id, status="idle", fence=mine)

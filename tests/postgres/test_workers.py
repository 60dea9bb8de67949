"""Worker leases on Postgres: recovery re-queues the runs of dead workers only (expired
lease, named dead, or no worker at all), each once even when two processes recover at
the same moment, and announces the threads it re-queued; a lease that expired without
anyone taking its runs (a database outage) is simply renewed."""

from __future__ import annotations

import asyncio

import pytest

from robyn_server.storage.persistence import Persistence
from robyn_server.storage.postgres.listener import PgSignals
from robyn_server.storage.signals import RUNS_CHANNEL
from robyn_server.storage.types import ANONYMOUS
from tests.support.contract import make_run, make_thread, new_id

pytestmark = pytest.mark.postgres


async def _running_run(storage, worker: str | None) -> tuple[str, str]:
    thread_id = (await make_thread(storage))["thread_id"]
    run, _ = await make_run(storage, thread_id)
    assert await storage.run_claim(thread_id, worker_id=worker) is not None
    return thread_id, run["run_id"]


async def test_recovery_takes_only_the_runs_of_dead_workers(pg_persistence: Persistence) -> None:
    storage = pg_persistence.storage
    live, expired, named = new_id(), new_id(), new_id()
    await storage.worker_register(live, lease_seconds=60, host="h", pid=1)
    await storage.worker_register(expired, lease_seconds=60, host="h", pid=2)
    await storage.worker_register(named, lease_seconds=60, host="h", pid=3)
    _, live_run = await _running_run(storage, live)
    expired_thread, expired_run = await _running_run(storage, expired)
    _, named_run = await _running_run(storage, named)
    _, orphan_run = await _running_run(storage, None)
    # Let `expired`'s lease run out.
    async with storage._pool.connection() as conn:
        await conn.execute(
            "UPDATE langgraph_server.workers SET expires_at = now() - interval '1 second' "
            "WHERE worker_id = %s",
            (expired,),
        )
    assert await storage.worker_heartbeat(live, lease_seconds=60)

    pool = pg_persistence.pool
    assert pool is not None
    signals = PgSignals(pool)
    woken: asyncio.Queue[str] = asyncio.Queue()
    signals.subscribe(RUNS_CHANNEL, woken.put_nowait)
    await signals.start()
    try:
        first, second = await asyncio.gather(
            storage.run_recover(max_attempts=3, dead_workers=[named], all_pending=False),
            storage.run_recover(max_attempts=3, dead_workers=[named], all_pending=False),
        )
        requeued = first["requeued"] + second["requeued"]
        # Each once (other tests' runs in this shared database may be recovered too).
        assert len(requeued) == len(set(requeued))
        assert {expired_run, named_run, orphan_run} <= set(requeued)
        assert live_run not in requeued
        assert await asyncio.wait_for(woken.get(), 5) is not None
    finally:
        await signals.stop()
    live_row = await storage.run_get(ANONYMOUS, live_run)
    assert live_row["status"] == "running" and live_row["attempt"] == 1
    again = await storage.run_get(ANONYMOUS, expired_run)
    assert (again["status"], again["attempt"]) == ("pending", 2)
    # Recovery took `expired`'s runs: its heartbeat now says so.
    assert not await storage.worker_heartbeat(expired, lease_seconds=60)
    alive = {w["worker_id"]: w["alive"] for w in await storage.worker_list()}
    assert alive.get(live) is True and expired not in alive and named not in alive
    assert expired_thread in await storage.run_due_threads()


async def test_a_lease_that_expired_unnoticed_is_renewed(pg_persistence: Persistence) -> None:
    storage = pg_persistence.storage
    worker = new_id()
    await storage.worker_register(worker, lease_seconds=60, host="h", pid=1)
    _, run_id = await _running_run(storage, worker)
    async with storage._pool.connection() as conn:
        await conn.execute(
            "UPDATE langgraph_server.workers SET expires_at = now() - interval '1 second' "
            "WHERE worker_id = %s",
            (worker,),
        )
    assert await storage.worker_heartbeat(worker, lease_seconds=60)
    await storage.run_recover(max_attempts=3, all_pending=False)
    run = await storage.run_get(ANONYMOUS, run_id)
    assert (run["status"], run["attempt"]) == ("running", 1)

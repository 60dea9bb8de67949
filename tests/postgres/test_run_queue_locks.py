"""The run queue on Postgres: its queries use the inflight index, and callers that queue
behind a thread's row lock still start or admit exactly one run. Each race is proven:
the test holds the lock until it has seen every caller waiting for it."""

from __future__ import annotations

from functools import partial

import psycopg
import pytest

from robyn_server.storage.persistence import Persistence
from robyn_server.storage.postgres.runs import CLAIM_SQL
from robyn_server.storage.types import ANONYMOUS, ThreadBusy
from tests.support.contract import make_run, make_thread, new_id
from tests.support.races import THREAD_ROW_LOCK, queued_behind

pytestmark = pytest.mark.postgres

S = ANONYMOUS
# As many callers as the session's pool has connections, so all of them can be waiting.
CALLERS = 8


def test_queue_queries_use_the_inflight_index(
    pg_persistence: Persistence, postgres_url: str
) -> None:
    thread_id = new_id()
    with psycopg.connect(postgres_url) as conn, conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL enable_seqscan = off")
        conn.execute("SET LOCAL enable_bitmapscan = off")
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                "EXPLAIN " + CLAIM_SQL, {"thread_id": thread_id, "worker": None}
            ).fetchall()
        )
    assert "runs_inflight_idx" in plan, plan


async def test_rejecting_creates_queued_behind_a_lock_let_one_through(
    pg_persistence: Persistence, postgres_url: str
) -> None:
    """Every create reaches the database before any can finish, so a busy check made
    before the lock is held would let them all through."""
    storage = pg_persistence.storage
    assert pg_persistence.pool is not None and pg_persistence.pool.max_size == CALLERS
    thread_id = (await make_thread(storage))["thread_id"]
    create = partial(make_run, storage, thread_id, reject_if_inflight=True)
    outcomes = await queued_behind(
        postgres_url,
        THREAD_ROW_LOCK,
        (thread_id,),
        [create] * CALLERS,
        waiters=CALLERS,
        return_exceptions=True,
    )
    assert len([o for o in outcomes if not isinstance(o, BaseException)]) == 1, outcomes
    assert all(isinstance(o, ThreadBusy) for o in outcomes if isinstance(o, BaseException))
    assert len(await storage.run_search(S, thread_id)) == 1


async def test_claims_queued_behind_a_lock_start_one_run(
    pg_persistence: Persistence, postgres_url: str
) -> None:
    storage = pg_persistence.storage
    assert pg_persistence.pool is not None and pg_persistence.pool.max_size == CALLERS
    thread_id = (await make_thread(storage))["thread_id"]
    for _ in range(3):
        await make_run(storage, thread_id)
    claim = partial(storage.run_claim, thread_id)
    claims = await queued_behind(
        postgres_url, THREAD_ROW_LOCK, (thread_id,), [claim] * CALLERS, waiters=CALLERS
    )
    assert len([c for c in claims if c is not None]) == 1, claims
    assert len(await storage.run_inflight(S, thread_id=thread_id, statuses=["running"])) == 1

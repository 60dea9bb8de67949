"""Run queries of `PostgresStorage` (mixed into it in postgres/storage.py).

`run_create` and `run_claim` must lock the thread row *before* they look at its runs:
under READ COMMITTED a statement reads the runs as of its own start, so a check made
in the statement that waited for the lock would miss the run its competitor just
committed. Each therefore runs as a short transaction of separate statements, sent as
one pipeline (BEGIN ... COMMIT and a single Sync), which costs one network round trip.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.errors import UniqueViolation
from psycopg.pq import TransactionStatus

from robyn_server.storage.postgres.crons import CLAIM_TICK_SQL, claim_params
from robyn_server.storage.postgres.sql import PostgresBase, Where, jsonb, runs_where, uuid_list
from robyn_server.storage.types import (
    ANONYMOUS,
    INFLIGHT_STATUSES,
    RUN_STATUSES,
    CronTick,
    CronTickTaken,
    RunFence,
    Scope,
    StorageConflict,
    ThreadBusy,
    canonical_uuid,
    check_paging,
    require_uuid,
)


def _columns(alias: str) -> str:
    p = f"{alias}." if alias else ""
    return (
        f"{p}run_id::text AS run_id, {p}thread_id::text AS thread_id, "
        f"{p}assistant_id::text AS assistant_id, {p}metadata, {p}status, {p}kwargs, "
        f"{p}multitask_strategy, {p}created_at, {p}updated_at, {p}attempt"
    )


COLUMNS = _columns("")

ADVANCE_RUN_UPDATED_AT = "updated_at = greatest(now(), updated_at + interval '1 microsecond')"

CREATE_THREAD_SQL = """
INSERT INTO langgraph_server.threads (thread_id, owner, metadata) VALUES (%s, %s, %s)
ON CONFLICT (thread_id) DO NOTHING
"""

# NO KEY UPDATE, not UPDATE: it still queues run_create and run_claim of one thread
# behind each other, but leaves the key-share lock of the runs' foreign key free.
LOCK_THREAD_SQL = "SELECT 1 FROM langgraph_server.threads WHERE {where} FOR NO KEY UPDATE"

# Runs after LOCK_THREAD_SQL, so its snapshot holds every run committed before the lock
# was granted. The run's created_at is read from the clock after the lock, not at
# transaction start, so runs of one thread are stamped in the order they were queued.
# `{where}` selects the visible thread; parameters follow it in the order below.
CREATE_RUN_SQL = (
    """
WITH thread AS (
    SELECT thread_id, owner FROM langgraph_server.threads WHERE {where}
), inflight AS (
    SELECT r.run_id, r.created_at
    FROM langgraph_server.runs r JOIN thread ON r.thread_id = thread.thread_id
    WHERE r.status IN ('pending', 'running')
), clock AS MATERIALIZED (
    SELECT clock_timestamp() AS ts
), created AS (
    INSERT INTO langgraph_server.runs
        (run_id, thread_id, owner, assistant_id, metadata, kwargs, multitask_strategy,
         created_at, updated_at, holder)
    SELECT %s, thread.thread_id, thread.owner, %s, %s, %s, %s,
           coalesce(%s::timestamptz, clock.ts), clock.ts, %s::uuid
    FROM thread, clock
    WHERE NOT (%s::boolean AND EXISTS (SELECT 1 FROM inflight))
    RETURNING *
), busy AS (
    UPDATE langgraph_server.threads t
    SET status = 'busy',
        metadata = t.metadata || %s::jsonb,
        config = coalesce(%s::jsonb, t.config),
        updated_at = greatest(now(), t.updated_at + interval '1 microsecond')
    FROM created
    WHERE t.thread_id = created.thread_id
)
SELECT """
    + _columns("created")
    + """,
    ARRAY(SELECT run_id::text FROM inflight ORDER BY created_at, run_id) AS others
FROM created
"""
)

SELECT_SQL = "SELECT " + COLUMNS + " FROM langgraph_server.runs WHERE {where}"

SEARCH_SQL = (
    "SELECT "
    + COLUMNS
    + """ FROM langgraph_server.runs WHERE {where}
ORDER BY created_at DESC, run_id DESC LIMIT %s OFFSET %s"""
)

INFLIGHT_SQL = (
    "SELECT " + COLUMNS + " FROM langgraph_server.runs WHERE {where} ORDER BY created_at, run_id"
)

DELETE_SQL = "DELETE FROM langgraph_server.runs WHERE {where} RETURNING run_id"

# Runs after LOCK_THREAD_SQL; see CREATE_RUN_SQL for why that is a separate statement.
CLAIM_SQL = (
    """
WITH claimed AS (
UPDATE langgraph_server.runs
SET status = 'running', worker_id = %(worker)s, """
    + ADVANCE_RUN_UPDATED_AT
    + """
WHERE run_id = (
    SELECT run_id FROM langgraph_server.runs
    WHERE thread_id = %(thread_id)s AND status = 'pending'
      AND created_at <= statement_timestamp()
    ORDER BY created_at, run_id
    LIMIT 1
) AND NOT EXISTS (
    SELECT 1 FROM langgraph_server.runs
    WHERE thread_id = %(thread_id)s AND status = 'running'
) AND (
    -- A run whose secrets a live worker holds in memory is that worker's to start.
    holder IS NULL OR holder = %(worker)s OR NOT EXISTS (
        SELECT 1 FROM langgraph_server.workers w
        WHERE w.worker_id = runs.holder AND w.expires_at > now()
    )
)
RETURNING """
    + COLUMNS
    + """
), busy AS (
    UPDATE langgraph_server.threads SET status = 'busy', """
    + ADVANCE_RUN_UPDATED_AT
    + """
    WHERE thread_id IN (SELECT thread_id::uuid FROM claimed) AND status <> 'busy'
)
SELECT * FROM claimed"""
)

NEXT_DUE_SQL = """
SELECT min(created_at) AS due FROM langgraph_server.runs
WHERE thread_id = %s AND status = 'pending'
"""

SET_STATUS_SQL = (
    "UPDATE langgraph_server.runs SET status = %s, "
    + ADVANCE_RUN_UPDATED_AT
    + " WHERE {where} RETURNING "
    + COLUMNS
)


class RunQueries(PostgresBase):
    @asynccontextmanager
    async def _pipelined_transaction(self) -> AsyncIterator[AsyncConnection[Any]]:
        """A transaction whose statements, queued in the block, are sent together with
        BEGIN and COMMIT as one pipeline. Their cursors are readable after the block;
        an error in any statement rolls all of them back and is raised on exit."""
        async with self._pool.connection() as conn:
            try:
                async with conn.pipeline():
                    await conn.execute("BEGIN", prepare=False)
                    yield conn
                    await conn.execute("COMMIT", prepare=False)
            except BaseException:
                # A failed statement leaves the transaction open (COMMIT was skipped).
                # If even the rollback fails, the pool discards the connection.
                if conn.pgconn.transaction_status != TransactionStatus.IDLE:
                    with suppress(psycopg.Error):
                        await conn.rollback()
                raise

    async def run_create(
        self,
        scope: Scope,
        *,
        run_id: str,
        thread_id: str,
        assistant_id: str,
        metadata: dict[str, Any],
        kwargs: dict[str, Any],
        multitask_strategy: str,
        created_at: datetime | None = None,
        create_thread: dict[str, Any] | None = None,
        thread_metadata: dict[str, Any] | None = None,
        thread_config: dict[str, Any] | None = None,
        reject_if_inflight: bool = False,
        cron_tick: CronTick | None = None,
        holder: str | None = None,
    ) -> tuple[dict[str, Any], list[str]] | None:
        run_key = require_uuid(run_id, "run_id")
        assistant_key = require_uuid(assistant_id, "assistant_id")
        thread_key = canonical_uuid(thread_id)
        if thread_key is None:
            if create_thread is not None:
                raise ValueError(f"thread_id must be a UUID, got {thread_id!r}")
            return None
        thread = Where(scope).add("thread_id = %s", thread_key)
        params = [
            *thread.params,
            run_key,
            assistant_key,
            jsonb(metadata),
            jsonb(kwargs),
            multitask_strategy,
            created_at,
            holder,
            reject_if_inflight,
            jsonb(thread_metadata or {}),
            None if thread_config is None else jsonb(thread_config),
        ]
        try:
            async with self._pipelined_transaction() as conn:
                # The pool may commit asynchronously; an acknowledged run must survive
                # a database crash, so this one commit waits for its WAL flush.
                await conn.execute("SET LOCAL synchronous_commit = on", prepare=False)
                if cron_tick is not None:
                    await self._claim_tick(conn, cron_tick, thread, create_thread is None)
                if create_thread is not None:
                    await conn.execute(
                        CREATE_THREAD_SQL, (thread_key, scope.owner, jsonb(create_thread))
                    )
                locked = await conn.execute(thread.render(LOCK_THREAD_SQL), thread.params)
                created = await conn.execute(thread.render(CREATE_RUN_SQL), params)
                # A tick is claimed only with its run: a cron run is read before the
                # COMMIT (raising here rolls the claim back); others after it, which
                # keeps them to one round trip.
                row = await _created_run(locked, created, thread_key) if cron_tick else None
            if row is None:
                row = await _created_run(locked, created, thread_key)
        except UniqueViolation:
            raise StorageConflict(f"run {run_key} already exists") from None
        except _NoThread:
            return None
        others = row.pop("others")
        return row, others

    @staticmethod
    async def _claim_tick(
        conn: AsyncConnection[Any], tick: CronTick, thread: Where, existing_thread: bool
    ) -> None:
        """Claim a cron's tick inside run_create's transaction, or raise CronTickTaken
        (which rolls it back). Waiting for the answer costs a round trip, for cron runs
        only. Locks are taken in the order thread deletion takes them (thread, then its
        crons), so the two cannot deadlock."""
        if existing_thread:
            await conn.execute(thread.render(LOCK_THREAD_SQL), thread.params)
        claimed = await conn.execute(CLAIM_TICK_SQL, claim_params(tick))
        if await claimed.fetchone() is None:
            raise CronTickTaken(f"cron {tick.cron_id}: tick {tick.due.isoformat()} is taken")

    async def run_get(
        self, scope: Scope, run_id: str, *, thread_id: str | None = None
    ) -> dict[str, Any] | None:
        where = _by_id(scope, run_id, thread_id)
        if where is None:
            return None
        return await self._one(where.render(SELECT_SQL), where.params)

    async def run_search(
        self,
        scope: Scope,
        thread_id: str,
        *,
        status: str | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        check_paging(limit, offset)
        thread_key = canonical_uuid(thread_id)
        if thread_key is None:
            return []
        where = runs_where(scope).add("thread_id = %s", thread_key)
        if status is not None:
            where.add("status = %s", status)
        return await self._all(where.render(SEARCH_SQL), [*where.params, limit, offset])

    async def run_delete(self, scope: Scope, run_id: str, *, thread_id: str) -> bool:
        where = _by_id(scope, run_id, thread_id)
        if where is None:
            return False
        return await self._one(where.render(DELETE_SQL), where.params) is not None

    async def run_inflight(
        self,
        scope: Scope,
        *,
        thread_id: str | None = None,
        run_ids: Sequence[str] | None = None,
        statuses: Sequence[str] = INFLIGHT_STATUSES,
    ) -> list[dict[str, Any]]:
        wanted = list(statuses)
        if not set(wanted) <= set(INFLIGHT_STATUSES):
            raise ValueError(f"statuses must be among {INFLIGHT_STATUSES}, got {wanted!r}")
        # Spelled as in runs_inflight_idx's predicate, so the planner can use it.
        where = runs_where(scope).add("status IN ('pending', 'running')")
        where.add("status = ANY(%s::text[])", wanted)
        if thread_id is not None:
            thread_key = canonical_uuid(thread_id)
            if thread_key is None:
                return []
            where.add("thread_id = %s", thread_key)
        if run_ids is not None:
            where.add("run_id = ANY(%s::uuid[])", uuid_list(run_ids))
        return await self._all(where.render(INFLIGHT_SQL), where.params)

    async def run_claim(
        self, thread_id: str, *, worker_id: str | None = None
    ) -> dict[str, Any] | None:
        thread_key = canonical_uuid(thread_id)
        if thread_key is None:
            return None
        thread = Where(ANONYMOUS).add("thread_id = %s", thread_key)
        async with self._pipelined_transaction() as conn:
            await conn.execute(thread.render(LOCK_THREAD_SQL), thread.params)
            params = {"thread_id": thread_key, "worker": worker_id}
            claimed = await conn.execute(CLAIM_SQL, params)
        return await claimed.fetchone()

    async def run_next_due(self, thread_id: str) -> datetime | None:
        thread_key = canonical_uuid(thread_id)
        if thread_key is None:
            return None
        row = await self._one(NEXT_DUE_SQL, (thread_key,))
        return row["due"]

    async def run_set_status(
        self,
        run_id: str,
        status: str,
        *,
        only_if: Sequence[str] | None = None,
        fence: RunFence | None = None,
    ) -> dict[str, Any] | None:
        if status not in RUN_STATUSES:
            raise ValueError(f"status must be one of {', '.join(RUN_STATUSES)}, got {status!r}")
        where = _by_id(ANONYMOUS, run_id)
        if where is None:
            return None
        if only_if is not None:
            where.add("status = ANY(%s::text[])", list(only_if))
        if fence is not None:
            where.add("worker_id = %s AND attempt = %s", fence.worker_id, fence.attempt)
        return await self._one(where.render(SET_STATUS_SQL), [status, *where.params])


class _NoThread(Exception):
    """run_create found no visible thread to put the run in."""


async def _created_run(locked: Any, created: Any, thread_key: str) -> dict[str, Any]:
    """The row run_create inserted, from the cursors of its thread lock and insert."""
    if await locked.fetchone() is None:
        raise _NoThread(thread_key)
    row = await created.fetchone()
    if row is None:
        raise ThreadBusy(f"thread {thread_key} has a pending or running run")
    return row


def _by_id(scope: Scope, run_id: str, thread_id: str | None = None) -> Where | None:
    """The run, in `thread_id` when given; None when an id is malformed (no such run)."""
    run_key = canonical_uuid(run_id)
    if run_key is None:
        return None
    where = runs_where(scope).add("run_id = %s", run_key)
    if thread_id is not None:
        thread_key = canonical_uuid(thread_id)
        if thread_key is None:
            return None
        where.add("thread_id = %s", thread_key)
    return where

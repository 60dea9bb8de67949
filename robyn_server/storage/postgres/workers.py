"""Worker leases and the recovery of orphaned runs (mixed into `PostgresStorage`).

A worker is one server process (migration 0006). Its lease is renewed by its heartbeat;
a running run whose worker's lease expired, or that names no worker, is an orphan.
Recovery and shutdown announce the threads they leave with pending runs on
`RUNS_CHANNEL` from the statement itself, so the wake-up leaves only if it commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from robyn_server.storage.postgres.sql import PostgresBase, uuid_list
from robyn_server.storage.signals import RUNS_CHANNEL

ADVANCE = "updated_at = greatest(now(), updated_at + interval '1 microsecond')"

REGISTER_SQL = """
INSERT INTO langgraph_server.workers (worker_id, host, pid, expires_at)
VALUES (%s, %s, %s, now() + make_interval(secs => %s))
ON CONFLICT (worker_id) DO UPDATE SET expires_at = excluded.expires_at
"""

# Renews even an expired lease while the row is there: only recovery deletes it, in the
# statement that re-queues the worker's runs, so a row still there means no run of the
# worker was taken (after a database outage that outlived the lease, say).
HEARTBEAT_SQL = """
UPDATE langgraph_server.workers SET expires_at = now() + make_interval(secs => %s)
WHERE worker_id = %s
RETURNING 1 AS renewed
"""

RETIRE_SQL = "DELETE FROM langgraph_server.workers WHERE worker_id = %s"

LIST_SQL = """
SELECT worker_id::text AS worker_id, host, pid, expires_at > now() AS alive
FROM langgraph_server.workers
"""

# Dead workers' rows go, and their running runs (and those naming no worker, or one with
# no row) are orphans. Orphans follow the rows this statement actually deleted, not its
# snapshot: a worker renewing its lease at this very moment keeps its row (the DELETE
# re-checks it) and therefore its runs. Orphans are locked SKIP LOCKED, so processes
# recovering at the same moment share them out instead of re-queuing one run twice;
# `threads` then lists every thread with pending runs (requeued here, or queued
# before), oldest first.
RECOVER_SQL = (
    """
WITH dead AS (
    DELETE FROM langgraph_server.workers
    WHERE expires_at <= now() OR worker_id = ANY(%(dead)s::uuid[])
    RETURNING worker_id
), orphans AS (
    SELECT r.run_id FROM langgraph_server.runs r
    WHERE r.status = 'running' AND (
        r.worker_id IS NULL
        OR r.worker_id IN (SELECT worker_id FROM dead)
        OR NOT EXISTS (
            SELECT 1 FROM langgraph_server.workers w WHERE w.worker_id = r.worker_id
        )
    )
    FOR UPDATE OF r SKIP LOCKED
), recovered AS (
    UPDATE langgraph_server.runs r
    SET status = CASE WHEN attempt >= %(max_attempts)s THEN 'error' ELSE 'pending' END,
        attempt = CASE WHEN attempt >= %(max_attempts)s THEN attempt ELSE attempt + 1 END,
        worker_id = NULL, """
    + ADVANCE
    + """
    FROM orphans WHERE r.run_id = orphans.run_id
    RETURNING r.run_id, r.thread_id, r.status, r.created_at
), pending AS (
    SELECT thread_id, created_at FROM recovered WHERE status = 'pending'
    UNION ALL
    SELECT thread_id, created_at FROM langgraph_server.runs
    WHERE status = 'pending' AND %(all_pending)s
), woken AS (
    SELECT pg_notify(%(channel)s, thread_id::text)
    FROM (SELECT DISTINCT thread_id FROM recovered WHERE status = 'pending') AS t
)
SELECT status AS kind, run_id::text AS id
FROM (SELECT * FROM recovered ORDER BY created_at, run_id) AS ordered
UNION ALL
SELECT 'thread', thread_id::text
FROM (
    SELECT thread_id FROM pending GROUP BY thread_id ORDER BY min(created_at), thread_id
) AS threads
UNION ALL
SELECT 'woken', count(*)::text FROM woken
UNION ALL
SELECT 'dead', count(*)::text FROM dead
"""
)

SUSPEND_SQL = (
    """
WITH suspended AS (
    UPDATE langgraph_server.runs SET status = 'pending', worker_id = NULL, """
    + ADVANCE
    + """
    WHERE status = 'running' AND (worker_id = %(worker)s OR %(worker)s IS NULL)
    RETURNING run_id, thread_id, created_at
), woken AS (
    SELECT pg_notify(%(channel)s, thread_id::text)
    FROM (SELECT DISTINCT thread_id FROM suspended) AS t
)
SELECT run_id::text AS run_id, (SELECT count(*) FROM woken) AS woken
FROM suspended ORDER BY created_at, run_id
"""
)

# The safety sweep: threads with a due pending run and none running, whose wake-up was
# lost (a listener reconnecting, a creator that died before starting its run).
DUE_THREADS_SQL = """
SELECT DISTINCT p.thread_id::text AS thread_id
FROM langgraph_server.runs p
WHERE p.status = 'pending' AND p.created_at <= now()
  AND NOT EXISTS (
    SELECT 1 FROM langgraph_server.runs r
    WHERE r.thread_id = p.thread_id AND r.status = 'running'
  )
LIMIT %s
"""


class WorkerQueries(PostgresBase):
    async def worker_register(
        self, worker_id: str, *, lease_seconds: float, host: str, pid: int
    ) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(REGISTER_SQL, (worker_id, host, pid, lease_seconds))

    async def worker_heartbeat(self, worker_id: str, *, lease_seconds: float) -> bool:
        return await self._one(HEARTBEAT_SQL, (lease_seconds, worker_id)) is not None

    async def worker_retire(self, worker_id: str) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(RETIRE_SQL, (worker_id,))

    async def worker_list(self) -> list[dict[str, Any]]:
        return await self._all(LIST_SQL, ())

    async def run_recover(
        self, *, max_attempts: int, dead_workers: Sequence[str] = (), all_pending: bool = True
    ) -> dict[str, list[str]]:
        params = {
            "max_attempts": max_attempts,
            "dead": uuid_list(dead_workers),
            "all_pending": all_pending,
            "channel": RUNS_CHANNEL,
        }
        rows = await self._all(RECOVER_SQL, params)
        result: dict[str, list[str]] = {"requeued": [], "failed": [], "threads": []}
        kinds = {"pending": "requeued", "error": "failed", "thread": "threads"}
        for row in rows:
            if row["kind"] in kinds:
                result[kinds[row["kind"]]].append(row["id"])
        return result

    async def run_suspend_running(self, *, worker_id: str | None = None) -> list[str]:
        rows = await self._all(SUSPEND_SQL, {"worker": worker_id, "channel": RUNS_CHANNEL})
        return [row["run_id"] for row in rows]

    async def run_due_threads(self, limit: int = 1000) -> list[str]:
        return [row["thread_id"] for row in await self._all(DUE_THREADS_SQL, (limit,))]

"""Races that provably happened.

A test that says "these callers race for one row and exactly one wins" passes just as
well when the callers happen to run one after another, and then it proves nothing. So
every race here shows that its callers overlapped, and fails the test when they did not:

- In process (the in-memory backend), each call is held at a start line until every one
  of them has started, so all of them are in flight at once before any may finish.
- On Postgres, a transaction of the test's own holds the contested lock while the calls
  queue behind it, and the lock is let go only once the test has *seen* the calls'
  sessions waiting for a lock in pg_stat_activity.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg

from robyn_server.storage.persistence import Persistence

# How long the calls may take to reach the lock; they arrive within milliseconds, but
# the pool opens connections one by one, and the machine may be busy.
QUEUE_WITHIN = 15.0

# Row locks a transaction of the test takes, so that the storage calls queue behind it.
THREAD_ROW_LOCK = "SELECT 1 FROM langgraph_server.threads WHERE thread_id = %s FOR UPDATE"
ASSISTANT_ROW_LOCK = "SELECT 1 FROM langgraph_server.assistants WHERE assistant_id = %s FOR UPDATE"
# A thread that does not exist yet: an uncommitted insert of the same key makes every
# other insert of it wait for this transaction, which then rolls back.
NEW_THREAD_LOCK = "INSERT INTO langgraph_server.threads (thread_id) VALUES (%s)"

LOCK_WAITERS_SQL = (
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


class StartLine:
    """Holds each racer until all of them have started; counts the racers in flight."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.started = 0
        self.in_flight = 0
        self.peak = 0
        self._go = asyncio.Event()

    async def run(self, call: Callable[[], Awaitable[Any]]) -> Any:
        self.started += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        if self.started == self.count:
            self._go.set()
        try:
            await self._go.wait()
            return await call()
        finally:
            self.in_flight -= 1


async def all_at_once(
    calls: Sequence[Callable[[], Awaitable[Any]]], *, return_exceptions: bool = False
) -> list[Any]:
    """Run `calls` concurrently, none before all have started; their results in order.
    Fails the test unless every call was in flight at the same moment."""
    line = StartLine(len(calls))
    results = await asyncio.gather(
        *(line.run(call) for call in calls), return_exceptions=return_exceptions
    )
    assert line.peak == len(calls) >= 2, (
        f"only {line.peak} of {len(calls)} calls were ever in flight together: no race"
    )
    return results


async def most_seen(url: str, query: str, params: Sequence[Any], wanted: int) -> int:
    """Run the counting `query` on `url`'s database until it counts `wanted` or
    QUEUE_WITHIN seconds pass; the highest count seen. One connection does all the
    polling, so no earlier poll's session lingers to be counted."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + QUEUE_WITHIN
        seen = 0
        while True:
            cur = await conn.execute(query, params)
            row = await cur.fetchone()
            seen = max(seen, row[0] if row else 0)
            if seen >= wanted or loop.time() > deadline:
                return seen
            await asyncio.sleep(0.02)


@asynccontextmanager
async def holding(url: str, lock_sql: str, params: Sequence[Any]) -> AsyncIterator[None]:
    """A transaction of the test's own that holds the lock `lock_sql` takes, until the
    block ends (then it rolls back)."""
    conn = await psycopg.AsyncConnection.connect(url)
    try:
        await conn.execute(lock_sql, params)
        yield
    finally:
        await conn.rollback()
        await conn.close()


async def queued_behind(
    url: str,
    lock_sql: str,
    params: Sequence[Any],
    calls: Sequence[Callable[[], Awaitable[Any]]],
    *,
    waiters: int,
    return_exceptions: bool = False,
) -> list[Any]:
    """Run `calls` at once while the test holds the lock `lock_sql` takes on `url`'s
    database; let go only once `waiters` sessions were seen waiting for a lock (or the
    time is up). Their results, in order. Fails the test if fewer were ever seen waiting:
    then the calls did not contend for the lock, and their outcome proves nothing."""
    async with holding(url, lock_sql, params):
        pending = asyncio.ensure_future(all_at_once(calls, return_exceptions=return_exceptions))
        seen = await most_seen(url, LOCK_WAITERS_SQL, (), waiters)
    results = await pending
    assert seen >= waiters, (
        f"only {seen} of {waiters} sessions were ever seen waiting for the lock: no race"
    )
    return results


async def race(
    backend: Persistence | None,
    lock_sql: str,
    params: Sequence[Any],
    calls: Sequence[Callable[[], Awaitable[Any]]],
    *,
    return_exceptions: bool = False,
) -> list[Any]:
    """Run storage `calls` as a race that provably happened, on the contract suite's
    `backend` (None: in memory, where the start line is the proof). On Postgres, as many
    calls as the pool has connections must be seen queued behind `lock_sql`."""
    if backend is None:
        return await all_at_once(calls, return_exceptions=return_exceptions)
    assert backend.pool is not None
    return await queued_behind(
        backend.pool.conninfo,
        lock_sql,
        params,
        calls,
        waiters=min(len(calls), backend.pool.max_size),
        return_exceptions=return_exceptions,
    )


# -- the migration lock -------------------------------------------------------------------

# The migration lock is taken by polling pg_try_advisory_lock (see storage/postgres/
# migrate.py), so its waiters never show as waiting for a lock: they show as sessions
# whose last statement was that poll, while the test holds the lock.
POLLERS_SQL = (
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE %s"
)
POLL_QUERY = "%pg_try_advisory_lock%"


async def queued_behind_advisory_lock(
    url: str, key: int, calls: Sequence[Callable[[], Awaitable[Any]]]
) -> list[Any]:
    """Run `calls` at once while the test holds the session advisory lock `key`; let go
    once every call's session was seen polling for it. Their results, in order. Fails
    the test if not all were ever seen polling."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as holder:
        await holder.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            pending = asyncio.ensure_future(all_at_once(calls))
            seen = await most_seen(url, POLLERS_SQL, (POLL_QUERY,), len(calls))
        finally:
            await holder.execute("SELECT pg_advisory_unlock(%s)", (key,))
    results = await pending
    assert seen >= len(calls), (
        f"only {seen} of {len(calls)} sessions were ever seen polling for the lock: no race"
    )
    return results

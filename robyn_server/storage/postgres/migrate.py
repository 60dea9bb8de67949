"""Schema migrations for `langgraph_server`: numbered SQL files in migrations/, applied
once, in order, under an advisory lock so that servers starting together take turns.

Also revokes public access to LangGraph's own tables (checkpoints, store), which hold
every thread's state and must only be reached through the API.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

logger = logging.getLogger("robyn_server.database")

# Arbitrary but fixed: every server process must contend for the same key.
MIGRATION_LOCK_KEY = 0x6C67_7376_6D69_6772


# Created by LangGraph's setup(); none of them should be readable through a data API.
LANGGRAPH_TABLES = (
    "checkpoints",
    "checkpoint_blobs",
    "checkpoint_writes",
    "checkpoint_migrations",
    "store",
    "store_migrations",
    "store_vectors",
    "vector_migrations",
)


_MIGRATION_FILE = re.compile(r"^(\d+)_[\w.-]+\.sql$")


BOOTSTRAP_SQL = (
    "CREATE SCHEMA IF NOT EXISTS langgraph_server",
    """CREATE TABLE IF NOT EXISTS langgraph_server.schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
    )""",
    "ALTER TABLE langgraph_server.schema_migrations ENABLE ROW LEVEL SECURITY",
)


APPLIED_SQL = "SELECT version FROM langgraph_server.schema_migrations"


RECORD_SQL = "INSERT INTO langgraph_server.schema_migrations (version, name) VALUES (%s, %s)"


def migration_files() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every bundled migration, oldest first."""
    folder = importlib.resources.files("robyn_server.storage.postgres").joinpath("migrations")
    found: dict[int, tuple[int, str, str]] = {}
    for entry in folder.iterdir():
        match = _MIGRATION_FILE.match(entry.name)
        if not match:
            continue
        version = int(match.group(1))
        if version in found:
            raise RuntimeError(f"two migrations share version {version}: {entry.name}")
        found[version] = (version, entry.name, entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


LOCK_POLL_SECONDS = 0.2


LOCK_WAIT_LOG_SECONDS = 10.0


async def _scalar(conn: psycopg.AsyncConnection[Any], query: str, params: Any = None) -> Any:
    # tuple rows whatever the pool's row factory, so callers may pass any pool.
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(query, params)
        row = await cur.fetchone()
    return row[0] if row else None


@asynccontextmanager
async def migration_lock(conn: psycopg.AsyncConnection[Any]) -> AsyncIterator[None]:
    """Hold the session-level advisory lock on `conn` for the duration of the block.

    Waits by polling pg_try_advisory_lock, never inside pg_advisory_lock: a session
    blocked in that call is an open transaction, and the CREATE INDEX CONCURRENTLY in
    LangGraph's setup waits for every open transaction, so two servers booting at once
    would deadlock (the lock holder waiting on the waiter, and vice versa).
    """
    loop = asyncio.get_running_loop()
    started = next_log = loop.time()
    while not await _scalar(conn, "SELECT pg_try_advisory_lock(%s)", (MIGRATION_LOCK_KEY,)):
        if loop.time() - next_log >= LOCK_WAIT_LOG_SECONDS:
            next_log = loop.time()
            logger.info(
                "waiting %.0fs for another server to finish database setup",
                next_log - started,
            )
        await asyncio.sleep(LOCK_POLL_SECONDS)
    try:
        yield
    finally:
        try:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
        except psycopg.Error:
            # A pooled connection must not go back still holding the lock; closing it
            # makes the pool discard it, and ending the session releases the lock.
            with suppress(psycopg.Error):
                await conn.close()


async def apply_migrations(conn: psycopg.AsyncConnection[Any]) -> list[str]:
    """Apply pending migrations on `conn`, which must hold the migration lock."""
    for statement in BOOTSTRAP_SQL:
        await conn.execute(statement)
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(APPLIED_SQL)
        applied = {version for (version,) in await cur.fetchall()}
    done: list[str] = []
    for version, name, text in migration_files():
        if version in applied:
            continue
        async with conn.transaction():
            # prepare=False: a file holds many statements, which only the simple
            # query protocol accepts.
            await conn.execute(text.encode(), prepare=False)
            await conn.execute(RECORD_SQL, (version, name))
        logger.info("applied database migration %s", name)
        done.append(name)
    return done


async def run_migrations(pool: AsyncConnectionPool) -> list[str]:
    """Bring schema `langgraph_server` up to date; returns the files applied this time.

    Each file runs once, in its own transaction, recorded in
    `langgraph_server.schema_migrations`. Safe to call from several processes at once.
    """
    async with pool.connection() as conn, migration_lock(conn):
        return await apply_migrations(conn)


PROTECT_SQL = """
SELECT n.nspname AS schema, c.relname AS name
FROM unnest(%s::text[]) AS t(name)
JOIN pg_class c ON c.oid = to_regclass(t.name)
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT c.relrowsecurity
"""


async def protect_langgraph_tables(conn: psycopg.AsyncConnection[Any]) -> None:
    """Enable RLS (with no policies) on LangGraph's tables, so a PostgREST/Supabase API
    over this database cannot read checkpoints or the store. Only tables that exist
    and are not yet protected are altered: ALTER TABLE takes an exclusive lock."""
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(PROTECT_SQL, (list(LANGGRAPH_TABLES),))
        unprotected = await cur.fetchall()
    for schema, name in unprotected:
        table = sql.Identifier(schema, name)
        await conn.execute(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(table))

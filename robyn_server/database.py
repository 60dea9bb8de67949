"""Choosing and opening persistence: Postgres when a database URL is given, else memory.

In Postgres mode ONE connection pool serves everything: LangGraph's checkpointer and
store, and our `PostgresStorage`. Startup is serialized across server processes by an
advisory lock, so several replicas booting against one database cannot race each other
through LangGraph's setup or our migrations.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import logging
import math
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

import psycopg
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.store.base import BaseStore, TTLConfig
from langgraph.store.postgres.aio import AsyncPostgresStore
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from robyn_server.storage import InMemoryStorage, PostgresStorage, Storage
from robyn_server.store_ttl import TTLInMemoryStore, sweep_minutes, ttl_config, widen_ttl_minutes

logger = logging.getLogger(__name__)

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


class DatabaseUnavailable(Exception):
    """PostgreSQL cannot be reached or refused us. The message names host and port only."""


class PgVectorUnavailable(Exception):
    """A semantic store index was configured but the database lacks pgvector."""


# -- connection target, described without secrets ------------------------------------


def _target(database_url: str) -> tuple[str, str | None]:
    """`host:port` for messages, plus the password so it can be scrubbed from them.

    Raises `DatabaseUnavailable` for a string libpq cannot parse, without quoting the
    parser's complaint: that quotes the offending fragment, which may be the password.
    """
    try:
        params = conninfo_to_dict(database_url)
    except psycopg.Error:
        raise DatabaseUnavailable(
            "the database URL is not a valid PostgreSQL connection string "
            "(expected postgresql://user:password@host:port/dbname)"
        ) from None
    host = params.get("host") or params.get("hostaddr") or "<default host>"
    port = params.get("port") or "5432"
    return f"{host}:{port}", params.get("password")


def _scrub(message: str, password: str | None) -> str:
    if password:
        message = message.replace(password, "***")
    return " ".join(message.split())


async def probe(database_url: str, timeout: float = 5.0) -> None:  # noqa: ASYNC109
    """Open and close one connection, so a bad URL or a down server fails fast and
    clearly instead of as a pool timeout. Raises `DatabaseUnavailable`."""
    where, password = _target(database_url)
    try:
        conn = await asyncio.wait_for(
            psycopg.AsyncConnection.connect(
                database_url, connect_timeout=max(2, math.ceil(timeout))
            ),
            timeout,
        )
    except TimeoutError:
        raise DatabaseUnavailable(
            f"PostgreSQL at {where} did not answer within {timeout:g}s"
        ) from None
    except (psycopg.Error, OSError) as exc:
        # `from None`: the original error may quote the connection string.
        reason = _scrub(str(exc), password) or type(exc).__name__
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL at {where}: {reason}") from None
    await conn.close()


# -- migrations ----------------------------------------------------------------------

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
    folder = importlib.resources.files("robyn_server.storage").joinpath("migrations")
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
async def _migration_lock(conn: psycopg.AsyncConnection[Any]) -> AsyncIterator[None]:
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


async def _apply_migrations(conn: psycopg.AsyncConnection[Any]) -> list[str]:
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
    async with pool.connection() as conn, _migration_lock(conn):
        return await _apply_migrations(conn)


PROTECT_SQL = """
SELECT n.nspname AS schema, c.relname AS name
FROM unnest(%s::text[]) AS t(name)
JOIN pg_class c ON c.oid = to_regclass(t.name)
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT c.relrowsecurity
"""


async def _protect_langgraph_tables(conn: psycopg.AsyncConnection[Any]) -> None:
    """Enable RLS (with no policies) on LangGraph's tables, so a PostgREST/Supabase API
    over this database cannot read checkpoints or the store. Only tables that exist
    and are not yet protected are altered: ALTER TABLE takes an exclusive lock."""
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(PROTECT_SQL, (list(LANGGRAPH_TABLES),))
        unprotected = await cur.fetchall()
    for schema, name in unprotected:
        table = sql.Identifier(schema, name)
        await conn.execute(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(table))


# -- persistence ---------------------------------------------------------------------


@dataclass
class Persistence:
    """Everything the server persists through, opened together and closed together."""

    mode: str  # "postgres" | "in-memory" | "in-memory (fallback)"
    storage: Storage
    checkpointer: BaseCheckpointSaver
    store: BaseStore
    pool: AsyncConnectionPool | None = None
    fallback_reason: str | None = None

    async def close(self) -> None:
        """Stop the store's TTL sweeper, then close the shared pool, if any."""
        # Before the pool: a sweep in flight needs its connection to finish.
        stop = getattr(self.store, "stop_ttl_sweeper", None)
        if stop is not None:
            await stop(timeout=SWEEPER_STOP_SECONDS)
        if self.pool is not None:
            await self.pool.close()


SWEEPER_STOP_SECONDS = 10.0


async def _start_store_sweeper(store: TTLInMemoryStore | AsyncPostgresStore) -> None:
    # Always, not only with a configured store.ttl: per-item TTLs work without it, and
    # expired items, invisible anyway, should not pile up.
    await store.start_ttl_sweeper(sweep_minutes(store.ttl_config))  # type: ignore[arg-type]


async def _in_memory(
    mode: str, store_index: dict[str, Any] | None, ttl: TTLConfig, reason: str | None = None
) -> Persistence:
    store = TTLInMemoryStore(index=store_index, ttl=ttl)  # type: ignore[arg-type]
    await _start_store_sweeper(store)
    return Persistence(
        mode=mode,
        storage=InMemoryStorage(),
        checkpointer=InMemorySaver(),
        store=store,
        fallback_reason=reason,
    )


async def _configure(conn: psycopg.AsyncConnection[Any]) -> None:
    # Timestamps then come back as UTC-aware datetimes, matching base.utcnow().
    await conn.execute("SET TIME ZONE 'UTC'")


PGVECTOR_SQL = "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') AS ok"


async def _require_pgvector(pool: AsyncConnectionPool, where: str) -> None:
    async with pool.connection() as conn:
        cur = await conn.execute(PGVECTOR_SQL)
        row = await cur.fetchone()
    if not row["ok"]:
        raise PgVectorUnavailable(
            f"a semantic store index is configured, but PostgreSQL at {where} does not "
            "have the pgvector extension ('vector') available. Install pgvector on the "
            "database server, or remove the store index configuration."
        )


# After the database goes away, psycopg_pool retries each lost connection with a delay
# that doubles from 1 s until `reconnect_timeout` (default 5 minutes) has passed: after
# a 35 s outage we measured 24 s more of 503s before the pool noticed the database was
# back. Giving up after 10 s instead ends each backoff chain early; the next request
# (or engine retry) that waits for a connection starts a fresh chain, whose first
# attempt is immediate, so the pool is back within a few seconds of the database.
RECONNECT_TIMEOUT_SECONDS = 10.0


async def _open_pool(
    database_url: str,
    min_size: int,
    max_size: int,
    wait_seconds: float,
    checkout_timeout: float,
    synchronous_commit: bool = False,
) -> AsyncConnectionPool:
    kwargs: dict[str, Any] = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    if not synchronous_commit:
        # A commit otherwise waits for its WAL flush (about 4 ms on this class of disk),
        # and a run makes a dozen small writes. Asynchronous commit cannot corrupt
        # anything; a *database* crash may lose the last ~200 ms of status and
        # checkpoint writes, which run recovery repairs. Creating a run opts back in
        # (SET LOCAL), so an acknowledged run is never lost.
        kwargs["options"] = "-c synchronous_commit=off"
    pool = AsyncConnectionPool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        # How long a request waits for a free connection before it gets a 503.
        timeout=checkout_timeout,
        reconnect_timeout=RECONNECT_TIMEOUT_SECONDS,
        # No `check=AsyncConnectionPool.check_connection`: it costs a round trip per
        # checkout, measured at ~170 us here, +24% on a /runs/wait run (15 checkouts,
        # 14.1 -> 17.5 ms) and +19% on GET /threads/{id}. It would only save the one
        # failure each idle connection gives after a database restart: such a failure
        # is a retryable 503 for a request, and the run engine retries its own writes.
        open=False,
        kwargs=kwargs,
        configure=_configure,
        name="langgraph-server",
    )
    try:
        await pool.open(wait=True, timeout=wait_seconds)
    except PoolTimeout:
        await pool.close()
        where, _ = _target(database_url)
        raise DatabaseUnavailable(
            f"PostgreSQL at {where} accepted a probe but the pool could not open "
            f"{min_size} connection(s) within {wait_seconds:g}s"
        ) from None
    return pool


async def open_persistence(
    database_url: str | None,
    *,
    pool_min_size: int = 2,
    pool_max_size: int = 10,
    fallback_to_memory: bool = False,
    store_index: dict[str, Any] | None = None,
    probe_timeout: float = 5.0,
    store_ttl: dict[str, Any] | None = None,
    pool_timeout: float = 10.0,
    synchronous_commit: bool = False,
) -> Persistence:
    """Open Postgres persistence for `database_url`, or in-memory without one.

    An unreachable database raises `DatabaseUnavailable`, unless `fallback_to_memory`,
    which logs a loud warning and returns in-memory persistence instead. A configured
    `store_index` needs pgvector in Postgres mode (`PgVectorUnavailable` otherwise).
    `store_ttl` is langgraph.json's `store.ttl` (ValueError when malformed); the store's
    TTL sweeper runs until `Persistence.close()`.
    """
    ttl = ttl_config(store_ttl)
    if not database_url:
        return await _in_memory("in-memory", store_index, ttl)
    if not 1 <= pool_min_size <= pool_max_size:
        raise ValueError(
            f"need 1 <= pool_min_size <= pool_max_size, got {pool_min_size}, {pool_max_size}"
        )
    try:
        await probe(database_url, probe_timeout)
        pool = await _open_pool(
            database_url,
            pool_min_size,
            pool_max_size,
            probe_timeout,
            pool_timeout,
            synchronous_commit,
        )
    except DatabaseUnavailable as exc:
        if not fallback_to_memory:
            raise
        logger.warning(
            "!!! %s. FALLING BACK TO IN-MEMORY PERSISTENCE: assistants, threads and "
            "checkpoints will be LOST when this process stops. !!!",
            exc,
        )
        return await _in_memory("in-memory (fallback)", store_index, ttl, reason=str(exc))

    try:
        if store_index:
            await _require_pgvector(pool, _target(database_url)[0])
        checkpointer = AsyncPostgresSaver(pool)
        store = AsyncPostgresStore(pool, index=store_index, ttl=ttl)  # type: ignore[arg-type]
        async with pool.connection() as conn, _migration_lock(conn):
            # Setup runs on the locked connection itself (not through the pool), so it
            # needs no second connection and is serialized with other servers.
            await AsyncPostgresSaver(conn).setup()
            await AsyncPostgresStore(conn, index=store_index).setup()  # type: ignore[arg-type]
            await widen_ttl_minutes(conn)
            await _apply_migrations(conn)
            await _protect_langgraph_tables(conn)
        await _start_store_sweeper(store)
    except BaseException:
        await pool.close()
        raise
    return Persistence(
        mode="postgres",
        storage=PostgresStorage(pool),
        checkpointer=checkpointer,
        store=store,
        pool=pool,
    )

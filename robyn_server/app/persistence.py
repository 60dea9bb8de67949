"""Choosing and opening persistence: Postgres when a database URL is given, else memory.

In Postgres mode ONE connection pool serves everything: LangGraph's checkpointer and
store, and our `PostgresStorage`. Startup is serialized across server processes by an
advisory lock, so several replicas booting against one database cannot race each other
through LangGraph's setup or our migrations.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

import psycopg
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.store.base import IndexConfig, TTLConfig
from langgraph.store.postgres.aio import AsyncPostgresStore
from langgraph.store.postgres.base import PostgresIndexConfig
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from robyn_server.storage.encrypted_storage import encrypted
from robyn_server.storage.encryption import (
    AesKeyring,
    EncryptionSettings,
    JsonCodec,
    checkpoint_serde,
)
from robyn_server.storage.memory.storage import InMemoryStorage
from robyn_server.storage.memory.store import TTLInMemoryStore
from robyn_server.storage.persistence import Persistence
from robyn_server.storage.postgres.listener import PgSignals
from robyn_server.storage.postgres.migrate import (
    apply_migrations,
    migration_lock,
    protect_langgraph_tables,
)
from robyn_server.storage.postgres.sql import DictPool
from robyn_server.storage.postgres.storage import PostgresStorage
from robyn_server.storage.postgres.store_ttl import widen_ttl_minutes
from robyn_server.storage.signals import Signals
from robyn_server.storage.store_ttl import sweep_minutes, ttl_config

logger = logging.getLogger(__name__)


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
    password = params.get("password")
    return f"{host}:{port}", None if password is None else str(password)


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


# -- persistence ---------------------------------------------------------------------


async def _start_store_sweeper(store: TTLInMemoryStore | AsyncPostgresStore) -> None:
    # Always, not only with a configured store.ttl: per-item TTLs work without it, and
    # expired items, invisible anyway, should not pile up.
    # AsyncPostgresStore annotates the interval as int but takes float() of it, and a
    # fraction of a minute is a valid store.ttl.sweep_interval_minutes.
    await store.start_ttl_sweeper(sweep_minutes(store.ttl_config))  # type: ignore[arg-type]


def _codec(encryption: EncryptionSettings | None) -> JsonCodec:
    keyring = None if encryption is None else AesKeyring(encryption.key, encryption.fallback_keys)
    return JsonCodec(keyring)


async def _in_memory(
    mode: str,
    store_index: IndexConfig | None,
    ttl: TTLConfig,
    reason: str | None = None,
    encryption: EncryptionSettings | None = None,
) -> Persistence:
    store = TTLInMemoryStore(index=store_index, ttl=ttl)
    await _start_store_sweeper(store)
    # Memory starts empty, so without a key there is no encrypted data to detect: the
    # plain classes, unchanged. With one, the same fields are sealed as on Postgres.
    # The storage sends cron wake-ups on the process's signals (memory/crons.py).
    signals = Signals()
    if encryption is None:
        storage: InMemoryStorage = InMemoryStorage(signals)
        checkpointer = InMemorySaver()
    else:
        storage = encrypted(InMemoryStorage, _codec(encryption))(signals)
        checkpointer = InMemorySaver(serde=checkpoint_serde(encryption))
    return Persistence(
        mode=mode,
        storage=storage,
        checkpointer=checkpointer,
        store=store,
        fallback_reason=reason,
        signals=signals,
    )


async def _configure(conn: psycopg.AsyncConnection[Any]) -> None:
    # Timestamps then come back as UTC-aware datetimes, matching base.utcnow().
    await conn.execute("SET TIME ZONE 'UTC'")


PGVECTOR_SQL = "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') AS ok"


async def _require_pgvector(pool: DictPool, where: str) -> None:
    async with pool.connection() as conn:
        cur = await conn.execute(PGVECTOR_SQL)
        row = await cur.fetchone()
    if row is None or not row["ok"]:  # EXISTS always answers one row
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
) -> DictPool:
    kwargs: dict[str, Any] = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    if not synchronous_commit:
        # A commit otherwise waits for its WAL flush (about 4 ms on this class of disk),
        # and a run makes a dozen small writes. Asynchronous commit cannot corrupt
        # anything; a *database* crash may lose the last ~200 ms of status and
        # checkpoint writes, which run recovery repairs. Creating a run opts back in
        # (SET LOCAL), so an acknowledged run is never lost.
        kwargs["options"] = "-c synchronous_commit=off"
    # The annotation types the rows: `kwargs` (dict_row) is what makes them dicts.
    pool: DictPool = AsyncConnectionPool(
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
    store_index: IndexConfig | None = None,
    probe_timeout: float = 5.0,
    store_ttl: dict[str, Any] | None = None,
    pool_timeout: float = 10.0,
    synchronous_commit: bool = False,
    encryption: EncryptionSettings | None = None,
) -> Persistence:
    """Open Postgres persistence for `database_url`, or in-memory without one.

    An unreachable database raises `DatabaseUnavailable`, unless `fallback_to_memory`,
    which logs a loud warning and returns in-memory persistence instead. A configured
    `store_index` needs pgvector in Postgres mode (`PgVectorUnavailable` otherwise).
    `store_ttl` is langgraph.json's `store.ttl` (ValueError when malformed); the store's
    TTL sweeper runs until `Persistence.close()`. With `encryption`, checkpoints, run
    inputs, cron payloads and thread state are stored encrypted (storage/encryption.py).
    """
    ttl = ttl_config(store_ttl)
    if not database_url:
        return await _in_memory("in-memory", store_index, ttl, encryption=encryption)
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
        return await _in_memory(
            "in-memory (fallback)", store_index, ttl, reason=str(exc), encryption=encryption
        )

    try:
        if store_index:
            await _require_pgvector(pool, _target(database_url)[0])
        # The Postgres store's index type adds optional pgvector settings to IndexConfig.
        pg_index = None if store_index is None else PostgresIndexConfig(**store_index)
        # Even without a key, checkpoints and our columns are checked for encrypted
        # data, so a missing key fails clearly instead of serving ciphertext.
        checkpointer = AsyncPostgresSaver(pool, serde=checkpoint_serde(encryption))
        store = AsyncPostgresStore(pool, index=pg_index, ttl=ttl)
        async with pool.connection() as conn, migration_lock(conn):
            # Setup runs on the locked connection itself (not through the pool), so it
            # needs no second connection and is serialized with other servers.
            await AsyncPostgresSaver(conn).setup()
            await AsyncPostgresStore(conn, index=pg_index).setup()
            await widen_ttl_minutes(conn)
            await apply_migrations(conn)
            await protect_langgraph_tables(conn)
        await _start_store_sweeper(store)
    except BaseException:
        await pool.close()
        raise
    return Persistence(
        mode="postgres",
        storage=encrypted(PostgresStorage, _codec(encryption))(pool),
        checkpointer=checkpointer,
        store=store,
        pool=pool,
        signals=PgSignals(pool),
    )

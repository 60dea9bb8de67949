"""Opening persistence on a real PostgreSQL: the probe, the one shared pool, pgvector.
(Without a reachable database: tests/unit/test_persistence_open.py.)"""

from __future__ import annotations

import psycopg
import pytest
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.store.postgres.aio import AsyncPostgresStore

from robyn_server.app.persistence import (
    DatabaseUnavailable,
    PgVectorUnavailable,
    open_persistence,
    probe,
)
from robyn_server.storage.persistence import Persistence
from robyn_server.storage.postgres.storage import PostgresStorage
from robyn_server.storage.types import ANONYMOUS
from tests.support.persistence import SECRET, STORE_INDEX

pytestmark = pytest.mark.postgres


async def test_probe_scrubs_the_password_from_server_errors(postgres_url: str) -> None:
    url = psycopg.conninfo.make_conninfo(postgres_url, dbname=f"missing_{SECRET}", password=SECRET)
    with pytest.raises(DatabaseUnavailable) as caught:
        await probe(url)
    assert SECRET not in str(caught.value)


async def test_probe_succeeds(postgres_url: str) -> None:
    await probe(postgres_url)


async def test_postgres_shares_one_pool(postgres_url: str) -> None:
    persistence = await open_persistence(postgres_url, pool_min_size=1, pool_max_size=3)
    try:
        assert persistence.mode == "postgres"
        assert persistence.fallback_reason is None
        pool = persistence.pool
        assert pool is not None
        assert isinstance(persistence.storage, PostgresStorage)
        assert isinstance(persistence.checkpointer, AsyncPostgresSaver)
        assert isinstance(persistence.store, AsyncPostgresStore)
        assert persistence.checkpointer.conn is pool
        assert persistence.store.conn is pool
        assert persistence.storage._pool is pool
        async with pool.connection() as conn:
            cur = await conn.execute("SHOW TimeZone")
            assert (await cur.fetchone())["TimeZone"] == "UTC"
        # The LangGraph halves work on the shared pool too.
        await persistence.store.aput(("ns",), "k", {"v": 1})
        assert (await persistence.store.aget(("ns",), "k")).value == {"v": 1}
        config = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
        assert await persistence.checkpointer.aget_tuple(config) is None
        thread = await persistence.storage.thread_create(
            ANONYMOUS, thread_id="00000000-0000-4000-8000-000000000001", metadata={}
        )
        assert thread["created_at"].utcoffset().total_seconds() == 0
        await persistence.storage.thread_delete(ANONYMOUS, thread["thread_id"])
    finally:
        await persistence.close()
    assert pool.closed
    await persistence.close()  # idempotent


async def test_store_index_needs_pgvector(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        (available,) = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector')"
        ).fetchone()
    if available:
        persistence: Persistence = await open_persistence(postgres_url, store_index=STORE_INDEX)
        await persistence.close()
        assert persistence.mode == "postgres"
    else:
        with pytest.raises(PgVectorUnavailable, match="pgvector"):
            await open_persistence(postgres_url, store_index=STORE_INDEX)

"""Opening persistence: modes, fallback, failure messages, the shared pool."""

from __future__ import annotations

import logging
import socket

import psycopg
import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.store.memory import InMemoryStore
from langgraph.store.postgres.aio import AsyncPostgresStore

from robyn_server.app.persistence import (
    DatabaseUnavailable,
    PgVectorUnavailable,
    open_persistence,
    probe,
)
from robyn_server.storage.memory.storage import InMemoryStorage
from robyn_server.storage.persistence import Persistence
from robyn_server.storage.postgres.storage import PostgresStorage
from robyn_server.storage.types import ANONYMOUS

SECRET = "s3cr3t-pa55word"


def closed_port() -> int:
    """A local port with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dead_url() -> str:
    return f"postgresql://someone:{SECRET}@127.0.0.1:{closed_port()}/nowhere"


def fake_embed(texts: list[str]) -> list[list[float]]:
    return [[float(len(t)), 1.0, 0.0, 0.0] for t in texts]


STORE_INDEX = {"dims": 4, "embed": fake_embed}


async def test_probe_names_host_and_port_but_not_the_password() -> None:
    url = dead_url()
    port = url.rsplit(":", 1)[1].split("/")[0]
    with pytest.raises(DatabaseUnavailable) as caught:
        await probe(url, timeout=3)
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message
    assert SECRET not in message
    assert caught.value.__cause__ is None


async def test_probe_times_out() -> None:
    # A listening socket that never completes the Postgres handshake.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with pytest.raises(DatabaseUnavailable) as caught:
            await probe(f"postgresql://u:{SECRET}@127.0.0.1:{port}/db", timeout=0.5)
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert SECRET not in str(caught.value)


async def test_probe_scrubs_the_password_from_server_errors(postgres_url: str) -> None:
    url = psycopg.conninfo.make_conninfo(postgres_url, dbname=f"missing_{SECRET}", password=SECRET)
    with pytest.raises(DatabaseUnavailable) as caught:
        await probe(url)
    assert SECRET not in str(caught.value)


async def test_probe_succeeds(postgres_url: str) -> None:
    await probe(postgres_url)


async def test_without_url_everything_is_in_memory() -> None:
    for url in (None, ""):
        persistence = await open_persistence(url)
        assert persistence.mode == "in-memory"
        assert isinstance(persistence.storage, InMemoryStorage)
        assert isinstance(persistence.checkpointer, InMemorySaver)
        assert isinstance(persistence.store, InMemoryStore)
        assert persistence.pool is None
        assert persistence.fallback_reason is None
        await persistence.close()


async def test_in_memory_store_accepts_an_index() -> None:
    persistence = await open_persistence(None, store_index=STORE_INDEX)
    await persistence.store.aput(("docs",), "a", {"text": "hello"})
    hits = await persistence.store.asearch(("docs",), query="hello")
    assert [hit.key for hit in hits] == ["a"]


async def test_unreachable_database_raises() -> None:
    with pytest.raises(DatabaseUnavailable) as caught:
        await open_persistence(dead_url(), probe_timeout=2)
    assert SECRET not in str(caught.value)


async def test_unreachable_database_falls_back_loudly(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="robyn_server.database"):
        persistence = await open_persistence(dead_url(), fallback_to_memory=True, probe_timeout=2)
    assert persistence.mode == "in-memory (fallback)"
    assert isinstance(persistence.storage, InMemoryStorage)
    assert persistence.pool is None
    assert persistence.fallback_reason and "127.0.0.1" in persistence.fallback_reason
    assert SECRET not in persistence.fallback_reason
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings and "IN-MEMORY" in warnings[0].getMessage()
    assert SECRET not in caplog.text


async def test_rejects_bad_pool_sizes() -> None:
    with pytest.raises(ValueError):
        await open_persistence(dead_url(), pool_min_size=3, pool_max_size=2)
    with pytest.raises(ValueError):
        await open_persistence(dead_url(), pool_min_size=0)


async def test_probe_rejects_an_unparseable_url_without_echoing_it() -> None:
    with pytest.raises(DatabaseUnavailable) as caught:
        await probe(f"host=127.0.0.1 password {SECRET}")
    assert "not a valid PostgreSQL connection string" in str(caught.value)
    assert SECRET not in str(caught.value)


@pytest.mark.postgres
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


@pytest.mark.postgres
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

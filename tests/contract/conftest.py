"""Fixtures for the storage contract suite: every test runs once per backend.

The Postgres side opens persistence once per session on the throwaway database from
tests/conftest.py (which exercises `open_persistence` and the migrations) and empties
our tables before each test.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
import pytest

from robyn_server.app.persistence import open_persistence
from robyn_server.storage.base import Storage
from robyn_server.storage.memory.storage import InMemoryStorage
from robyn_server.storage.persistence import Persistence
from robyn_server.storage.types import ANONYMOUS, Scope

TRUNCATE_SQL = (
    "TRUNCATE langgraph_server.assistants, langgraph_server.assistant_versions, "
    "langgraph_server.threads CASCADE"
)


@pytest.fixture(scope="session")
async def pg_persistence(postgres_url: str) -> AsyncIterator[Persistence]:
    persistence = await open_persistence(postgres_url, pool_min_size=1, pool_max_size=8)
    assert persistence.mode == "postgres"
    yield persistence
    await persistence.close()


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> Persistence | None:
    """The Postgres persistence for the postgres variant, None for memory.

    Sync on purpose: it resolves the async session fixture lazily, so memory-only runs
    never touch Postgres, and that cannot happen from inside a running event loop.
    """
    if request.param == "postgres":
        return request.getfixturevalue("pg_persistence")
    return None


@pytest.fixture
async def storage(backend: Persistence | None) -> Storage:
    if backend is None:
        return InMemoryStorage()
    assert backend.pool is not None
    async with backend.pool.connection() as conn:
        await conn.execute(TRUNCATE_SQL)
    return backend.storage


@pytest.fixture
def fresh_database_url(postgres_url: str) -> Iterator[str]:
    """An empty database of its own, for tests that must see migrations from scratch."""
    name = f"test_fresh_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield psycopg.conninfo.make_conninfo(postgres_url, dbname=name)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def new_id() -> str:
    return str(uuid.uuid4())


async def make_assistant(
    storage: Storage, scope: Scope = ANONYMOUS, **fields: Any
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "assistant_id": new_id(),
        "graph_id": "agent",
        "config": {},
        "context": {},
        "metadata": {},
        "name": "assistant",
        "description": None,
    }
    values.update(fields)
    return await storage.assistant_create(scope, **values)


async def make_thread(storage: Storage, scope: Scope = ANONYMOUS, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"thread_id": new_id(), "metadata": {}}
    values.update(fields)
    return await storage.thread_create(scope, **values)


ASSISTANT_KEYS = {
    "assistant_id",
    "graph_id",
    "config",
    "context",
    "metadata",
    "name",
    "description",
    "version",
    "created_at",
    "updated_at",
}
VERSION_KEYS = ASSISTANT_KEYS - {"updated_at"}
THREAD_KEYS = {
    "thread_id",
    "created_at",
    "updated_at",
    "state_updated_at",
    "metadata",
    "status",
    "config",
    "values",
    "interrupts",
    "error",
    "ttl",
}

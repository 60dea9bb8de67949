"""Fixtures for the storage contract suite: every test runs once per backend.

The Postgres side shares the session's persistence (`pg_persistence`, tests/conftest.py)
and empties our tables before each test.
"""

from __future__ import annotations

import pytest

from robyn_server.storage.base import Storage
from robyn_server.storage.memory.storage import InMemoryStorage
from robyn_server.storage.persistence import Persistence
from tests.support.contract import TRUNCATE_SQL


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

"""Fixtures every suite may use: throwaway Postgres databases, and persistence opened on
one (tests/support/postgres.py says where Postgres comes from).

Each run creates its own `test_<hex>` databases and drops them at the end. Without a
reachable server, Postgres tests skip with a loud summary line, except under
REQUIRE_POSTGRES=1, where they fail.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import psycopg
import pytest

from robyn_server.app.persistence import open_persistence
from robyn_server.storage.persistence import Persistence
from tests.support.postgres import UNAVAILABLE, admin_connection, admin_url, with_database


@pytest.fixture(scope="session")
def database_factory() -> Iterator[Callable[[], str]]:
    """Creates throwaway databases on demand; all are dropped when the run ends."""
    created: list[str] = []

    def create() -> str:
        dbname = f"test_{uuid.uuid4().hex[:12]}"
        with admin_connection() as admin:
            admin.execute(f'CREATE DATABASE "{dbname}"')
        created.append(dbname)
        return with_database(admin_url(), dbname)

    try:
        yield create
    finally:
        if created:
            with psycopg.connect(admin_url(), autocommit=True) as admin:
                for dbname in created:
                    admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url(database_factory: Callable[[], str]) -> str:
    """URL of a fresh database that lives for the whole test run."""
    return database_factory()


@pytest.fixture(scope="session")
async def pg_persistence(postgres_url: str) -> AsyncIterator[Persistence]:
    """Persistence opened once per run on `postgres_url` (which runs `open_persistence`
    and the migrations); the contract and Postgres suites share it."""
    persistence = await open_persistence(postgres_url, pool_min_size=1, pool_max_size=8)
    assert persistence.mode == "postgres"
    yield persistence
    await persistence.close()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if UNAVAILABLE:
        terminalreporter.section("POSTGRES TESTS SKIPPED", sep="!", red=True, bold=True)
        terminalreporter.line(
            f"!!! {UNAVAILABLE[0]}\n"
            "!!! Every @pytest.mark.postgres test was skipped. Set REQUIRE_POSTGRES=1 to fail "
            "instead, or point TEST_DATABASE_URL at a server.",
            red=True,
            bold=True,
        )

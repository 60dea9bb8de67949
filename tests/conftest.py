"""Shared test fixtures: a throwaway Postgres database per test run.

Postgres comes from TEST_DATABASE_URL, else DATABASE_URL, else 127.0.0.1:5432 as user
`postgres`. Each run creates its own `test_<hex>` database and drops it at the end.
Without a reachable server, Postgres tests skip with a loud summary line, except under
REQUIRE_POSTGRES=1, where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
_postgres_unavailable: list[str] = []


def admin_url() -> str:
    return (
        os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL") or DEFAULT_ADMIN_URL
    )


def with_database(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


def postgres_required() -> bool:
    return os.environ.get("REQUIRE_POSTGRES", "").lower() in ("1", "true", "yes")


def _admin_connection() -> psycopg.Connection:
    url = admin_url()
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL not reachable at {urlsplit(url).netloc}: {exc}".strip()
        if postgres_required():
            pytest.fail(f"REQUIRE_POSTGRES=1 but {reason}")
        _postgres_unavailable.append(reason)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def database_factory() -> Iterator[Callable[[], str]]:
    """Creates throwaway databases on demand; all are dropped when the run ends."""
    created: list[str] = []

    def create() -> str:
        dbname = f"test_{uuid.uuid4().hex[:12]}"
        with _admin_connection() as admin:
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


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _postgres_unavailable:
        terminalreporter.section("POSTGRES TESTS SKIPPED", sep="!", red=True, bold=True)
        terminalreporter.line(
            f"!!! {_postgres_unavailable[0]}\n"
            "!!! Every @pytest.mark.postgres test was skipped. Set REQUIRE_POSTGRES=1 to fail "
            "instead, or point TEST_DATABASE_URL at a server.",
            red=True,
            bold=True,
        )

"""The PostgreSQL server the tests use, and what happens when there is none.

Postgres comes from TEST_DATABASE_URL, else DATABASE_URL, else 127.0.0.1:5432 as user
`postgres`. Without a reachable server, Postgres tests skip with a loud summary line
(see tests/conftest.py), except under REQUIRE_POSTGRES=1, where they fail.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# Why Postgres tests were skipped, for the run's summary; empty when none were.
UNAVAILABLE: list[str] = []


def admin_url() -> str:
    return (
        os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL") or DEFAULT_ADMIN_URL
    )


def with_database(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


def postgres_required() -> bool:
    return os.environ.get("REQUIRE_POSTGRES", "").lower() in ("1", "true", "yes")


def admin_connection() -> psycopg.Connection:
    """An autocommit connection to the admin database; skips the test (fails it under
    REQUIRE_POSTGRES=1) when the server cannot be reached."""
    url = admin_url()
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL not reachable at {urlsplit(url).netloc}: {exc}".strip()
        if postgres_required():
            pytest.fail(f"REQUIRE_POSTGRES=1 but {reason}")
        UNAVAILABLE.append(reason)
        pytest.skip(reason)

"""Fixtures for the Postgres-only suites: what only a real PostgreSQL has (the database
layer, migrations, query plans, row locks). Every module here carries the `postgres`
marker, so these tests skip loudly without a server and fail under REQUIRE_POSTGRES=1
(tests/unit/test_test_layout.py checks the marker)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest


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

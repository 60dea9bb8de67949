"""Schema migrations, LangGraph's tables widened for our TTLs, and table protection
(Postgres only)."""

from __future__ import annotations

import uuid
from functools import partial

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from robyn_server.app.persistence import open_persistence
from robyn_server.storage.persistence import Persistence
from robyn_server.storage.postgres.migrate import (
    LANGGRAPH_TABLES,
    MIGRATION_LOCK_KEY,
    migration_files,
    run_migrations,
)
from robyn_server.storage.postgres.store_ttl import widen_ttl_minutes
from tests.support.races import queued_behind_advisory_lock

pytestmark = pytest.mark.postgres

OUR_TABLES = ("assistants", "assistant_versions", "threads", "runs", "schema_migrations")


def make_pool(url: str) -> AsyncConnectionPool:
    return AsyncConnectionPool(
        url,
        min_size=1,
        max_size=2,
        open=False,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
    )


def applied_versions(url: str) -> list[tuple[int, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT version, name FROM langgraph_server.schema_migrations ORDER BY version"
        ).fetchall()
    return [(version, name) for version, name in rows]


def bundled() -> list[tuple[int, str]]:
    return [(version, name) for version, name, _ in migration_files()]


def test_bundled_migrations_are_numbered_in_order() -> None:
    files = migration_files()
    assert files, "no migrations bundled"
    assert files[0][:2] == (1, "0001_initial.sql")
    versions = [version for version, _, _ in files]
    assert versions == sorted(set(versions))


async def test_run_migrations_is_idempotent(fresh_database_url: str) -> None:
    pool = make_pool(fresh_database_url)
    await pool.open(wait=True)
    try:
        first = await run_migrations(pool)
        assert first == [name for _, name in bundled()]
        assert await run_migrations(pool) == []
        assert await run_migrations(pool) == []
    finally:
        await pool.close()
    assert applied_versions(fresh_database_url) == bundled()


async def test_concurrent_run_migrations_apply_each_file_once(fresh_database_url: str) -> None:
    pools = [make_pool(fresh_database_url) for _ in range(3)]
    for pool in pools:
        await pool.open(wait=True)
    try:
        # All three are seen waiting for the migration lock before any may take it.
        migrations = [partial(run_migrations, pool) for pool in pools]
        results = await queued_behind_advisory_lock(
            fresh_database_url, MIGRATION_LOCK_KEY, migrations
        )
    finally:
        for pool in pools:
            await pool.close()
    applied = sorted(results, key=len)
    assert applied[:-1] == [[] for _ in pools[1:]]
    assert applied[-1] == [name for _, name in bundled()]
    assert applied_versions(fresh_database_url) == bundled()


async def test_concurrent_open_persistence(fresh_database_url: str) -> None:
    # Both are seen waiting for the setup lock before either may take it.
    opening = partial(open_persistence, fresh_database_url, pool_min_size=1, pool_max_size=2)
    opened: list[Persistence] = await queued_behind_advisory_lock(
        fresh_database_url, MIGRATION_LOCK_KEY, [opening, opening]
    )
    try:
        assert [p.mode for p in opened] == ["postgres", "postgres"]
    finally:
        for persistence in opened:
            await persistence.close()
    assert applied_versions(fresh_database_url) == bundled()


async def test_migration_lock_is_released(fresh_database_url: str) -> None:
    pool = make_pool(fresh_database_url)
    await pool.open(wait=True)
    try:
        await run_migrations(pool)
        async with pool.connection() as conn:
            cur = await conn.execute(
                # This database's only: other test runs may share the server.
                "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
            assert (await cur.fetchone())["n"] == 0
    finally:
        await pool.close()


def test_row_level_security_is_enabled(pg_persistence: Persistence, postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        ours = dict(
            conn.execute(
                """SELECT c.relname, c.relrowsecurity FROM pg_class c
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname = 'langgraph_server' AND c.relkind = 'r'"""
            ).fetchall()
        )
        theirs = dict(
            conn.execute(
                """SELECT c.relname, c.relrowsecurity FROM pg_class c
                   WHERE c.oid = ANY(SELECT to_regclass(t) FROM unnest(%s::text[]) t)""",
                (list(LANGGRAPH_TABLES),),
            ).fetchall()
        )
    assert set(OUR_TABLES) <= set(ours)
    assert all(ours.values()), ours
    # Checkpointer and store tables always exist after setup; vector ones only with pgvector.
    required = {"checkpoints", "checkpoint_blobs", "checkpoint_writes", "checkpoint_migrations"}
    assert required | {"store", "store_migrations"} <= set(theirs)
    assert all(theirs.values()), theirs


def test_a_non_owner_role_sees_no_rows(pg_persistence: Persistence, postgres_url: str) -> None:
    """What a PostgREST/Supabase `anon` role would get: RLS without policies hides all."""
    role = f"contract_reader_{uuid.uuid4().hex[:8]}"  # roles are cluster-wide
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("INSERT INTO langgraph_server.threads (thread_id) VALUES (gen_random_uuid())")
        conn.execute(f"CREATE ROLE {role}")
        try:
            conn.execute(f"GRANT USAGE ON SCHEMA langgraph_server TO {role}")
            conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA langgraph_server TO {role}")
            conn.execute(f"GRANT SELECT ON checkpoints TO {role}")
            with conn.transaction(force_rollback=True):
                conn.execute(f"SET LOCAL ROLE {role}")
                assert conn.execute("SELECT count(*) FROM langgraph_server.threads").fetchone() == (
                    0,
                )
                assert conn.execute("SELECT count(*) FROM checkpoints").fetchone() == (0,)
            assert conn.execute("SELECT count(*) FROM langgraph_server.threads").fetchone()[0] >= 1
        finally:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")
            conn.execute("TRUNCATE langgraph_server.threads CASCADE")


def test_search_indexes_exist(pg_persistence: Persistence, postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'langgraph_server'"
        ).fetchall()
    defs = dict(rows)
    for name in (
        "assistants_metadata_idx",
        "assistant_versions_metadata_idx",
        "threads_metadata_idx",
        "threads_values_idx",
    ):
        assert "gin" in defs[name] and "jsonb_path_ops" in defs[name], name
    for name in (
        "assistants_graph_id_idx",
        "assistants_created_at_idx",
        "assistants_updated_at_idx",
        "assistants_name_idx",
        "threads_updated_at_idx",
        "threads_created_at_idx",
        "threads_state_updated_at_idx",
        "threads_status_idx",
        "threads_assistant_id_idx",
        "runs_thread_idx",
        "runs_inflight_idx",
        "runs_running_idx",
    ):
        assert name in defs, name


def test_delete_threads_query_uses_the_expression_index(
    pg_persistence: Persistence, postgres_url: str
) -> None:
    with psycopg.connect(postgres_url) as conn, conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                "EXPLAIN DELETE FROM langgraph_server.threads "
                "WHERE metadata ->> 'assistant_id' = %s",
                ("x",),
            ).fetchall()
        )
    assert "threads_assistant_id_idx" in plan, plan


async def test_widen_converts_an_integer_column_once(postgres_url: str) -> None:
    await (await open_persistence(postgres_url, pool_min_size=1, pool_max_size=1)).close()
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
        await conn.execute("ALTER TABLE store ALTER COLUMN ttl_minutes TYPE integer")
        await widen_ttl_minutes(conn)
        await widen_ttl_minutes(conn)
        cur = await conn.execute(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_name = 'store' AND column_name = 'ttl_minutes'"
        )
        assert (await cur.fetchone())[0] == "numeric"

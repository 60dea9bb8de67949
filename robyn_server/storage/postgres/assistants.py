"""Assistant queries of `PostgresStorage` (mixed into it in postgres/storage.py)."""

from __future__ import annotations

from typing import Any

from robyn_server.storage.postgres.sql import (
    PostgresBase,
    Where,
    jsonb,
    like_substring,
    order_by,
)
from robyn_server.storage.types import (
    ASSISTANT_SORT_COLUMNS,
    IfExists,
    Page,
    Scope,
    SortOrder,
    canonical_uuid,
    check_paging,
    check_sort,
    next_offset,
    require_uuid,
)


def _columns(alias: str) -> str:
    p = f"{alias}." if alias else ""
    return (
        f"{p}assistant_id::text AS assistant_id, {p}graph_id, {p}config, {p}context, "
        f"{p}metadata, {p}name, {p}description, {p}version, {p}created_at"
    )


VERSION_COLUMNS = _columns("v")
COLUMNS = _columns("") + ", updated_at"
COLUMNS_A = _columns("a") + ", a.updated_at"

# One statement writes the assistant and its version-1 row, so neither exists alone.
CREATE_SQL = (
    """
WITH created AS (
    INSERT INTO langgraph_server.assistants
        (assistant_id, owner, graph_id, config, context, metadata, name, description)
    VALUES (%(assistant_id)s, %(owner)s, %(graph_id)s, %(config)s, %(context)s,
            %(metadata)s, %(name)s, %(description)s)
    ON CONFLICT (assistant_id) DO NOTHING
    RETURNING *
), first_version AS (
    INSERT INTO langgraph_server.assistant_versions
        (assistant_id, version, graph_id, config, context, metadata, name, description,
         created_at)
    SELECT assistant_id, 1, graph_id, config, context, metadata, name, description,
           created_at
    FROM created
)
SELECT """
    + COLUMNS
    + " FROM created"
)

SELECT_SQL = "SELECT " + COLUMNS + " FROM langgraph_server.assistants WHERE {where}"

# Taken first inside the update transaction: concurrent PATCHes of one assistant queue
# here, and each then sees the versions its predecessors committed.
LOCK_SQL = "SELECT 1 FROM langgraph_server.assistants WHERE {where} FOR UPDATE"

UPDATE_SQL = (
    """
WITH next AS (
    INSERT INTO langgraph_server.assistant_versions
        (assistant_id, version, graph_id, config, context, metadata, name, description)
    SELECT a.assistant_id,
           (SELECT max(version) + 1 FROM langgraph_server.assistant_versions
             WHERE assistant_id = a.assistant_id),
           coalesce(%(graph_id)s::text, a.graph_id),
           coalesce(%(config)s::jsonb, a.config),
           coalesce(%(context)s::jsonb, a.context),
           a.metadata || coalesce(%(metadata)s::jsonb, '{}'::jsonb),
           coalesce(%(name)s::text, a.name),
           coalesce(%(description)s::text, a.description)
    FROM langgraph_server.assistants a
    WHERE a.assistant_id = %(assistant_id)s
    RETURNING *
)
UPDATE langgraph_server.assistants a
SET graph_id = next.graph_id, config = next.config, context = next.context,
    metadata = next.metadata, name = next.name, description = next.description,
    version = next.version,
    updated_at = greatest(now(), a.updated_at + interval '1 microsecond')
FROM next
WHERE a.assistant_id = next.assistant_id
RETURNING """
    + COLUMNS_A
)

DELETE_SQL = (
    "DELETE FROM langgraph_server.assistants WHERE {where} RETURNING assistant_id::text AS id"
)

# `metadata ->> 'assistant_id'` is spelled exactly as in threads_assistant_id_idx.
DELETE_THREADS_SQL = (
    "DELETE FROM langgraph_server.threads WHERE {where} RETURNING thread_id::text AS id"
)

SEARCH_SQL = (
    "SELECT "
    + COLUMNS
    + " FROM langgraph_server.assistants WHERE {where} {order} LIMIT %s OFFSET %s"
)

COUNT_SQL = "SELECT count(*) AS n FROM langgraph_server.assistants WHERE {where}"

VERSIONS_SQL = (
    "SELECT "
    + VERSION_COLUMNS
    + """
FROM langgraph_server.assistant_versions v
JOIN langgraph_server.assistants a ON a.assistant_id = v.assistant_id
WHERE {where}
ORDER BY v.version DESC
LIMIT %s OFFSET %s"""
)

SET_LATEST_SQL = (
    """
UPDATE langgraph_server.assistants a
SET graph_id = v.graph_id, config = v.config, context = v.context,
    metadata = v.metadata, name = v.name, description = v.description,
    version = v.version,
    updated_at = greatest(now(), a.updated_at + interval '1 microsecond')
FROM langgraph_server.assistant_versions v
WHERE v.assistant_id = a.assistant_id AND {where}
RETURNING """
    + COLUMNS_A
)


def _by_id(scope: Scope, assistant_id: str, alias: str = "") -> Where:
    prefix = f"{alias}." if alias else ""
    where = Where(scope, f"{prefix}owner", f"{prefix}metadata")
    return where.add(f"{prefix}assistant_id = %s", assistant_id)


def _filters(
    scope: Scope, metadata: dict[str, Any] | None, graph_id: str | None, name: str | None
) -> Where:
    where = Where(scope)
    if metadata:
        where.add("metadata @> %s", jsonb(metadata))
    if graph_id is not None:
        where.add("graph_id = %s", graph_id)
    if name:
        # The column sorts in "C" order; matching uses the database locale so that
        # case-folding covers non-ASCII letters too.
        where.add("""name COLLATE "default" ILIKE %s ESCAPE '\\'""", like_substring(name))
    return where


class AssistantQueries(PostgresBase):
    async def assistant_create(
        self,
        scope: Scope,
        *,
        assistant_id: str,
        graph_id: str,
        config: dict[str, Any],
        context: dict[str, Any],
        metadata: dict[str, Any],
        name: str,
        description: str | None,
        if_exists: IfExists = "raise",
    ) -> dict[str, Any]:
        key = require_uuid(assistant_id, "assistant_id")
        params = {
            "assistant_id": key,
            "owner": scope.owner,
            "graph_id": graph_id,
            "config": jsonb(config),
            "context": jsonb(context),
            "metadata": jsonb(metadata),
            "name": name,
            "description": description,
        }
        return await self._create(
            CREATE_SQL,
            params,
            if_exists,
            lambda: self.assistant_get(scope, key),
            f"assistant {key}",
        )

    async def assistant_get(self, scope: Scope, assistant_id: str) -> dict[str, Any] | None:
        key = canonical_uuid(assistant_id)
        if key is None:
            return None
        where = _by_id(scope, key)
        return await self._one(where.render(SELECT_SQL), where.params)

    async def assistant_update(
        self,
        scope: Scope,
        assistant_id: str,
        *,
        graph_id: str | None = None,
        config: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        name: str | None = None,
        description: str | None = None,
    ) -> dict[str, Any] | None:
        key = canonical_uuid(assistant_id)
        if key is None:
            return None
        where = _by_id(scope, key)
        params = {
            "assistant_id": key,
            "graph_id": graph_id,
            "config": None if config is None else jsonb(config),
            "context": None if context is None else jsonb(context),
            "metadata": None if metadata is None else jsonb(metadata),
            "name": name,
            "description": description,
        }
        async with self._pool.connection() as conn, conn.transaction():
            locked = await conn.execute(where.render(LOCK_SQL), where.params)
            if await locked.fetchone() is None:
                return None
            cur = await conn.execute(UPDATE_SQL, params)
            return await cur.fetchone()

    async def assistant_delete(
        self,
        scope: Scope,
        assistant_id: str,
        *,
        delete_threads: bool = False,
        thread_scope: Scope | None = None,
    ) -> list[str] | None:
        key = canonical_uuid(assistant_id)
        if key is None:
            return None
        where = _by_id(scope, key)
        threads = Where(scope if thread_scope is None else thread_scope)
        threads.add("metadata ->> 'assistant_id' = %s", key)
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(where.render(DELETE_SQL), where.params)
            if await cur.fetchone() is None:
                return None
            if not delete_threads:
                return []
            cur = await conn.execute(threads.render(DELETE_THREADS_SQL), threads.params)
            return [row["id"] for row in await cur.fetchall()]

    async def assistant_search(
        self,
        scope: Scope,
        *,
        metadata: dict[str, Any] | None = None,
        graph_id: str | None = None,
        name: str | None = None,
        sort_by: str = "created_at",
        sort_order: SortOrder = "desc",
        limit: int = 10,
        offset: int = 0,
    ) -> Page:
        check_sort(sort_by, sort_order, ASSISTANT_SORT_COLUMNS)
        check_paging(limit, offset)
        where = _filters(scope, metadata, graph_id, name)
        query = where.render(
            SEARCH_SQL, order=order_by(sort_by, sort_order, "assistant_id", "assistants")
        )
        rows = await self._all(query, [*where.params, limit + 1, offset])
        return Page(rows[:limit], next_offset(offset, limit, len(rows)))

    async def assistant_count(
        self,
        scope: Scope,
        *,
        metadata: dict[str, Any] | None = None,
        graph_id: str | None = None,
        name: str | None = None,
    ) -> int:
        where = _filters(scope, metadata, graph_id, name)
        row = await self._one(where.render(COUNT_SQL), where.params)
        return row["n"]

    async def assistant_versions(
        self,
        scope: Scope,
        assistant_id: str,
        *,
        metadata: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        check_paging(limit, offset)
        key = canonical_uuid(assistant_id)
        if key is None:
            return []
        where = _by_id(scope, key, "a")
        if metadata:
            where.add("v.metadata @> %s", jsonb(metadata))
        return await self._all(where.render(VERSIONS_SQL), [*where.params, limit, offset])

    async def assistant_set_latest(
        self, scope: Scope, assistant_id: str, version: int
    ) -> dict[str, Any] | None:
        key = canonical_uuid(assistant_id)
        if key is None:
            return None
        where = _by_id(scope, key, "a").add("v.version = %s", version)
        return await self._one(where.render(SET_LATEST_SQL), where.params)

"""Thread queries of `PostgresStorage` (mixed into it in postgres/storage.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import sql

from robyn_server.storage.postgres.sql import (
    ADVANCE_STATE_UPDATED_AT,
    ADVANCE_UPDATED_AT,
    PostgresBase,
    Where,
    jsonb,
    jsonb_or_null,
    order_by,
    uuid_list,
)
from robyn_server.storage.types import (
    THREAD_SORT_COLUMNS,
    UNSET,
    IfExists,
    LeaseLost,
    Page,
    RunFence,
    Scope,
    SortOrder,
    StorageConflict,
    canonical_uuid,
    check_paging,
    check_sort,
    check_status,
    next_offset,
    require_uuid,
)

COLUMNS = (
    "thread_id::text AS thread_id, created_at, updated_at, state_updated_at, metadata, "
    'status, config, "values", interrupts, error, ttl'
)

CREATE_SQL = (
    """
INSERT INTO langgraph_server.threads (thread_id, owner, metadata, ttl)
VALUES (%s, %s, %s, %s)
ON CONFLICT (thread_id) DO NOTHING
RETURNING """
    + COLUMNS
)

SELECT_SQL = "SELECT " + COLUMNS + " FROM langgraph_server.threads WHERE {where}"

# `{assignments}` is assembled from the constant fragments in this module only.
# A fenced write (the end of a run) lands only while its run is still held by the
# writer's worker and attempt (storage/types.py RunFence).
FENCE_SQL = """EXISTS (
    SELECT 1 FROM langgraph_server.runs f
    WHERE f.run_id = %s AND f.worker_id = %s AND f.attempt = %s AND f.status = 'running'
)"""

UPDATE_SQL = "UPDATE langgraph_server.threads SET {assignments} WHERE {where} RETURNING " + COLUMNS

DELETE_SQL = "DELETE FROM langgraph_server.threads WHERE {where} RETURNING thread_id::text AS id"

SEARCH_SQL = (
    "SELECT " + COLUMNS + " FROM langgraph_server.threads WHERE {where} {order} LIMIT %s OFFSET %s"
)

COUNT_SQL = "SELECT count(*) AS n FROM langgraph_server.threads WHERE {where}"

_EXPIRES_AT = "updated_at + make_interval(secs => (ttl ->> 'ttl_minutes')::float8 * 60)"
EXPIRED_SQL = f"""
SELECT thread_id::text AS thread_id, coalesce(ttl ->> 'strategy', 'delete') AS strategy
FROM langgraph_server.threads
WHERE ttl IS NOT NULL AND ttl ? 'ttl_minutes' AND {_EXPIRES_AT} <= now()
ORDER BY {_EXPIRES_AT}
LIMIT %s
"""

COPY_SQL = (
    """
INSERT INTO langgraph_server.threads
    (thread_id, owner, metadata, config, "values", interrupts, error)
SELECT %s, %s, coalesce(%s::jsonb, metadata), config, "values", interrupts, error
FROM langgraph_server.threads
WHERE {where}
ON CONFLICT (thread_id) DO NOTHING
RETURNING """
    + COLUMNS
)


def _by_id(scope: Scope, thread_id: str) -> Where:
    return Where(scope).add("thread_id = %s", thread_id)


def _filters(
    scope: Scope,
    metadata: dict[str, Any] | None,
    values: dict[str, Any] | None,
    status: str | None,
) -> Where:
    where = Where(scope)
    if metadata:
        where.add("metadata @> %s", jsonb(metadata))
    if values:
        where.add('"values" @> %s', jsonb(values))
    if status is not None:
        where.add("status = %s", status)
    return where


class ThreadQueries(PostgresBase):
    async def _update(
        self,
        scope: Scope,
        thread_id: str,
        assignments: list[tuple[str, Any]],
        constant_assignments: Sequence[str] = (),
        fence: RunFence | None = None,
    ) -> dict[str, Any] | None:
        """One UPDATE of a thread: `assignments` pair constant SQL with the parameter it
        binds; `updated_at` always advances."""
        key = canonical_uuid(thread_id)
        if key is None:
            return None
        where = _by_id(scope, key)
        if fence is not None:
            where.add(FENCE_SQL, fence.run_id, fence.worker_id, fence.attempt)
        set_sql = [fragment for fragment, _ in assignments]
        set_sql += [*constant_assignments, ADVANCE_UPDATED_AT]
        params = [param for _, param in assignments] + where.params
        query = where.render(UPDATE_SQL, assignments=sql.SQL(", ").join(map(sql.SQL, set_sql)))
        return await self._one(query, params)

    async def thread_create(
        self,
        scope: Scope,
        *,
        thread_id: str,
        metadata: dict[str, Any],
        if_exists: IfExists = "raise",
        ttl: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        key = require_uuid(thread_id, "thread_id")
        params = (key, scope.owner, jsonb(metadata), jsonb_or_null(ttl))
        return await self._create(
            CREATE_SQL, params, if_exists, lambda: self.thread_get(scope, key), f"thread {key}"
        )

    async def thread_get(self, scope: Scope, thread_id: str) -> dict[str, Any] | None:
        key = canonical_uuid(thread_id)
        if key is None:
            return None
        where = _by_id(scope, key)
        return await self._one(where.render(SELECT_SQL), where.params)

    async def thread_update(
        self,
        scope: Scope,
        thread_id: str,
        *,
        metadata: dict[str, Any] | None = None,
        ttl: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        assignments: list[tuple[str, Any]] = []
        if metadata is not None:
            assignments.append(("metadata = metadata || %s", jsonb(metadata)))
        if ttl is not None:
            assignments.append(("ttl = %s", jsonb(ttl)))
        return await self._update(scope, thread_id, assignments)

    async def thread_delete(self, scope: Scope, thread_id: str) -> bool:
        return bool(await self.thread_delete_many(scope, [thread_id]))

    async def thread_delete_many(self, scope: Scope, thread_ids: Sequence[str]) -> list[str]:
        keys = uuid_list(thread_ids)
        if not keys:
            return []
        where = Where(scope).add("thread_id = ANY(%s::uuid[])", keys)
        rows = await self._all(where.render(DELETE_SQL), where.params)
        deleted = {row["id"] for row in rows}
        return [key for key in keys if key in deleted]

    async def thread_expired(self, *, limit: int = 100) -> list[dict[str, Any]]:
        return [dict(row) for row in await self._all(EXPIRED_SQL, (limit,))]

    async def thread_search(
        self,
        scope: Scope,
        *,
        ids: Sequence[str] | None = None,
        metadata: dict[str, Any] | None = None,
        values: dict[str, Any] | None = None,
        status: str | None = None,
        sort_by: str = "updated_at",
        sort_order: SortOrder = "desc",
        limit: int = 10,
        offset: int = 0,
    ) -> Page:
        check_sort(sort_by, sort_order, THREAD_SORT_COLUMNS)
        check_paging(limit, offset)
        where = _filters(scope, metadata, values, status)
        if ids is not None:
            where.add("thread_id = ANY(%s::uuid[])", uuid_list(ids))
        query = where.render(
            SEARCH_SQL, order=order_by(sort_by, sort_order, "thread_id", "threads")
        )
        rows = await self._all(query, [*where.params, limit + 1, offset])
        return Page(rows[:limit], next_offset(offset, limit, len(rows)))

    async def thread_count(
        self,
        scope: Scope,
        *,
        metadata: dict[str, Any] | None = None,
        values: dict[str, Any] | None = None,
        status: str | None = None,
    ) -> int:
        where = _filters(scope, metadata, values, status)
        row = await self._one(where.render(COUNT_SQL), where.params)
        return row["n"]

    async def thread_copy(
        self,
        scope: Scope,
        thread_id: str,
        new_thread_id: str,
        *,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        new_key = require_uuid(new_thread_id, "new_thread_id")
        key = canonical_uuid(thread_id)
        if key is None:
            return None
        where = _by_id(scope, key)
        params = [new_key, scope.owner, jsonb_or_null(metadata), *where.params]
        copied = await self._one(where.render(COPY_SQL), params)
        if copied is not None:
            return copied
        # Nothing inserted: either the source is missing or the target id is taken.
        if await self.thread_get(scope, key) is None:
            return None
        raise StorageConflict(f"thread {new_key} already exists")

    async def thread_set_state(
        self,
        scope: Scope,
        thread_id: str,
        *,
        status: str | None = None,
        metadata: dict[str, Any] | None = None,
        config: dict[str, Any] | None = None,
        values: Any = UNSET,
        interrupts: Any = UNSET,
        error: Any = UNSET,
        fence: RunFence | None = None,
    ) -> dict[str, Any] | None:
        assignments: list[tuple[str, Any]] = []
        if status is not None:
            check_status(status)
            assignments.append(("status = %s", status))
        if config is not None:
            assignments.append(("config = %s", jsonb(config)))
        if metadata is not None:
            assignments.append(("metadata = metadata || %s", jsonb(metadata)))
        if values is not UNSET:
            assignments.append(('"values" = %s', jsonb_or_null(values)))
        if interrupts is not UNSET:
            # The record promises a dict; "no interrupts" is spelled {}.
            assignments.append(("interrupts = %s", jsonb({} if interrupts is None else interrupts)))
        if error is not UNSET:
            assignments.append(("error = %s", jsonb_or_null(error)))
        touches_state = any(v is not UNSET for v in (values, interrupts, error))
        advance = [ADVANCE_STATE_UPDATED_AT] if touches_state else []
        updated = await self._update(scope, thread_id, assignments, advance, fence)
        if updated is None and fence is not None:
            raise LeaseLost(f"run {fence.run_id} is no longer held by this worker")
        return updated

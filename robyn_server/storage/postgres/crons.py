"""Cron queries of `PostgresStorage` (mixed into it in postgres/storage.py).

A tick is claimed by `CLAIM_TICK_SQL`: it moves `next_run_date` from the value the
scheduler read to the following one, only while the cron is still due at that value.
The row is locked with SKIP LOCKED, so a scheduler never waits behind another one that
is claiming the same tick: it finds nothing to claim and moves on. Under READ COMMITTED
a tick already claimed and committed no longer matches, so exactly one claim succeeds.

Nothing here wakes schedulers: the crons table's triggers NOTIFY `CRONS_CHANNEL`
(storage/signals.py) at commit, which every process hears through its `PgSignals`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import sql
from psycopg.errors import ForeignKeyViolation

from robyn_server.storage.postgres.sql import (
    ADVANCE_UPDATED_AT,
    PostgresBase,
    Where,
    jsonb,
    jsonb_or_null,
    order_by,
)
from robyn_server.storage.types import (
    CRON_SORT_COLUMNS,
    UNSET,
    CronTick,
    Page,
    Scope,
    SortOrder,
    canonical_uuid,
    check_paging,
    check_sort,
    cron_owner,
    next_offset,
    require_uuid,
)

COLUMNS = (
    "cron_id::text AS cron_id, assistant_id::text AS assistant_id, "
    "thread_id::text AS thread_id, coalesce(owner, '') AS user_id, end_time, schedule, "
    "timezone, payload, next_run_date, metadata, on_run_completed, enabled, created_at, "
    "updated_at"
)

# The thread (when given) must be visible to the creator; `{where}` selects it.
CREATE_SQL = (
    """
INSERT INTO langgraph_server.crons
    (cron_id, assistant_id, thread_id, owner, schedule, timezone, end_time, payload,
     metadata, on_run_completed, enabled, next_run_date, run_as)
SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s
WHERE %s::uuid IS NULL OR EXISTS (SELECT 1 FROM langgraph_server.threads WHERE {where})
RETURNING """
    + COLUMNS
)

SELECT_SQL = "SELECT " + COLUMNS + " FROM langgraph_server.crons WHERE {where}"

# `{assignments}` is assembled from the constant fragments in this module only.
UPDATE_SQL = "UPDATE langgraph_server.crons SET {assignments} WHERE {where} RETURNING " + COLUMNS

DELETE_SQL = "DELETE FROM langgraph_server.crons WHERE {where} RETURNING cron_id"

SEARCH_SQL = (
    "SELECT " + COLUMNS + " FROM langgraph_server.crons WHERE {where} {order} LIMIT %s OFFSET %s"
)

COUNT_SQL = "SELECT count(*) AS n FROM langgraph_server.crons WHERE {where}"

DUE = "enabled AND next_run_date <= %(now)s AND (end_time IS NULL OR end_time > %(now)s)"

DUE_SQL = (
    "SELECT "
    + COLUMNS
    + ", run_as FROM langgraph_server.crons WHERE "
    + DUE
    + " ORDER BY random() LIMIT %(limit)s"
)

NEXT_DUE_SQL = """
SELECT min(next_run_date) AS due FROM langgraph_server.crons
WHERE enabled AND (end_time IS NULL OR end_time > greatest(next_run_date, %(now)s))
"""

CLAIM_TICK_SQL = (
    """
UPDATE langgraph_server.crons SET next_run_date = %(following)s
WHERE cron_id = (
    SELECT cron_id FROM langgraph_server.crons
    WHERE cron_id = %(cron_id)s AND next_run_date = %(due)s AND """
    + DUE
    + """
    FOR UPDATE SKIP LOCKED
)
RETURNING cron_id"""
)


def claim_params(tick: CronTick) -> dict[str, Any]:
    return {
        "cron_id": require_uuid(tick.cron_id, "cron_id"),
        "due": tick.due,
        "following": tick.following,
        "now": tick.now,
    }


def _filters(
    scope: Scope,
    assistant_id: str | None,
    thread_id: str | None,
    enabled: bool | None,
    metadata: dict[str, Any] | None,
) -> Where | None:
    """The search conditions; None when an id is malformed (nothing can match)."""
    where = Where(scope)
    for column, value in (("assistant_id", assistant_id), ("thread_id", thread_id)):
        if value is not None:
            key = canonical_uuid(value)
            if key is None:
                return None
            where.add(f"{column} = %s", key)
    if enabled is not None:
        where.add("enabled = %s", enabled)
    if metadata:
        where.add("metadata @> %s", jsonb(metadata))
    return where


class CronQueries(PostgresBase):
    async def cron_create(
        self,
        scope: Scope,
        *,
        cron_id: str,
        assistant_id: str,
        thread_id: str | None,
        schedule: str,
        timezone: str | None,
        end_time: datetime | None,
        payload: dict[str, Any],
        metadata: dict[str, Any],
        on_run_completed: str | None,
        enabled: bool,
        next_run_date: datetime,
        run_as: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        thread_key = None
        if thread_id is not None:
            thread_key = canonical_uuid(thread_id)
            if thread_key is None:
                return None
        thread = Where(scope).add("thread_id = %s", thread_key)
        params = [
            require_uuid(cron_id, "cron_id"),
            require_uuid(assistant_id, "assistant_id"),
            thread_key,
            cron_owner(scope, run_as),
            schedule,
            timezone,
            end_time,
            jsonb(payload),
            jsonb(metadata),
            on_run_completed,
            enabled,
            next_run_date,
            jsonb_or_null(run_as),
            thread_key,
            *thread.params,
        ]
        try:
            return await self._one(thread.render(CREATE_SQL), params)
        except ForeignKeyViolation:
            return None  # the assistant (or thread) was deleted meanwhile

    async def cron_get(self, scope: Scope, cron_id: str) -> dict[str, Any] | None:
        where = _by_id(scope, cron_id)
        if where is None:
            return None
        return await self._one(where.render(SELECT_SQL), where.params)

    async def cron_update(
        self,
        scope: Scope,
        cron_id: str,
        *,
        payload: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        schedule: str | None = None,
        timezone: Any = UNSET,
        end_time: Any = UNSET,
        enabled: bool | None = None,
        on_run_completed: str | None = None,
        next_run_date: datetime | None = None,
    ) -> dict[str, Any] | None:
        where = _by_id(scope, cron_id)
        if where is None:
            return None
        assignments: list[tuple[str, Any]] = []
        if payload is not None:
            assignments.append(("payload = payload || %s", jsonb(payload)))
        if metadata is not None:
            assignments.append(("metadata = metadata || %s", jsonb(metadata)))
        replaced = {
            "schedule": schedule,
            "enabled": enabled,
            "on_run_completed": on_run_completed,
            "next_run_date": next_run_date,
        }
        for column, value in replaced.items():
            if value is not None:
                assignments.append((f"{column} = %s", value))
        if timezone is not UNSET:
            assignments.append(("timezone = %s", timezone))
        if end_time is not UNSET:
            assignments.append(("end_time = %s", end_time))
        set_sql = [fragment for fragment, _ in assignments] + [ADVANCE_UPDATED_AT]
        query = where.render(UPDATE_SQL, assignments=sql.SQL(", ").join(map(sql.SQL, set_sql)))
        return await self._one(query, [param for _, param in assignments] + where.params)

    async def cron_delete(self, scope: Scope, cron_id: str) -> bool:
        where = _by_id(scope, cron_id)
        if where is None:
            return False
        return await self._one(where.render(DELETE_SQL), where.params) is not None

    async def cron_search(
        self,
        scope: Scope,
        *,
        assistant_id: str | None = None,
        thread_id: str | None = None,
        enabled: bool | None = None,
        metadata: dict[str, Any] | None = None,
        sort_by: str = "created_at",
        sort_order: SortOrder = "desc",
        limit: int = 10,
        offset: int = 0,
    ) -> Page:
        check_sort(sort_by, sort_order, CRON_SORT_COLUMNS)
        check_paging(limit, offset)
        where = _filters(scope, assistant_id, thread_id, enabled, metadata)
        if where is None:
            return Page()
        query = where.render(SEARCH_SQL, order=order_by(sort_by, sort_order, "cron_id", "crons"))
        rows = await self._all(query, [*where.params, limit + 1, offset])
        return Page(rows[:limit], next_offset(offset, limit, len(rows)))

    async def cron_count(
        self,
        scope: Scope,
        *,
        assistant_id: str | None = None,
        thread_id: str | None = None,
        enabled: bool | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> int:
        where = _filters(scope, assistant_id, thread_id, enabled, metadata)
        if where is None:
            return 0
        row = await self._one(where.render(COUNT_SQL), where.params)
        return row["n"]

    async def cron_due(self, now: datetime, *, limit: int) -> list[dict[str, Any]]:
        return await self._all(DUE_SQL, {"now": now, "limit": limit})

    async def cron_next_due(self, now: datetime) -> datetime | None:
        row = await self._one(NEXT_DUE_SQL, {"now": now})
        return row["due"]

    async def cron_skip_tick(self, tick: CronTick) -> bool:
        return await self._one(CLAIM_TICK_SQL, claim_params(tick)) is not None


def _by_id(scope: Scope, cron_id: str) -> Where | None:
    key = canonical_uuid(cron_id)
    if key is None:
        return None
    return Where(scope).add("cron_id = %s", key)

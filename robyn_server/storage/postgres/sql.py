"""Building blocks shared by the Postgres storage queries.

Dynamic SQL is assembled only from constant fragments written here and identifiers
from whitelists; every value travels as a bound parameter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from robyn_server.serialization import dumps
from robyn_server.storage.filters import Contains, Equals, MetadataFilter, OneOf
from robyn_server.storage.types import IfExists, Scope, SortOrder, StorageConflict, canonical_uuid

# Later timestamps are never earlier than the ones they replace, even when two writes
# share a clock tick or the database clock steps back.
ADVANCE_UPDATED_AT = "updated_at = greatest(now(), updated_at + interval '1 microsecond')"
ADVANCE_STATE_UPDATED_AT = (
    "state_updated_at = greatest(now(), state_updated_at + interval '1 microsecond')"
)


def jsonb(value: Any) -> Jsonb:
    # The same encoder as the API's responses: a value that can be sent can be stored
    # (LangChain messages, pydantic models, datetimes), as in the in-memory backend.
    return Jsonb(value, dumps=dumps)


def jsonb_or_null(value: Any) -> Jsonb | None:
    """None becomes SQL NULL rather than the JSON document `null`."""
    return None if value is None else jsonb(value)


def uuid_list(ids: Iterable[str]) -> list[str]:
    """Canonical forms of the well-formed ids, in order, without duplicates; malformed
    ids cannot name a row, so they are dropped instead of failing the uuid cast."""
    seen: dict[str, None] = {}
    for value in ids:
        canonical = canonical_uuid(value)
        if canonical is not None:
            seen.setdefault(canonical)
    return list(seen)


def like_substring(needle: str) -> str:
    """An ILIKE pattern matching `needle` anywhere, with its wildcards taken literally."""
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def metadata_condition(where: MetadataFilter, column: str) -> tuple[str, list[Any]]:
    """`where` as one SQL condition on the jsonb `column` (a constant fragment), with its
    parameters. Equality and containment are written as `@>` where they can be, which
    the metadata columns' GIN indexes serve; an object or array compared whole also
    needs `=` (containment alone would accept a larger one)."""
    clauses: list[str] = []
    params: list[Any] = []
    for condition in where.conditions:
        if isinstance(condition, Equals):
            if isinstance(condition.value, dict | list):
                clauses.append(f"({column} @> %s AND {column} -> %s = %s)")
                params += [
                    jsonb({condition.key: condition.value}),
                    condition.key,
                    jsonb(condition.value),
                ]
            else:
                clauses.append(f"{column} @> %s")
                params.append(jsonb({condition.key: condition.value}))
        elif isinstance(condition, Contains):
            clauses.append(f"{column} @> %s")
            params.append(jsonb({condition.key: condition.values}))
        elif isinstance(condition, OneOf):
            alternatives = [metadata_condition(f, column) for f in condition.filters]
            clauses.append("(" + (" OR ".join(a for a, _ in alternatives) or "FALSE") + ")")
            params += [p for _, ps in alternatives for p in ps]
    return "(" + (" AND ".join(clauses) or "TRUE") + ")", params


class Where:
    """A conjunction of constant SQL fragments plus the parameters they bind, in order.

    It starts with the scope's conditions: the owner column, and the metadata filter
    on `metadata_column` (both constant fragments naming the row's own columns)."""

    __slots__ = ("clauses", "params")

    def __init__(
        self, scope: Scope, owner_column: str = "owner", metadata_column: str = "metadata"
    ) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []
        if scope.owner is not None:
            self.add(f"{owner_column} = %s", scope.owner)
        if scope.metadata_filter is not None:
            clause, params = metadata_condition(scope.metadata_filter, metadata_column)
            self.add(clause, *params)

    def add(self, clause: str, *params: Any) -> Where:
        self.clauses.append(clause)
        self.params.extend(params)
        return self

    # Annotations in this class import psycopg.sql's types by name: `sql` in the class
    # body is the method below, not the module.
    def sql(self) -> SQL:
        return sql.SQL(" AND ".join(self.clauses) or "TRUE")

    def render(self, template: str, **parts: Any) -> Composed:
        """`template` with `{where}` (and any other named parts) filled in."""
        return sql.SQL(template).format(where=self.sql(), **parts)


# A run is visible when its thread is: the metadata filter applies to the thread's
# metadata (the owner column is copied from the thread into the run).
THREAD_OF_RUN = (
    "EXISTS (SELECT 1 FROM langgraph_server.threads t "
    "WHERE t.thread_id = runs.thread_id AND {condition})"
)


def runs_where(scope: Scope) -> Where:
    """A Where over the runs table (unaliased) for `scope`."""
    where = Where(Scope(owner=scope.owner))
    if scope.metadata_filter is not None:
        condition, params = metadata_condition(scope.metadata_filter, "t.metadata")
        where.add(THREAD_OF_RUN.format(condition=condition), *params)
    return where


def order_by(sort_by: str, sort_order: SortOrder, id_column: str, table: str) -> sql.Composed:
    """ORDER BY a whitelisted column, ties broken by the id in the same direction.

    Columns are qualified with the table: the SELECT list renames `id::text AS id`, and an
    unqualified name would sort by that text alias, which no index serves.
    """
    direction = sql.SQL("ASC" if sort_order == "asc" else "DESC")
    return sql.SQL("ORDER BY {col} {dir}, {id} {dir}").format(
        col=sql.Identifier(table, sort_by), id=sql.Identifier(table, id_column), dir=direction
    )


# The shared pool's connections return rows as dicts (row_factory=dict_row, see
# app/persistence.py `_open_pool`).
DictConnection = AsyncConnection[DictRow]
DictPool = AsyncConnectionPool[DictConnection]


class PostgresBase:
    """Holds the shared pool; borrows a connection per call and never closes the pool."""

    def __init__(self, pool: DictPool) -> None:
        self._pool = pool

    async def _one(self, query: Any, params: Sequence[Any] | dict[str, Any]) -> Any:
        async with self._pool.connection() as conn:
            cur = await conn.execute(query, params)
            return await cur.fetchone()

    async def _create(
        self,
        query: Any,
        params: Sequence[Any] | dict[str, Any],
        if_exists: IfExists,
        existing: Callable[[], Awaitable[dict[str, Any] | None]],
        what: str,
    ) -> dict[str, Any]:
        """Run an `INSERT ... ON CONFLICT DO NOTHING RETURNING`; on a conflict, return the
        visible existing row for `do_nothing`, else raise `StorageConflict`."""
        created = await self._one(query, params)
        if created is not None:
            return created
        if if_exists == "do_nothing":
            row = await existing()
            if row is not None:
                return row
        raise StorageConflict(f"{what} already exists")

    async def _all(self, query: Any, params: Sequence[Any] | dict[str, Any]) -> list[Any]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(query, params)
            return await cur.fetchall()

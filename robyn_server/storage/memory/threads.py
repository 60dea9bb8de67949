"""Thread half of `InMemoryStorage`, plus the row helpers both halves share."""

from __future__ import annotations

import copy
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from robyn_server.serialization import to_jsonable
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
    json_contains,
    next_offset,
    require_uuid,
    utcnow,
)

_TICK = timedelta(microseconds=1)

Record = dict[str, Any]


def stored(value: Any) -> Any:
    """`value` as a jsonb column hands it back: a JSON round trip with the encoder the
    Postgres backend uses, so tuples come back as lists, integer keys as strings, and
    LangChain messages as dicts, on both backends alike. (Reads hand out copies.)"""
    return to_jsonable(value)


class Row:
    """A stored record plus its owner, which never leaves the backend."""

    __slots__ = ("data", "owner")

    def __init__(self, owner: str | None, data: Record) -> None:
        self.owner = owner
        self.data = data


def later_than(previous: datetime) -> datetime:
    # Two writes can land in the same clock tick; "updated_at advances" must still hold.
    return max(utcnow(), previous + _TICK)


def _null_last(value: Any) -> tuple[bool, Any]:
    # Postgres puts NULLs after every value in ascending order (and so first when
    # descending); a None never reaches the comparison of the second element.
    return (value is None, 0 if value is None else value)


def page_of(
    records: list[Record], id_key: str, sort_by: str, sort_order: SortOrder, limit: int, offset: int
) -> Page:
    """Sort as Postgres does (ties broken by id, NULLs last ascending) and page."""
    records.sort(key=lambda r: (_null_last(r[sort_by]), r[id_key]), reverse=sort_order == "desc")
    window = records[offset : offset + limit + 1]
    return Page(
        items=[copy.deepcopy(r) for r in window[:limit]],
        next_offset=next_offset(offset, limit, len(window)),
    )


class ThreadsInMemory:
    def __init__(self) -> None:
        self._threads: dict[str, Row] = {}

    @staticmethod
    def _visible(scope: Scope, row: Row | None, metadata: Any = UNSET) -> bool:
        """Whether `scope` sees `row`: its owner, and its metadata (or `metadata`, for a
        run: its thread's) against the scope's filter."""
        if row is None or (scope.owner is not None and row.owner != scope.owner):
            return False
        where = scope.metadata_filter
        if where is None:
            return True
        return where.matches(row.data["metadata"] if metadata is UNSET else metadata)

    def _thread_row(self, scope: Scope, thread_id: str) -> Row | None:
        key = canonical_uuid(thread_id)
        row = self._threads.get(key) if key else None
        return row if self._visible(scope, row) else None

    def _forget_thread(self, key: str) -> None:
        """Drop a thread; the runs half extends this to drop the thread's runs with it."""
        del self._threads[key]

    def _insert_thread(self, scope: Scope, key: str, **fields: Any) -> Record:
        now = utcnow()
        record = {
            "thread_id": key,
            "created_at": now,
            "updated_at": now,
            "state_updated_at": now,
            "metadata": {},
            "status": "idle",
            "config": {},
            "values": None,
            "interrupts": {},
            "error": None,
            "ttl": None,
        }
        record.update(stored(fields))
        self._threads[key] = Row(scope.owner, record)
        return copy.deepcopy(record)

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
        existing = self._threads.get(key)
        if existing is not None:
            if if_exists == "raise" or not self._visible(scope, existing):
                raise StorageConflict(f"thread {key} already exists")
            return copy.deepcopy(existing.data)
        return self._insert_thread(scope, key, metadata=metadata, ttl=ttl)

    async def thread_get(self, scope: Scope, thread_id: str) -> dict[str, Any] | None:
        row = self._thread_row(scope, thread_id)
        return copy.deepcopy(row.data) if row else None

    async def thread_update(
        self,
        scope: Scope,
        thread_id: str,
        *,
        metadata: dict[str, Any] | None = None,
        ttl: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        row = self._thread_row(scope, thread_id)
        if row is None:
            return None
        data = row.data
        if metadata is not None:
            data["metadata"] = {**data["metadata"], **stored(metadata)}
        if ttl is not None:
            data["ttl"] = stored(ttl)
        data["updated_at"] = later_than(data["updated_at"])
        return copy.deepcopy(data)

    async def thread_delete(self, scope: Scope, thread_id: str) -> bool:
        row = self._thread_row(scope, thread_id)
        if row is None:
            return False
        self._forget_thread(row.data["thread_id"])
        return True

    async def thread_delete_many(self, scope: Scope, thread_ids: Sequence[str]) -> list[str]:
        deleted: list[str] = []
        for thread_id in thread_ids:
            row = self._thread_row(scope, thread_id)
            if row is not None:
                key = row.data["thread_id"]
                self._forget_thread(key)
                deleted.append(key)
        return deleted

    def _thread_filter(
        self,
        scope: Scope,
        metadata: dict[str, Any] | None,
        values: dict[str, Any] | None,
        status: str | None,
        ids: Collection[str | None] | None = None,
    ) -> list[Record]:
        return [
            row.data
            for row in self._threads.values()
            if self._visible(scope, row)
            and (not metadata or json_contains(row.data["metadata"], metadata))
            and (not values or json_contains(row.data["values"], values))
            and (status is None or row.data["status"] == status)
            and (ids is None or row.data["thread_id"] in ids)
        ]

    async def thread_expired(self, *, limit: int = 100) -> list[dict[str, Any]]:
        now = utcnow()
        due = []
        for row in self._threads.values():
            ttl = row.data.get("ttl")
            if not ttl or ttl.get("ttl_minutes") is None:
                continue
            expires_at = row.data["updated_at"] + timedelta(minutes=float(ttl["ttl_minutes"]))
            if expires_at <= now:
                due.append((expires_at, row.data["thread_id"], ttl.get("strategy", "delete")))
        due.sort()
        return [{"thread_id": tid, "strategy": strategy} for _, tid, strategy in due[:limit]]

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
        wanted = None if ids is None else {canonical_uuid(i) for i in ids}
        matches = self._thread_filter(scope, metadata, values, status, wanted)
        return page_of(matches, "thread_id", sort_by, sort_order, limit, offset)

    async def thread_count(
        self,
        scope: Scope,
        *,
        metadata: dict[str, Any] | None = None,
        values: dict[str, Any] | None = None,
        status: str | None = None,
    ) -> int:
        return len(self._thread_filter(scope, metadata, values, status))

    async def thread_copy(
        self,
        scope: Scope,
        thread_id: str,
        new_thread_id: str,
        *,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        new_key = require_uuid(new_thread_id, "new_thread_id")
        row = self._thread_row(scope, thread_id)
        if row is None:
            return None
        if new_key in self._threads:
            raise StorageConflict(f"thread {new_key} already exists")
        source = row.data
        fields = {f: source[f] for f in ("metadata", "config", "values", "interrupts", "error")}
        if metadata is not None:
            fields["metadata"] = metadata
        return self._insert_thread(scope, new_key, **fields)

    def _fence_holds(self, fence: RunFence) -> bool:
        raise NotImplementedError  # the runs mixin (memory/runs.py) knows the runs

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
        if status is not None:
            check_status(status)
        if fence is not None and not self._fence_holds(fence):
            raise LeaseLost(f"run {fence.run_id} is no longer held by this worker")
        row = self._thread_row(scope, thread_id)
        if row is None:
            return None
        data = row.data
        if status is not None:
            data["status"] = status
        if config is not None:
            data["config"] = stored(config)
        if metadata is not None:
            data["metadata"] = {**data["metadata"], **stored(metadata)}
        state = {"values": values, "interrupts": interrupts, "error": error}
        state = {k: stored(v) for k, v in state.items() if v is not UNSET}
        if "interrupts" in state and state["interrupts"] is None:
            # The record promises a dict; "no interrupts" is spelled {}.
            state["interrupts"] = {}
        if state:
            data.update(state)
            data["state_updated_at"] = later_than(data["state_updated_at"])
        data["updated_at"] = later_than(data["updated_at"])
        return copy.deepcopy(data)

"""Assistant half of `InMemoryStorage` (assembled in memory/storage.py)."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from robyn_server.storage.memory.runs import RunsInMemory
from robyn_server.storage.memory.threads import Record, Row, later_than, page_of, stored
from robyn_server.storage.types import (
    ASSISTANT_SORT_COLUMNS,
    IfExists,
    Page,
    Scope,
    SortOrder,
    StorageConflict,
    canonical_uuid,
    check_paging,
    check_sort,
    json_contains,
    require_uuid,
    utcnow,
)


class AssistantsInMemory(RunsInMemory):
    def __init__(self) -> None:
        super().__init__()
        self._assistants: dict[str, Row] = {}
        self._versions: dict[str, list[Record]] = {}  # oldest first

    def _assistant_row(self, scope: Scope, assistant_id: str) -> Row | None:
        key = canonical_uuid(assistant_id)
        row = self._assistants.get(key) if key else None
        return row if self._visible(scope, row) else None

    # -- assistants ------------------------------------------------------------------

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
        existing = self._assistants.get(key)
        if existing is not None:
            if if_exists == "raise" or not self._visible(scope, existing):
                raise StorageConflict(f"assistant {key} already exists")
            return copy.deepcopy(existing.data)
        now = utcnow()
        record = {
            "assistant_id": key,
            "graph_id": graph_id,
            "config": stored(config),
            "context": stored(context),
            "metadata": stored(metadata),
            "name": name,
            "description": description,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        self._assistants[key] = Row(scope.owner, record)
        self._versions[key] = [_version_of(record, 1, now)]
        return copy.deepcopy(record)

    async def assistant_get(self, scope: Scope, assistant_id: str) -> dict[str, Any] | None:
        row = self._assistant_row(scope, assistant_id)
        return copy.deepcopy(row.data) if row else None

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
        row = self._assistant_row(scope, assistant_id)
        if row is None:
            return None
        data = row.data
        key = data["assistant_id"]
        replacements = {
            "graph_id": graph_id,
            "config": config,
            "context": context,
            "name": name,
            "description": description,
        }
        for field, value in replacements.items():
            if value is not None:
                data[field] = stored(value)
        if metadata is not None:
            data["metadata"] = {**data["metadata"], **stored(metadata)}
        versions = self._versions[key]
        version = max(v["version"] for v in versions) + 1
        data["version"] = version
        data["updated_at"] = later_than(data["updated_at"])
        versions.append(_version_of(data, version, data["updated_at"]))
        return copy.deepcopy(data)

    def _forget_assistant(self, key: str) -> None:
        """Drop an assistant with its versions; the cron half extends this."""
        del self._assistants[key]
        del self._versions[key]

    async def assistant_delete(
        self,
        scope: Scope,
        assistant_id: str,
        *,
        delete_threads: bool = False,
        thread_scope: Scope | None = None,
    ) -> list[str] | None:
        row = self._assistant_row(scope, assistant_id)
        if row is None:
            return None
        key = row.data["assistant_id"]
        self._forget_assistant(key)
        if not delete_threads:
            return []
        threads_of = scope if thread_scope is None else thread_scope
        doomed = [
            thread_id
            for thread_id, thread in self._threads.items()
            if self._visible(threads_of, thread)
            and thread.data["metadata"].get("assistant_id") == key
        ]
        for thread_id in doomed:
            self._forget_thread(thread_id)
        return doomed

    def _assistant_filter(
        self,
        scope: Scope,
        metadata: dict[str, Any] | None,
        graph_id: str | None,
        name: str | None,
    ) -> list[Record]:
        needle = name.lower() if name else None
        return [
            row.data
            for row in self._assistants.values()
            if self._visible(scope, row)
            and (not metadata or json_contains(row.data["metadata"], metadata))
            and (graph_id is None or row.data["graph_id"] == graph_id)
            and (needle is None or needle in row.data["name"].lower())
        ]

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
        matches = self._assistant_filter(scope, metadata, graph_id, name)
        return page_of(matches, "assistant_id", sort_by, sort_order, limit, offset)

    async def assistant_count(
        self,
        scope: Scope,
        *,
        metadata: dict[str, Any] | None = None,
        graph_id: str | None = None,
        name: str | None = None,
    ) -> int:
        return len(self._assistant_filter(scope, metadata, graph_id, name))

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
        row = self._assistant_row(scope, assistant_id)
        if row is None:
            return []
        newest_first = reversed(self._versions[row.data["assistant_id"]])
        matches = [
            v for v in newest_first if not metadata or json_contains(v["metadata"], metadata)
        ]
        return [copy.deepcopy(v) for v in matches[offset : offset + limit]]

    async def assistant_set_latest(
        self, scope: Scope, assistant_id: str, version: int
    ) -> dict[str, Any] | None:
        row = self._assistant_row(scope, assistant_id)
        if row is None:
            return None
        data = row.data
        versions = self._versions[data["assistant_id"]]
        chosen = next((v for v in versions if v["version"] == version), None)
        if chosen is None:
            return None
        for field in ("graph_id", "config", "context", "metadata", "name", "description"):
            data[field] = copy.deepcopy(chosen[field])
        data["version"] = version
        data["updated_at"] = later_than(data["updated_at"])
        return copy.deepcopy(data)


def _version_of(assistant: Record, version: int, created_at: datetime) -> Record:
    return {
        "assistant_id": assistant["assistant_id"],
        "graph_id": assistant["graph_id"],
        "config": copy.deepcopy(assistant["config"]),
        "context": copy.deepcopy(assistant["context"]),
        "metadata": copy.deepcopy(assistant["metadata"]),
        "name": assistant["name"],
        "description": assistant["description"],
        "version": version,
        "created_at": created_at,
    }

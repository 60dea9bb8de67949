"""Cron half of `InMemoryStorage` (the contract is in storage/base_crons.py).

As everywhere in this backend, no method awaits between reading and writing, so a
tick claimed with its run (`run_create(cron_tick=...)`) is one atomic step on the one
event loop, exactly as the transaction is on Postgres.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from datetime import datetime
from typing import Any

from robyn_server.storage.memory.assistants import AssistantsInMemory
from robyn_server.storage.memory.threads import Record, Row, later_than, page_of, stored
from robyn_server.storage.signals import CRONS_CHANNEL, Signals
from robyn_server.storage.types import (
    CRON_SORT_COLUMNS,
    UNSET,
    CronTick,
    CronTickTaken,
    Page,
    Scope,
    SortOrder,
    canonical_uuid,
    check_paging,
    check_sort,
    cron_owner,
    json_contains,
    require_uuid,
    utcnow,
)


def _due(cron: Record, now: datetime) -> bool:
    end = cron["end_time"]
    return cron["enabled"] and cron["next_run_date"] <= now and (end is None or end > now)


class CronsInMemory(AssistantsInMemory):
    def __init__(self, signals: Signals | None = None) -> None:
        super().__init__()
        self._crons: dict[str, Row] = {}
        # Who each cron's runs run as (`cron_create(run_as=...)`); only `cron_due` shows it.
        self._cron_run_as: dict[str, Any] = {}
        # The process's signals, where schedulers hear of crons due sooner (what the
        # crons table's triggers do on Postgres).
        self.signals = signals if signals is not None else Signals()

    async def _wake_schedulers(self, at: datetime) -> None:
        await self.signals.send(CRONS_CHANNEL, str(at.timestamp()))

    def _cron_row(self, scope: Scope, cron_id: str) -> Row | None:
        key = canonical_uuid(cron_id)
        row = self._crons.get(key) if key else None
        return row if self._visible(scope, row) else None

    def _forget_thread(self, key: str) -> None:
        super()._forget_thread(key)
        self._forget_crons("thread_id", key)

    def _forget_assistant(self, key: str) -> None:
        super()._forget_assistant(key)
        self._forget_crons("assistant_id", key)

    def _forget_crons(self, column: str, key: str) -> None:
        for cron_id in [c for c, row in self._crons.items() if row.data[column] == key]:
            del self._crons[cron_id]
            self._cron_run_as.pop(cron_id, None)

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
        key = require_uuid(cron_id, "cron_id")
        assistant_key = require_uuid(assistant_id, "assistant_id")
        if assistant_key not in self._assistants:
            return None
        thread_key = None
        if thread_id is not None:
            thread = self._thread_row(scope, thread_id)
            if thread is None:
                return None
            thread_key = thread.data["thread_id"]
        now = utcnow()
        owner = cron_owner(scope, run_as)
        record = {
            "cron_id": key,
            "assistant_id": assistant_key,
            "thread_id": thread_key,
            "user_id": owner or "",
            "end_time": end_time,
            "schedule": schedule,
            "timezone": timezone,
            "payload": stored(payload),
            "next_run_date": next_run_date,
            "metadata": stored(metadata),
            "on_run_completed": on_run_completed,
            "enabled": enabled,
            "created_at": now,
            "updated_at": now,
        }
        self._crons[key] = Row(owner, record)
        if run_as is not None:
            self._cron_run_as[key] = stored(run_as)
        if enabled:
            await self._wake_schedulers(next_run_date)
        return copy.deepcopy(record)

    async def cron_get(self, scope: Scope, cron_id: str) -> dict[str, Any] | None:
        row = self._cron_row(scope, cron_id)
        return copy.deepcopy(row.data) if row else None

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
        row = self._cron_row(scope, cron_id)
        if row is None:
            return None
        data = row.data
        before = copy.copy(data)
        if payload is not None:
            data["payload"] = {**data["payload"], **stored(payload)}
        if metadata is not None:
            data["metadata"] = {**data["metadata"], **stored(metadata)}
        changes = {
            "schedule": schedule,
            "enabled": enabled,
            "on_run_completed": on_run_completed,
            "next_run_date": next_run_date,
        }
        data.update({column: value for column, value in changes.items() if value is not None})
        if timezone is not UNSET:
            data["timezone"] = timezone
        if end_time is not UNSET:
            data["end_time"] = end_time
        data["updated_at"] = later_than(data["updated_at"])
        # The rule of the Postgres trigger (migrations/0004_crons.sql).
        if data["enabled"] and (
            not before["enabled"]
            or data["next_run_date"] < before["next_run_date"]
            or data["end_time"] != before["end_time"]
        ):
            await self._wake_schedulers(data["next_run_date"])
        return copy.deepcopy(data)

    async def cron_delete(self, scope: Scope, cron_id: str) -> bool:
        row = self._cron_row(scope, cron_id)
        if row is None:
            return False
        del self._crons[row.data["cron_id"]]
        self._cron_run_as.pop(row.data["cron_id"], None)
        return True

    def _cron_filter(
        self,
        scope: Scope,
        assistant_id: str | None,
        thread_id: str | None,
        enabled: bool | None,
        metadata: dict[str, Any] | None,
    ) -> list[Record]:
        # A malformed id names no cron: "" never equals a stored id.
        wanted = {
            "assistant_id": None if assistant_id is None else canonical_uuid(assistant_id) or "",
            "thread_id": None if thread_id is None else canonical_uuid(thread_id) or "",
            "enabled": enabled,
        }
        wanted = {column: value for column, value in wanted.items() if value is not None}
        return [
            row.data
            for row in self._crons.values()
            if self._visible(scope, row)
            and all(row.data[column] == value for column, value in wanted.items())
            and (not metadata or json_contains(row.data["metadata"], metadata))
        ]

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
        matches = self._cron_filter(scope, assistant_id, thread_id, enabled, metadata)
        return page_of(matches, "cron_id", sort_by, sort_order, limit, offset)

    async def cron_count(
        self,
        scope: Scope,
        *,
        assistant_id: str | None = None,
        thread_id: str | None = None,
        enabled: bool | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> int:
        return len(self._cron_filter(scope, assistant_id, thread_id, enabled, metadata))

    async def cron_due(self, now: datetime, *, limit: int) -> list[dict[str, Any]]:
        due = [row.data for row in self._crons.values() if _due(row.data, now)]
        picked = random.sample(due, min(limit, len(due)))
        return [
            {**copy.deepcopy(r), "run_as": copy.deepcopy(self._cron_run_as.get(r["cron_id"]))}
            for r in picked
        ]

    async def cron_next_due(self, now: datetime) -> datetime | None:
        return min(
            (
                data["next_run_date"]
                for data in (row.data for row in self._crons.values())
                if data["enabled"]
                and (data["end_time"] is None or data["end_time"] > max(data["next_run_date"], now))
            ),
            default=None,
        )

    def _claim(self, tick: CronTick) -> Record:
        """The cron whose tick this is, if the tick is still its to claim."""
        row = self._crons.get(canonical_uuid(tick.cron_id) or "")
        if row is None or row.data["next_run_date"] != tick.due or not _due(row.data, tick.now):
            raise CronTickTaken(f"cron {tick.cron_id}: tick {tick.due.isoformat()} is taken")
        return row.data

    async def cron_skip_tick(self, tick: CronTick) -> bool:
        try:
            self._claim(tick)["next_run_date"] = tick.following
        except CronTickTaken:
            return False
        return True

    def _take_cron_tick(self, tick: CronTick) -> Callable[[], None]:
        cron = self._claim(tick)

        def claim() -> None:
            cron["next_run_date"] = tick.following

        return claim

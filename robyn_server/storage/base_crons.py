"""The cron half of the storage interface.

Cron: cron_id (str), assistant_id (str), thread_id (str | None: None for a stateless
    cron, which runs each time on a new thread), user_id (the owner, "" when anonymous),
    schedule (str), timezone (str | None), end_time (aware UTC datetime | None), payload
    (dict: the run body each tick creates), metadata (dict), on_run_completed
    ("delete" | "keep" | None), enabled (bool), next_run_date, created_at, updated_at
    (aware UTC datetimes).

The rows are the schedule: there is no other job store. A cron is *due* when it is
enabled, its `next_run_date` has come, and its `end_time` (if any) has not. Deleting a
cron's thread or assistant deletes the cron. A tick is claimed together with the run it
creates (`run_create(cron_tick=...)`), or skipped without one (`cron_skip_tick`), so a
tick either has its run or has not moved, whatever crashes in between.

A write that may make a cron due sooner (creating it enabled, enabling it, moving its
`next_run_date` earlier, changing its `end_time`) sends `CRONS_CHANNEL` on the signals
of this storage (storage/signals.py), so that every scheduler sharing it looks again: on
PostgreSQL the table's triggers notify, in memory the storage sends on its local
`Signals`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any

from robyn_server.storage.types import UNSET, CronTick, Page, Scope, SortOrder


class CronStorage(ABC):
    @abstractmethod
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
        """Create a cron owned by `scope`. None, writing nothing, if its assistant is
        missing or (for a thread cron) its thread is missing or not visible to `scope`.
        Wakes every scheduler sharing this storage (`CRONS_CHANNEL`).

        `run_as` (custom auth) is the user the cron's runs run as, a JSON dict with an
        `identity`: kept with the cron for `cron_due` only, and, when `scope` has no
        owner, its identity is the cron's owner (`user_id`)."""

    @abstractmethod
    async def cron_get(self, scope: Scope, cron_id: str) -> dict[str, Any] | None:
        """A cron, or None."""

    @abstractmethod
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
        """Change a cron: `payload` and `metadata` are merged (top-level keys replace),
        `timezone` and `end_time` replace when passed (None clears them), the others
        replace when not None. `updated_at` advances. None if the cron is missing.
        Wakes the schedulers when the cron may now be due sooner."""

    @abstractmethod
    async def cron_delete(self, scope: Scope, cron_id: str) -> bool:
        """Delete a cron. False if it is missing."""

    @abstractmethod
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
        """Filter (exact ids and `enabled`, metadata containment), sort (ties broken by
        cron_id) and page."""

    @abstractmethod
    async def cron_count(
        self,
        scope: Scope,
        *,
        assistant_id: str | None = None,
        thread_id: str | None = None,
        enabled: bool | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> int:
        """How many crons `cron_search` would match without paging."""

    # -- for the scheduler only, hence no scope ---------------------------------------

    @abstractmethod
    async def cron_due(self, now: datetime, *, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` crons of every owner that are due at `now`, a random sample of
        them: schedulers sharing a burst each read often and mostly pick different ones.
        Each also carries `run_as` (see `cron_create`; None without one)."""

    @abstractmethod
    async def cron_next_due(self, now: datetime) -> datetime | None:
        """The earliest `next_run_date` among crons that can still fire: enabled, and
        whose `end_time` (if any) is after both their `next_run_date` and `now`. A cron
        past its end is left out, so a sleeping scheduler never wakes for it again."""

    @abstractmethod
    async def cron_skip_tick(self, tick: CronTick) -> bool:
        """Claim `tick` without creating a run, when its run was refused
        (a `reject` strategy on a busy thread, a graph no longer loaded). False if the
        tick was already taken or the cron changed."""

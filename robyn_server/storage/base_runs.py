"""The run half of the storage interface.

Run: run_id (str), thread_id (str), assistant_id (str), metadata (dict), status
    ("pending" | "running" | "success" | "error" | "timeout" | "interrupted"), kwargs
    (dict: input, command, config, context, stream_mode, ... as the API returns them),
    multitask_strategy (str), created_at, updated_at (aware UTC datetimes), attempt (int,
    1 for a first execution; internal, routes drop it from API output).

A run belongs to one thread; deleting the thread deletes its runs. A thread is
*inflight* while it has a run that is pending or running. The run engine relies on
these methods being atomic per call (one transaction on Postgres; no `await` between
check and write in memory), because concurrent requests race on the same thread.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from robyn_server.storage.types import INFLIGHT_STATUSES, CronTick, Scope


class RunStorage(ABC):
    @abstractmethod
    async def run_create(
        self,
        scope: Scope,
        *,
        run_id: str,
        thread_id: str,
        assistant_id: str,
        metadata: dict[str, Any],
        kwargs: dict[str, Any],
        multitask_strategy: str,
        created_at: datetime | None = None,
        create_thread: dict[str, Any] | None = None,
        thread_metadata: dict[str, Any] | None = None,
        thread_config: dict[str, Any] | None = None,
        reject_if_inflight: bool = False,
        cron_tick: CronTick | None = None,
    ) -> tuple[dict[str, Any], list[str]] | None:
        """Insert a `pending` run (attempt 1) and mark its thread `busy`, atomically.

        - The thread must exist and be visible to `scope`; otherwise, when
          `create_thread` is given (a metadata dict), the thread is created first with
          that metadata; otherwise nothing is written and None is returned.
        - `thread_metadata` is merged into the thread's metadata and `thread_config`
          replaces its config (both optional).
        - With `reject_if_inflight`, raises `ThreadBusy` before writing anything if the
          thread has a pending or running run.
        - `created_at` defaults to now; a later value delays the run (`after_seconds`).
        - With `cron_tick`, the run is a cron's: the tick is claimed in the same
          transaction (see `CronStorage.cron_skip_tick` for the rule), and if it cannot
          be, `CronTickTaken` is raised and nothing is written. A run that is not
          created (None, `ThreadBusy`) leaves the tick unclaimed.

        Returns the run and the ids of the thread's *other* inflight runs, oldest first
        (the caller interrupts or rolls them back for those multitask strategies).
        """

    @abstractmethod
    async def run_get(
        self, scope: Scope, run_id: str, *, thread_id: str | None = None
    ) -> dict[str, Any] | None:
        """A run, or None. With `thread_id`, the run must belong to that thread."""

    @abstractmethod
    async def run_search(
        self,
        scope: Scope,
        thread_id: str,
        *,
        status: str | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """A thread's runs, newest first (`created_at` desc, ties by run_id desc)."""

    @abstractmethod
    async def run_delete(self, scope: Scope, run_id: str, *, thread_id: str) -> bool:
        """Delete one run. False if it is missing (or not in that thread)."""

    @abstractmethod
    async def run_inflight(
        self,
        scope: Scope,
        *,
        thread_id: str | None = None,
        run_ids: Sequence[str] | None = None,
        statuses: Sequence[str] = INFLIGHT_STATUSES,
    ) -> list[dict[str, Any]]:
        """Runs whose status is in `statuses` (a subset of pending/running), optionally
        limited to one thread and/or to given ids, oldest first. For cancel endpoints and
        the multitask strategies."""

    @abstractmethod
    async def run_claim(self, thread_id: str) -> dict[str, Any] | None:
        """Start the thread's next run: the oldest `pending` run whose `created_at` is
        not in the future becomes `running`, but only if no run of the thread is running
        already; the thread is then `busy` (whatever a concurrent settle wrote). Returns
        the run, or None. Engine-internal, hence no scope."""

    @abstractmethod
    async def run_next_due(self, thread_id: str) -> datetime | None:
        """`created_at` of the thread's oldest pending run, or None (for delayed runs)."""

    @abstractmethod
    async def run_set_status(
        self, run_id: str, status: str, *, only_if: Sequence[str] | None = None
    ) -> dict[str, Any] | None:
        """Set a run's status (and `updated_at`). With `only_if`, only when its current
        status is one of those. Returns the updated run, or None if nothing changed."""

    @abstractmethod
    async def run_recover(self, *, max_attempts: int) -> dict[str, list[str]]:
        """After a crash: every `running` run (of every owner) goes back to `pending`
        with attempt + 1, unless it has already had `max_attempts` attempts, in which
        case it ends `error`. Returns `{"requeued": [run ids], "failed": [run ids],
        "threads": [ids of threads with pending runs, requeued or not]}`."""

    @abstractmethod
    async def run_suspend_running(self) -> list[str]:
        """At shutdown: every `running` run goes back to `pending` (same attempt), so the
        next start executes it again. Returns their ids."""

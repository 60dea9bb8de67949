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

from robyn_server.storage.types import INFLIGHT_STATUSES, CronTick, RunFence, Scope


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
        holder: str | None = None,
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
        - `holder`: the worker holding the run's secrets in memory (they are never
          stored). While that worker lives, only it claims the run (Postgres).

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
    async def run_claim(
        self, thread_id: str, *, worker_id: str | None = None
    ) -> dict[str, Any] | None:
        """Start the thread's next run: the oldest `pending` run whose `created_at` is
        not in the future becomes `running` under `worker_id`, but only if no run of the
        thread is running already; the thread is then `busy` (whatever a concurrent
        settle wrote). Returns the run, or None. Engine-internal, hence no scope."""

    @abstractmethod
    async def run_next_due(self, thread_id: str) -> datetime | None:
        """`created_at` of the thread's oldest pending run, or None (for delayed runs)."""

    @abstractmethod
    async def run_set_status(
        self,
        run_id: str,
        status: str,
        *,
        only_if: Sequence[str] | None = None,
        fence: RunFence | None = None,
    ) -> dict[str, Any] | None:
        """Set a run's status (and `updated_at`). With `only_if`, only when its current
        status is one of those; with `fence`, only while the fence's worker and attempt
        still hold it. Returns the updated run, or None if nothing changed."""

    @abstractmethod
    async def run_recover(
        self, *, max_attempts: int, dead_workers: Sequence[str] = (), all_pending: bool = True
    ) -> dict[str, list[str]]:
        """Orphaned runs go back to the queue: every `running` run whose worker is not
        alive (its lease expired, or it is in `dead_workers`; in memory, every one) goes
        back to `pending` with attempt + 1, unless it has already had `max_attempts`
        attempts, in which case it ends `error`. Runs of live workers are never touched.
        Returns `{"requeued": [run ids], "failed": [run ids], "threads": [ids of threads
        with pending runs: requeued ones, and with `all_pending` every one]}`."""

    @abstractmethod
    async def run_suspend_running(self, *, worker_id: str | None = None) -> list[str]:
        """At shutdown: the `running` runs of `worker_id` (None: all) go back to
        `pending` (same attempt), so another process or the next start executes them
        again. Returns their ids."""

    # -- workers: several processes sharing one database (memory has one process) -------

    async def worker_register(
        self, worker_id: str, *, lease_seconds: float, host: str, pid: int
    ) -> None:
        """Announce a live worker (one server process) with a lease of `lease_seconds`."""
        return None

    async def worker_heartbeat(self, worker_id: str, *, lease_seconds: float) -> bool:
        """Renew the lease; False when recovery has already taken the worker's runs
        (its lease had expired): it must then stop writing for the runs it executes.
        An expired lease whose runs nobody took is simply renewed."""
        return True

    async def worker_retire(self, worker_id: str) -> None:
        """Remove a worker that stopped cleanly."""
        return None

    async def worker_list(self) -> list[dict[str, Any]]:
        """Every registered worker: worker_id, host, pid, alive (lease not expired)."""
        return []

    async def run_due_threads(self, limit: int = 1000) -> list[str]:
        """Threads with a due pending run and none running (for a safety sweep)."""
        return []

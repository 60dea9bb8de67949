"""Run half of `InMemoryStorage` (the contract is in storage/base_runs.py).

No method awaits between reading and writing, so on the one event loop every call is
atomic, which is what the run engine relies on. A run's owner is its thread's owner,
as in the Postgres backend, so scoped reads see a thread's runs exactly when they see
the thread.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from robyn_server.storage.memory.threads import Record, Row, ThreadsInMemory, later_than, stored
from robyn_server.storage.types import (
    INFLIGHT_STATUSES,
    RUN_STATUSES,
    CronTick,
    RunFence,
    Scope,
    StorageConflict,
    ThreadBusy,
    canonical_uuid,
    check_paging,
    require_uuid,
    utcnow,
)


def _age(run: Record) -> tuple[datetime, str]:
    return run["created_at"], run["run_id"]


class RunsInMemory(ThreadsInMemory):
    def __init__(self) -> None:
        super().__init__()
        self._runs: dict[str, Row] = {}
        # The worker that claimed each running run (kept beside the records, which are
        # API output): one process in memory, but fences work the same as on Postgres.
        self._claimed_by: dict[str, str | None] = {}
        # Run ids per thread, so per-thread calls never scan other threads' runs.
        self._thread_runs: dict[str, dict[str, None]] = {}
        # Default creation stamps strictly increase, so runs queued one after the
        # other are claimed in that order even within one clock tick.
        self._run_clock = datetime.min.replace(tzinfo=UTC)

    def _forget_thread(self, key: str) -> None:
        super()._forget_thread(key)
        for run_id in self._thread_runs.pop(key, {}):
            del self._runs[run_id]

    def _take_cron_tick(self, tick: CronTick) -> Callable[[], None]:
        """Check that `tick` is still there to claim (else `CronTickTaken`) and return
        what claims it; the cron half (crons.py) implements it."""
        raise NotImplementedError

    def _run_visible(self, scope: Scope, row: Row) -> bool:
        """A run is visible when its thread is (the filter is on the thread's metadata)."""
        if scope.metadata_filter is None:
            return self._visible(scope, row)
        thread = self._threads[row.data["thread_id"]]
        return self._visible(scope, row, thread.data["metadata"])

    def _runs_of(self, thread_key: str) -> list[Record]:
        return [self._runs[run_id].data for run_id in self._thread_runs.get(thread_key, {})]

    def _run_row(self, scope: Scope, run_id: str, thread_id: str | None) -> Row | None:
        key = canonical_uuid(run_id)
        row = self._runs.get(key) if key else None
        if row is None or not self._run_visible(scope, row):
            return None
        if thread_id is not None and row.data["thread_id"] != canonical_uuid(thread_id):
            return None
        return row

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
        holder: str | None = None,  # one process: it holds every run's secrets
    ) -> tuple[dict[str, Any], list[str]] | None:
        run_key = require_uuid(run_id, "run_id")
        assistant_key = require_uuid(assistant_id, "assistant_id")
        if create_thread is not None:
            thread_key: str | None = require_uuid(thread_id, "thread_id")
        else:
            thread_key = canonical_uuid(thread_id)
        if thread_key is None:
            return None
        claim_tick = self._take_cron_tick(cron_tick) if cron_tick is not None else None
        thread = self._thread_row(scope, thread_key)
        if thread is None and (create_thread is None or thread_key in self._threads):
            # Missing, or the id is taken by a thread this scope cannot see.
            return None
        others = sorted(
            (r for r in self._runs_of(thread_key) if r["status"] in INFLIGHT_STATUSES), key=_age
        )
        if reject_if_inflight and others:
            raise ThreadBusy(f"thread {thread_key} has a pending or running run")
        if run_key in self._runs:
            raise StorageConflict(f"run {run_key} already exists")
        if thread is None:
            self._insert_thread(scope, thread_key, metadata=create_thread)
            thread = self._threads[thread_key]

        self._run_clock = stamp = later_than(self._run_clock)
        record = {
            "run_id": run_key,
            "thread_id": thread_key,
            "assistant_id": assistant_key,
            "metadata": stored(metadata),
            "status": "pending",
            "kwargs": stored(kwargs),
            "multitask_strategy": multitask_strategy,
            "created_at": stamp if created_at is None else created_at,
            "updated_at": stamp,
            "attempt": 1,
        }
        self._runs[run_key] = Row(thread.owner, record)
        self._thread_runs.setdefault(thread_key, {})[run_key] = None

        data = thread.data
        data["status"] = "busy"
        if thread_metadata:
            data["metadata"] = {**data["metadata"], **stored(thread_metadata)}
        if thread_config is not None:
            data["config"] = stored(thread_config)
        data["updated_at"] = later_than(data["updated_at"])
        if claim_tick is not None:
            claim_tick()
        return copy.deepcopy(record), [r["run_id"] for r in others]

    async def run_get(
        self, scope: Scope, run_id: str, *, thread_id: str | None = None
    ) -> dict[str, Any] | None:
        row = self._run_row(scope, run_id, thread_id)
        return copy.deepcopy(row.data) if row else None

    async def run_search(
        self,
        scope: Scope,
        thread_id: str,
        *,
        status: str | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        check_paging(limit, offset)
        thread_key = canonical_uuid(thread_id)
        if thread_key is None:
            return []
        matches = [
            self._runs[run_id]
            for run_id in self._thread_runs.get(thread_key, {})
            if self._run_visible(scope, self._runs[run_id])
        ]
        runs = [row.data for row in matches if status is None or row.data["status"] == status]
        runs.sort(key=_age, reverse=True)
        return [copy.deepcopy(r) for r in runs[offset : offset + limit]]

    async def run_delete(self, scope: Scope, run_id: str, *, thread_id: str) -> bool:
        row = self._run_row(scope, run_id, thread_id)
        if row is None:
            return False
        run_key, thread_key = row.data["run_id"], row.data["thread_id"]
        del self._runs[run_key]
        del self._thread_runs[thread_key][run_key]
        return True

    async def run_inflight(
        self,
        scope: Scope,
        *,
        thread_id: str | None = None,
        run_ids: Sequence[str] | None = None,
        statuses: Sequence[str] = INFLIGHT_STATUSES,
    ) -> list[dict[str, Any]]:
        wanted = set(statuses)
        if not wanted <= set(INFLIGHT_STATUSES):
            raise ValueError(f"statuses must be among {INFLIGHT_STATUSES}, got {statuses!r}")
        thread_key = None
        if thread_id is not None:
            thread_key = canonical_uuid(thread_id)
            if thread_key is None:
                return []
        candidates: Iterable[Row | None]
        if run_ids is not None:
            keys = {canonical_uuid(i) for i in run_ids}
            candidates = [self._runs.get(key) for key in keys if key is not None]
        elif thread_key is not None:
            candidates = [self._runs[key] for key in self._thread_runs.get(thread_key, {})]
        else:
            candidates = self._runs.values()
        runs = [
            row.data
            for row in candidates
            if row is not None
            and self._run_visible(scope, row)
            and row.data["status"] in wanted
            and (thread_key is None or row.data["thread_id"] == thread_key)
        ]
        runs.sort(key=_age)
        return [copy.deepcopy(r) for r in runs]

    def _fence_holds(self, fence: RunFence) -> bool:
        key = canonical_uuid(fence.run_id)
        row = self._runs.get(key) if key else None
        return (
            row is not None
            and row.data["status"] == "running"
            and row.data["attempt"] == fence.attempt
            and self._claimed_by.get(row.data["run_id"]) == fence.worker_id
        )

    async def run_claim(
        self, thread_id: str, *, worker_id: str | None = None
    ) -> dict[str, Any] | None:
        thread_key = canonical_uuid(thread_id)
        if thread_key is None:
            return None
        runs = self._runs_of(thread_key)
        if any(r["status"] == "running" for r in runs):
            return None
        now = utcnow()
        due = [r for r in runs if r["status"] == "pending" and r["created_at"] <= now]
        if not due:
            return None
        run = min(due, key=_age)
        run["status"] = "running"
        self._claimed_by[run["run_id"]] = worker_id
        run["updated_at"] = later_than(run["updated_at"])
        thread = self._threads[thread_key].data
        if thread["status"] != "busy":
            thread["status"] = "busy"
            thread["updated_at"] = later_than(thread["updated_at"])
        return copy.deepcopy(run)

    async def run_next_due(self, thread_id: str) -> datetime | None:
        thread_key = canonical_uuid(thread_id)
        runs = self._runs_of(thread_key) if thread_key else []
        return min((r["created_at"] for r in runs if r["status"] == "pending"), default=None)

    async def run_set_status(
        self,
        run_id: str,
        status: str,
        *,
        only_if: Sequence[str] | None = None,
        fence: RunFence | None = None,
    ) -> dict[str, Any] | None:
        if status not in RUN_STATUSES:
            raise ValueError(f"status must be one of {', '.join(RUN_STATUSES)}, got {status!r}")
        key = canonical_uuid(run_id)
        row = self._runs.get(key) if key else None
        if row is None or (only_if is not None and row.data["status"] not in only_if):
            return None
        if fence is not None and not self._fence_holds(fence):
            return None
        if status != "running":
            self._claimed_by.pop(row.data["run_id"], None)
        row.data["status"] = status
        row.data["updated_at"] = later_than(row.data["updated_at"])
        return copy.deepcopy(row.data)

    def _running(self) -> list[Record]:
        return sorted(
            (r.data for r in self._runs.values() if r.data["status"] == "running"), key=_age
        )

    async def run_recover(
        self, *, max_attempts: int, dead_workers: Sequence[str] = (), all_pending: bool = True
    ) -> dict[str, list[str]]:
        # One process: whatever is running when it recovers was left by a dead one.
        self._claimed_by.clear()
        requeued: list[str] = []
        failed: list[str] = []
        for run in self._running():
            if run["attempt"] >= max_attempts:
                run["status"] = "error"
                failed.append(run["run_id"])
            else:
                run["status"] = "pending"
                run["attempt"] += 1
                requeued.append(run["run_id"])
            run["updated_at"] = later_than(run["updated_at"])
        oldest_pending: dict[str, datetime] = {}
        for row in self._runs.values():
            run = row.data
            if run["status"] == "pending":
                seen = oldest_pending.get(run["thread_id"])
                if seen is None or run["created_at"] < seen:
                    oldest_pending[run["thread_id"]] = run["created_at"]
        threads = sorted(oldest_pending, key=lambda tid: (oldest_pending[tid], tid))
        return {"requeued": requeued, "failed": failed, "threads": threads}

    async def run_suspend_running(self, *, worker_id: str | None = None) -> list[str]:
        suspended = [
            run
            for run in self._running()
            if worker_id is None or self._claimed_by.get(run["run_id"]) == worker_id
        ]
        for run in suspended:
            self._claimed_by.pop(run["run_id"], None)
            run["status"] = "pending"
            run["updated_at"] = later_than(run["updated_at"])
        return [run["run_id"] for run in suspended]

"""The run engine: one queue per thread, started the moment a run is created.

A run is never tied to the request that created it. `submit` opens the run's event
channel and wakes its thread's worker; the worker claims pending runs of that thread one
at a time, oldest first (storage makes the claim atomic), and executes them as tasks of
the server's event loop. No polling: the only timers are for runs delayed with
`after_seconds`.

Cancellation (`cancel`, and the interrupt/rollback multitask strategies) cancels the
executing task with an action the executor reads when it sees the cancellation.

Every storage call the engine makes on its own (claiming, settling) goes through
`retry_storage` (engine/retry.py), so a database outage delays them instead of losing them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from robyn_server.config import Settings
from robyn_server.engine import webhooks
from robyn_server.engine.broker import Broker, RunChannel
from robyn_server.engine.cluster import Cluster, WorkerIdentity
from robyn_server.engine.execution import (
    Execution,
    end_pending_run,
    execute_run,
    settle_failed_runs,
)
from robyn_server.engine.retry import StorageGaveUp, retry_storage
from robyn_server.engine.stream_slots import StreamSlots
from robyn_server.graphs.registry import GraphRegistry
from robyn_server.storage.base import Storage
from robyn_server.storage.persistence import Persistence
from robyn_server.storage.types import ANONYMOUS, LeaseLost, RunFence, utcnow

logger = logging.getLogger("robyn_server.engine")
T = TypeVar("T")


class RunEngine:
    def __init__(
        self,
        settings: Settings,
        registry: GraphRegistry,
        persistence: Persistence,
        broker: Broker,
        stream_slots: StreamSlots,
        identity: WorkerIdentity | None = None,
    ) -> None:
        self.registry = registry
        self.persistence = persistence
        self.broker = broker
        self.timeout = settings.run_timeout_seconds
        self.max_attempts = settings.run_max_attempts
        self.heartbeat = settings.sse_heartbeat_seconds
        self._semaphore = asyncio.Semaphore(settings.run_max_concurrency)
        self._workers: dict[str, asyncio.Task] = {}
        # A run a thread's worker claimed while deciding whether to go on (_claim_next).
        self._next: dict[str, dict[str, Any]] = {}
        self._rekick: set[str] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        # Threads that may hold runs delayed by after_seconds: only their workers ask
        # storage for the next due time, so an ordinary run costs no extra query.
        self._delayed: set[str] = set()
        self._executions: dict[str, Execution] = {}
        self._secrets: dict[str, Any] = {}
        self._background: set[asyncio.Task] = set()
        self.webhook_policy = webhooks.WebhookPolicy.from_sources(
            registry.webhooks_config(), settings.webhook_allow_private
        )
        self.stream_slots = stream_slots
        self.stopping = False
        self._stopped = asyncio.Event()  # wakes storage retries when the server stops
        # Subscribes to the storage's signals now, before the app starts them.
        self.cluster = Cluster(
            self,
            identity or WorkerIdentity(),
            lease=settings.run_lease_seconds,
            sweep=settings.run_queue_sweep_seconds,
        )

    @property
    def worker_id(self) -> str:
        return self.cluster.worker_id

    @property
    def shared(self) -> bool:
        """True when other processes may execute this database's runs (Postgres)."""
        return self.cluster.shared

    @property
    def storage(self) -> Storage:
        return self.persistence.storage

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Join the run queue, and pick up what dead processes left: runs they were
        executing (crash) and runs still queued."""
        recovered = await self.cluster.start()
        if recovered["requeued"] or recovered["failed"]:
            logger.warning(
                "Recovered runs from a previous process: %d re-queued, %d failed after %d attempts",
                len(recovered["requeued"]),
                len(recovered["failed"]),
                self.max_attempts,
            )
        await self.after_recovery(recovered)

    async def after_recovery(self, recovered: dict[str, list[str]]) -> None:
        await settle_failed_runs(self, recovered["failed"])
        for thread_id in recovered["threads"]:
            self._delayed.add(thread_id)  # queued runs may be delayed ones
            self.kick(thread_id)

    async def stop(self) -> None:
        """Stop executing; runs that were running here go back to pending (attempt
        unchanged), and other processes are told, so they run them again at once."""
        self.stopping = True
        self._stopped.set()
        await self.cluster.stop()
        for timer in self._timers.values():
            timer.cancel()
        suspended: list[str] = []
        try:
            suspended = await self.storage.run_suspend_running(worker_id=self.worker_id)
        except Exception:
            logger.exception("Could not mark in-flight runs for recovery")
        for execution in list(self._executions.values()):
            execution.stop("shutdown")
        tasks = [e.task for e in self._executions.values() if e.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        if suspended:
            logger.info("Marked %d in-flight runs for recovery", len(suspended))
        try:
            await self.cluster.retire()
        except Exception:
            logger.warning("Could not retire this worker; its lease will run out instead")
        self.stream_slots.stop()
        await webhooks.close()

    # -- submitting and scheduling ------------------------------------------------------

    def submit(self, run: dict[str, Any], secrets: Any = None) -> RunChannel:
        kwargs = run["kwargs"]
        channel = self.broker.open(run["run_id"], run["thread_id"], bool(kwargs.get("resumable")))
        if secrets is not None:
            self._secrets[run["run_id"]] = secrets
        if run["created_at"] > utcnow():
            self._delayed.add(run["thread_id"])
        self.kick(run["thread_id"])
        return channel

    def kick(self, thread_id: str, *, from_signal: bool = False) -> None:
        """Have this thread's worker look for a run to start (`from_signal`: another
        process said there may be one)."""
        if self.stopping:
            return
        if thread_id in self._workers:
            self._rekick.add(thread_id)
            return
        task = asyncio.get_running_loop().create_task(self._work(thread_id))
        self._workers[thread_id] = task

    async def _work(self, thread_id: str) -> None:
        try:
            while not self.stopping:
                self._rekick.discard(thread_id)
                run = self._next.pop(thread_id, None) or await self._claim(thread_id)
                if run is None:
                    if thread_id in self._rekick:
                        continue
                    if thread_id in self._delayed:
                        await self.retry_storage(
                            f"scheduling the delayed runs of thread {thread_id}",
                            lambda: self._schedule_delayed(thread_id),
                        )
                    return
                execution = await self._execute(run)
                if run["kwargs"].get("temporary"):
                    return  # a stateless run's thread has no other run, and is gone now
                if execution.left_queued and self.shared:
                    # Runs wait behind the one that just ended. If this worker cannot
                    # start the next (its secrets are held by the process that created
                    # it), that process must hear about it.
                    if await self._claim_next(thread_id):
                        continue
                    return
        except StorageGaveUp:
            pass  # shutting down with the database away: the next start takes over
        except Exception:
            logger.exception("Run worker for thread %s failed", thread_id)
        finally:
            if self._workers.get(thread_id) is asyncio.current_task():
                del self._workers[thread_id]
            if thread_id in self._rekick and not self.stopping:
                self._rekick.discard(thread_id)
                self.kick(thread_id)

    async def _claim(self, thread_id: str) -> dict[str, Any] | None:
        storage = self.storage
        try:
            return await storage.run_claim(thread_id, worker_id=self.worker_id)
        except storage.transient_errors:
            if self.stopping:
                raise StorageGaveUp(f"claiming a run of thread {thread_id}") from None
        return await self.retry_storage(
            f"claiming a run of thread {thread_id}", lambda: self._reclaim(thread_id)
        )

    async def _reclaim(self, thread_id: str) -> dict[str, Any] | None:
        """Claim again after a failed claim, which may have committed with only its
        answer lost: its run is then `running` with nobody executing it, and would
        block the thread for good. While a thread's worker claims, no run of that thread
        executes here, so such a run, if claimed by this worker (the fence), goes back
        to pending; other workers' runs are theirs."""
        storage = self.storage
        for run in await storage.run_inflight(ANONYMOUS, thread_id=thread_id, statuses=["running"]):
            if run["run_id"] not in self._executions:
                fence = RunFence(run["run_id"], self.worker_id, run["attempt"])
                await storage.run_set_status(
                    run["run_id"], "pending", only_if=["running"], fence=fence
                )
        return await storage.run_claim(thread_id, worker_id=self.worker_id)

    async def retry_storage(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """`retry_storage` (engine/retry.py) for as long as this engine runs."""
        return await retry_storage(what, call, self.storage.transient_errors, self._stopped)

    async def _schedule_delayed(self, thread_id: str) -> None:
        due = await self.storage.run_next_due(thread_id)
        if due is None:
            self._delayed.discard(thread_id)
            return
        delay = max(0.0, (due - utcnow()).total_seconds())
        old = self._timers.pop(thread_id, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        self._timers[thread_id] = loop.call_later(delay + 0.001, self._timer_fired, thread_id)

    def _timer_fired(self, thread_id: str) -> None:
        self._timers.pop(thread_id, None)
        self.kick(thread_id)

    async def _claim_next(self, thread_id: str) -> bool:
        """After a run ended with others queued: True if this worker should go on
        claiming; otherwise the thread is offered to the other processes."""
        run = await self._claim(thread_id)
        if run is not None:
            self._next[thread_id] = run
            return True
        await self.cluster.offer([thread_id])
        return False

    async def _execute(self, run: dict[str, Any]) -> Execution:
        execution = Execution(run, fence=RunFence(run["run_id"], self.worker_id, run["attempt"]))
        self._executions[run["run_id"]] = execution
        if (early := self.cluster.early_cancel(run["run_id"])) is not None:
            execution.cancel_action = early
        try:
            async with self._semaphore:
                task = asyncio.current_task()
                assert task is not None  # running as the worker's task
                execution.task = task
                if execution.cancel_action is not None:
                    # Cancelled between claim and start.
                    task.cancel()
                await execute_run(self, execution, self._secrets.pop(run["run_id"], None))
        finally:
            execution.done.set()
            self._executions.pop(run["run_id"], None)
        return execution

    # -- cancelling ----------------------------------------------------------------------

    async def cancel(self, run_ids: list[str], *, thread_id: str | None, action: str) -> None:
        """Stop running runs (their executor settles status and checkpoints) and end
        pending ones: `interrupted`, or deleted for `rollback`. Runs executing in another
        process are stopped there."""
        executing = [self._executions[r] for r in run_ids if r in self._executions]
        elsewhere: list[str] = []
        # Queued runs first: while the running one still runs, none of them can be
        # claimed, so none slips into execution between the two steps.
        for run_id in run_ids:
            if run_id not in self._executions:
                if not await end_pending_run(self, run_id, action) and self.shared:
                    elsewhere.append(run_id)
        for execution in executing:
            execution.stop(action)
        if elsewhere:
            await self.cluster.cancel_elsewhere(elsewhere, action)

    def stop_local(self, run_id: str, action: str) -> bool:
        """Stop the run if it executes here; False when it does not."""
        execution = self._executions.get(run_id)
        if execution is None:
            return False
        execution.stop(action)
        return True

    def stop_local_threads(self, thread_ids: list[str]) -> list[Execution]:
        wanted = set(thread_ids)
        stopping = [e for e in self._executions.values() if e.run["thread_id"] in wanted]
        for execution in stopping:
            execution.stop("rollback")
        return stopping

    def abandon_all(self) -> None:
        """The lease was lost: others own these runs now; stop without writing."""
        for execution in list(self._executions.values()):
            execution.stop("lost")

    async def check_lease(self, fence: RunFence | None) -> None:
        """Raise LeaseLost unless this worker still holds the run under `fence`
        (checkpoint writes call this; it costs nothing while the last renewal is
        recent). A worker that lost its lease takes a new id, so older fences fail."""
        if fence is not None and fence.worker_id != self.worker_id:
            raise LeaseLost(f"run {fence.run_id} was handed over to another process")
        if self.cluster.lease_is_fresh():
            return
        if not await self.cluster.renew():
            raise LeaseLost("this worker's lease expired; its runs were handed over")

    async def stop_threads(self, thread_ids: list[str]) -> None:
        """Stop the runs executing on threads that are being deleted, wherever they
        execute, and wait for them, so none writes checkpoints after the thread is gone."""
        stopping = self.stop_local_threads(thread_ids)
        if self.shared:
            await self.cluster.stop_threads_elsewhere(thread_ids)
        for execution in stopping:
            await self.wait_stopped(execution.run["run_id"], seconds=10)
        if self.shared:
            stopped = await self.cluster.wait_remote(
                lambda: self.cluster.runs_stopped(thread_ids=thread_ids), 10
            )
            if not stopped:
                logger.warning("Runs of threads %s did not stop within 10 s", thread_ids)

    async def wait_stopped(self, run_id: str, seconds: float | None = None) -> None:
        execution = self._executions.get(run_id)
        if execution is not None:
            try:
                await asyncio.wait_for(execution.done.wait(), seconds)
            except TimeoutError:
                logger.warning("Run %s did not stop within %s s", run_id, seconds)
        elif self.shared:
            stopped = await self.cluster.wait_remote(
                lambda: self.cluster.runs_stopped(run_ids=[run_id]), seconds or 30
            )
            if not stopped:
                logger.warning("Run %s did not stop within %s s", run_id, seconds)

    # -- helpers for the executor and services ---------------------------------------------

    async def validate_webhook(self, url: str) -> None:
        await self.webhook_policy.validate(url)

    def spawn(self, coro: Any) -> None:
        """Fire-and-forget work (webhooks, temporary thread clean-up) that must not die
        with the garbage collector."""
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

"""The engine's side of sharing one run queue with other processes (Postgres only).

Every server process is a *worker* with an id and a lease in storage. This module keeps
the lease, finds the runs of dead workers, and carries the messages that make a run
behave the same whichever process executes it:

- **Lease.** Renewed every quarter of `RUN_LEASE_SECONDS`. A heartbeat that finds its
  lease already expired means others may have re-queued our runs: every execution here
  stops without writing anything (their newer attempts stand), and the worker
  registers again. `lease_is_fresh` lets writers skip any check while the last renewal
  is recent enough that nobody can have taken over.
- **Recovery.** Each heartbeat also re-queues orphans (running runs whose worker's lease
  expired), so a dead process's runs are running elsewhere about one lease after it
  died. Storage wakes the threads it re-queued with a signal.
- **Wake-ups.** A run is started by the process that creates it. A process that leaves a
  run for others (shutting down, at its concurrency limit) signals its thread on
  `RUNS_CHANNEL`; every process that hears it tries to claim (one wins). A slow sweep
  (`RUN_QUEUE_SWEEP_SECONDS`) catches wake-ups lost while a listener reconnected.
- **Control.** Cancelling a run or stopping a thread's runs is local when the run
  executes here, and a `RUN_CONTROL_CHANNEL` signal otherwise: `cancel <action> <ids>`
  or `stop <thread ids>`. A cancel that arrives for a run this process is about to
  start (claimed, not yet registered) is remembered for a few seconds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from robyn_server.storage.base import Storage
from robyn_server.storage.persistence import Persistence
from robyn_server.storage.signals import RUN_CONTROL_CHANNEL, RUNS_CHANNEL
from robyn_server.storage.types import ANONYMOUS

logger = logging.getLogger("robyn_server.engine.cluster")

# NOTIFY payloads must stay under 8,000 bytes: ids are sent in groups of this many.
IDS_PER_SIGNAL = 150
EARLY_CANCEL_SECONDS = 10.0
# How often waiting for a run that executes elsewhere looks at its status.
REMOTE_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class WorkerIdentity:
    """Who this process is in the run queue, and which workers the supervisor saw die
    (their runs are re-queued at once instead of after their lease)."""

    worker_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    dead_workers: tuple[str, ...] = ()
    # Which of the supervisor's processes this is (and so which listening socket it uses).
    slot: int = 0


class QueueEngine(Protocol):
    """What the cluster needs of the run engine (engine.py), named here so that the
    import goes one way."""

    persistence: Persistence
    max_attempts: int

    @property
    def storage(self) -> Storage: ...

    def kick(self, thread_id: str, *, from_signal: bool = False) -> None: ...

    def spawn(self, coro: Any) -> None: ...

    def stop_local(self, run_id: str, action: str) -> bool: ...

    def stop_local_threads(self, thread_ids: list[str]) -> Any: ...

    def abandon_all(self) -> None: ...

    async def after_recovery(self, recovered: dict[str, list[str]]) -> None: ...


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), IDS_PER_SIGNAL):
        yield ids[start : start + IDS_PER_SIGNAL]


class Cluster:
    def __init__(self, engine: QueueEngine, identity: WorkerIdentity, lease: float, sweep: float):
        self.engine = engine
        self.worker_id = identity.worker_id
        self.inherited_dead = identity.dead_workers
        self.lease = lease
        self.sweep_every = sweep
        self.signals = engine.persistence.signals
        self.shared = self.signals.cross_process
        self._fresh_until = 0.0
        self._task: asyncio.Task[None] | None = None
        self._early_cancels: dict[str, tuple[str, float]] = {}
        self.signals.subscribe(RUNS_CHANNEL, self._on_runs)
        self.signals.subscribe(RUN_CONTROL_CHANNEL, self._on_control)
        self.signals.on_resync(self._on_resync)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> dict[str, list[str]]:
        """Register, then re-queue what dead workers left; returns run_recover's answer."""
        storage = self.engine.storage
        if self.shared:
            await self._register()
        dead = list(self.inherited_dead) + await self._dead_on_this_host()
        recovered = await storage.run_recover(
            max_attempts=self.engine.max_attempts, dead_workers=dead
        )
        if self.shared:
            self._task = asyncio.get_running_loop().create_task(self._heartbeats())
        return recovered

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass

    async def retire(self) -> None:
        if self.shared:
            await self.engine.storage.worker_retire(self.worker_id)

    async def _register(self) -> None:
        started = time.monotonic()
        await self.engine.storage.worker_register(
            self.worker_id, lease_seconds=self.lease, host=socket.gethostname(), pid=os.getpid()
        )
        self._fresh_until = started + self.lease * 0.75

    async def _dead_on_this_host(self) -> list[str]:
        """Workers registered from this host whose process is gone (a whole server killed
        and started again): no need to wait for their leases to run out."""
        if not self.shared:
            return []
        host = socket.gethostname()
        dead = []
        for worker in await self.engine.storage.worker_list():
            if worker["host"] == host and worker["worker_id"] != self.worker_id:
                if not _pid_alive(worker["pid"]):
                    dead.append(worker["worker_id"])
        return dead

    # -- the lease -------------------------------------------------------------------------

    def lease_is_fresh(self) -> bool:
        return not self.shared or time.monotonic() < self._fresh_until

    async def renew(self) -> bool:
        """Renew the lease now; False (and every execution here stopped) if it was lost."""
        started = time.monotonic()
        if await self.engine.storage.worker_heartbeat(self.worker_id, lease_seconds=self.lease):
            self._fresh_until = started + self.lease * 0.75
            return True
        self._fresh_until = 0.0
        logger.error(
            "This process lost its run lease (paused or cut off for over %.0f s): its "
            "runs were handed to other processes; stopping its executions of them",
            self.lease,
        )
        self.engine.abandon_all()
        # A new identity: fences naming the old one (its abandoned executions, which may
        # still be finishing a write) can never hold again.
        self.worker_id = str(uuid.uuid4())
        await self._register()
        return False

    async def _heartbeats(self) -> None:
        beat = self.lease / 4
        next_sweep = time.monotonic() + self.sweep_every
        while True:
            await asyncio.sleep(beat)
            try:
                await self.renew()
                await self.recover_orphans()
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + self.sweep_every
                    await self.sweep()
            except asyncio.CancelledError:
                raise
            except self.engine.storage.transient_errors as exc:
                logger.warning("Run queue heartbeat failed (%s); retrying", exc)
            except Exception:
                logger.exception("Run queue heartbeat failed")

    async def recover_orphans(self) -> None:
        engine = self.engine
        recovered = await engine.storage.run_recover(
            max_attempts=engine.max_attempts, all_pending=False
        )
        if recovered["requeued"] or recovered["failed"]:
            logger.warning(
                "Re-queued %d runs of a dead process (%d failed after %d attempts)",
                len(recovered["requeued"]),
                len(recovered["failed"]),
                engine.max_attempts,
            )
        await engine.after_recovery(recovered)

    async def sweep(self) -> None:
        for thread_id in await self.engine.storage.run_due_threads():
            self.engine.kick(thread_id)

    # -- wake-ups --------------------------------------------------------------------------

    async def offer(self, thread_ids: list[str]) -> None:
        """Tell the other processes these threads have runs this one will not start."""
        if self.shared and thread_ids:
            for thread_id in dict.fromkeys(thread_ids):
                await self.signals.send(RUNS_CHANNEL, thread_id)

    def _on_runs(self, thread_id: str) -> None:
        self.engine.kick(thread_id, from_signal=True)

    def _on_resync(self) -> None:
        # Signals may have been missed while the listener was away.
        self.engine.spawn(self.sweep())

    # -- control -----------------------------------------------------------------------------

    async def cancel_elsewhere(self, run_ids: list[str], action: str) -> None:
        for chunk in _chunks(run_ids):
            await self.signals.send(RUN_CONTROL_CHANNEL, f"cancel {action} {','.join(chunk)}")

    async def stop_threads_elsewhere(self, thread_ids: list[str]) -> None:
        for chunk in _chunks(thread_ids):
            await self.signals.send(RUN_CONTROL_CHANNEL, f"stop {','.join(chunk)}")

    def _on_control(self, payload: str) -> None:
        parts = payload.split(" ")
        if parts[0] == "cancel" and len(parts) == 3:
            self._cancel_here(parts[1], parts[2].split(","))
        elif parts[0] == "stop" and len(parts) == 2:
            self.engine.stop_local_threads(parts[1].split(","))

    def _cancel_here(self, action: str, run_ids: list[str]) -> None:
        now = time.monotonic()
        self._early_cancels = {
            k: v for k, v in self._early_cancels.items() if v[1] > now
        }  # forget stale ones
        for run_id in run_ids:
            if not self.engine.stop_local(run_id, action):
                self._early_cancels[run_id] = (action, now + EARLY_CANCEL_SECONDS)

    def early_cancel(self, run_id: str) -> str | None:
        """The action of a cancel that arrived before this process started the run."""
        entry = self._early_cancels.pop(run_id, None)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    async def wait_remote(self, done: Callable[[], Any], seconds: float) -> bool:
        """Poll `done()` (an awaitable factory answering True when finished)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if await done():
                return True
            await asyncio.sleep(REMOTE_POLL_SECONDS)
        return False

    async def runs_stopped(
        self, *, run_ids: list[str] | None = None, thread_ids: list[str] | None = None
    ) -> bool:
        storage = self.engine.storage
        if run_ids is not None:
            running = await storage.run_inflight(ANONYMOUS, run_ids=run_ids, statuses=["running"])
            return not running
        for thread_id in thread_ids or []:
            if await storage.run_inflight(ANONYMOUS, thread_id=thread_id, statuses=["running"]):
                return False
        return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

"""The sweeper that expires threads whose TTL has run out (settings: storage.thread_ttl)."""

from __future__ import annotations

import asyncio
import logging

from robyn_server.engine.checkpoints import delete_thread_checkpoints, prune_keep_latest
from robyn_server.services.context import AppContext
from robyn_server.storage.types import ANONYMOUS

logger = logging.getLogger("robyn_server.ttl")


class ThreadTTLSweeper:
    """Background task: every interval, expire the threads whose TTL has run out."""

    def __init__(self, ctx: AppContext, interval_seconds: float, batch_size: int = 100) -> None:
        self._ctx = ctx
        self._interval = interval_seconds
        self._batch_size = batch_size
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="thread-ttl-sweeper")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Thread TTL sweep failed; retrying next interval")

    async def sweep(self) -> int:
        """Expire every due thread; returns how many were handled."""
        storage, saver = self._ctx.storage, self._ctx.checkpointer
        handled = 0
        while True:
            due = await storage.thread_expired(limit=self._batch_size)
            for item in due:
                thread_id = item["thread_id"]
                if item["strategy"] == "keep_latest":
                    await prune_keep_latest(saver, [thread_id])
                    # Touching the thread restarts its TTL, so it is not pruned every sweep.
                    await storage.thread_update(ANONYMOUS, thread_id, metadata={})
                elif await storage.thread_delete(ANONYMOUS, thread_id):
                    if self._ctx.engine is not None:
                        await self._ctx.engine.stop_threads([thread_id])
                    await delete_thread_checkpoints(saver, [thread_id])
            handled += len(due)
            if len(due) < self._batch_size:
                return handled

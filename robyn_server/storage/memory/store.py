"""LangGraph's `InMemoryStore` with TTLs: per-item `ttl`, `refresh_ttl` on read, and a
sweeper, as `AsyncPostgresStore` has them (LangGraph's in-memory store ignores TTLs)."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import suppress
from typing import cast

from langgraph.store.base import (
    GetOp,
    IndexConfig,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
)
from langgraph.store.memory import InMemoryStore

from robyn_server.storage.store_ttl import sweep_minutes

logger = logging.getLogger("robyn_server.store_ttl")

# An item's address: (namespace, key).
Key = tuple[tuple[str, ...], str]


class TTLInMemoryStore(InMemoryStore):
    """LangGraph's InMemoryStore with per-item TTLs, refresh on read and a sweeper.

    Expiry deadlines live beside the items, on a monotonic clock (a wall-clock jump
    must not expire or revive anything). Every batch first deletes what has expired,
    so no operation sees an expired item; deleting instead of hiding is unobservable
    here because an overwrite resets `created_at` in this store anyway. The sweeper
    only frees memory of items nobody touches.
    """

    supports_ttl = True

    __slots__ = (
        "_clock",
        "_expiry",
        "_lock",
        "_next_deadline",
        "_ttl_stop_event",
        "_ttl_sweeper_task",
        "ttl_config",
    )

    def __init__(
        self,
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(index=index)
        self.ttl_config = ttl
        self._clock = clock
        # (namespace, key) -> (deadline in clock seconds, ttl in minutes)
        self._expiry: dict[Key, tuple[float, float]] = {}
        # Never later than the earliest deadline, so a batch with nothing to purge
        # costs one comparison; refreshes only move deadlines later, so a stale value
        # merely costs one scan.
        self._next_deadline = math.inf
        # Graphs may call the sync API from worker threads while the loop serves HTTP.
        self._lock = threading.Lock()
        self._ttl_sweeper_task: asyncio.Task[None] | None = None
        self._ttl_stop_event = asyncio.Event()

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        claimed = self._before(ops)
        try:
            results = super().batch(ops)
        except BaseException:
            self._restore(claimed)
            raise
        self._after(ops, results)
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        claimed = self._before(ops)
        try:
            results = await super().abatch(ops)
        except BaseException:
            self._restore(claimed)
            raise
        self._after(ops, results)
        return results

    async def sweep_ttl(self) -> int:
        """Delete expired items now; returns how many."""
        with self._lock:
            return self._purge(self._clock())

    async def start_ttl_sweeper(
        self, sweep_interval_minutes: float | None = None
    ) -> asyncio.Task[None]:
        """Sweep every `sweep_interval_minutes` (else the configured interval)."""
        if self._ttl_sweeper_task is not None and not self._ttl_sweeper_task.done():
            return self._ttl_sweeper_task
        minutes = sweep_interval_minutes or sweep_minutes(self.ttl_config)
        self._ttl_stop_event = asyncio.Event()
        task = asyncio.create_task(self._sweep_loop(minutes * 60), name="ttl_sweeper")
        self._ttl_sweeper_task = task
        return task

    async def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        """Stop the sweeper; False if it did not stop within `timeout` seconds."""
        task = self._ttl_sweeper_task
        if task is None or task.done():
            return True
        self._ttl_stop_event.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            logger.warning("store TTL sweeper did not stop within %ss", timeout)
            return False
        self._ttl_sweeper_task = None
        return True

    # -- internals ----------------------------------------------------------------------

    async def _sweep_loop(self, seconds: float) -> None:
        while not self._ttl_stop_event.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(self._ttl_stop_event.wait(), seconds)
                return
            try:
                if swept := await self.sweep_ttl():
                    logger.info("store TTL sweep deleted %d expired item(s)", swept)
            except Exception:
                logger.exception("store TTL sweep failed")

    def _before(self, ops: list[Op]) -> dict[Key, tuple[float, float]]:
        """Purge, then take the deadlines of the items this batch overwrites.

        Taken so that a sweep running while the batch writes (a thread, or an await
        for embeddings) cannot delete the new value for the old value's deadline.
        """
        with self._lock:
            self._purge(self._clock())
            if any(isinstance(op, ListNamespacesOp) for op in ops):
                self._drop_empty_namespaces()
            claimed = {}
            for op in ops:
                if isinstance(op, PutOp) and (key := (op.namespace, op.key)) in self._expiry:
                    claimed[key] = self._expiry.pop(key)
            return claimed

    def _restore(self, claimed: dict[Key, tuple[float, float]]) -> None:
        # The batch failed, so the old items and their deadlines stand.
        with self._lock:
            for key, entry in claimed.items():
                self._expiry.setdefault(key, entry)
                self._next_deadline = min(self._next_deadline, entry[0])

    def _after(self, ops: list[Op], results: list[Result]) -> None:
        with self._lock:
            now = self._clock()
            # Refresh before applying puts: a put in the same batch decides the new TTL.
            for op, result in zip(ops, results, strict=True):
                if isinstance(op, GetOp) and op.refresh_ttl and isinstance(result, Item):
                    self._refresh((result.namespace, result.key), now)
                elif isinstance(op, SearchOp) and op.refresh_ttl and result:
                    # `Result` is the union over all ops; a SearchOp's is its hit list.
                    for item in cast(list[SearchItem], result):
                        self._refresh((item.namespace, item.key), now)
            puts = {(op.namespace, op.key): op for op in ops if isinstance(op, PutOp)}
            for key, op in puts.items():
                if op.value is None or op.ttl is None:
                    self._expiry.pop(key, None)
                else:
                    self._set_deadline(key, now, float(op.ttl))

    def _refresh(self, key: Key, now: float) -> None:
        entry = self._expiry.get(key)
        if entry is not None:
            self._set_deadline(key, now, entry[1])

    def _set_deadline(self, key: Key, now: float, minutes: float) -> None:
        deadline = now + minutes * 60
        self._expiry[key] = (deadline, minutes)
        self._next_deadline = min(self._next_deadline, deadline)

    def _purge(self, now: float) -> int:
        if now < self._next_deadline:
            return 0
        expired = [key for key, (deadline, _) in self._expiry.items() if deadline <= now]
        for key in expired:
            del self._expiry[key]
            namespace, name = key
            items = self._data.get(namespace)
            if items is not None:
                items.pop(name, None)
                if not items:
                    del self._data[namespace]
            vectors = self._vectors.get(namespace)
            if vectors is not None:
                vectors.pop(name, None)
                if not vectors:
                    del self._vectors[namespace]
        self._next_deadline = min((d for d, _ in self._expiry.values()), default=math.inf)
        return len(expired)

    def _drop_empty_namespaces(self) -> None:
        # InMemoryStore lists every namespace it ever saw, even ones emptied by
        # deletes (or created by a get); Postgres lists only those with live items.
        for namespace in [ns for ns, items in self._data.items() if not items]:
            del self._data[namespace]

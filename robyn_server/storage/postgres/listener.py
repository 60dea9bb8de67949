"""`PgSignals`: `Signals` (storage/signals.py) across processes with LISTEN/NOTIFY.

Each process holds ONE extra connection, outside the shared pool, that LISTENs on every
subscribed channel; sending is a `pg_notify` through the pool (or, inside a storage
transaction, a `pg_notify` in that transaction, so the signal leaves only if it commits).

The connection is read by one task that waits for notifications in slices of
`POLL_SECONDS`, so channels subscribed after start are LISTENed between two slices and
a dead connection is noticed within one. When the connection breaks, the task
reconnects with a growing delay, LISTENs again and calls the `on_resync` callbacks:
notifications sent while it was away are gone, and subscribers look at the database
again instead.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql

from robyn_server.storage.postgres.sql import DictPool
from robyn_server.storage.signals import Signals

logger = logging.getLogger("robyn_server.storage.listener")

POLL_SECONDS = 1.0
RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)


class PgSignals(Signals):
    cross_process = True

    def __init__(self, pool: DictPool) -> None:
        super().__init__()
        self._pool = pool
        self._conn: AsyncConnection[Any] | None = None
        self._listening: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._connected = asyncio.Event()

    async def start(self) -> None:
        """Connect and LISTEN before returning, so nothing sent after start is missed."""
        await self._connect()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="pg-signals")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        await self._close()

    async def send(self, channel: str, payload: str) -> None:
        async with self._pool.connection() as conn:
            await conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))

    async def wait_connected(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._connected.wait(), seconds)
            return True
        except TimeoutError:
            return False

    # -- the listening connection ------------------------------------------------------

    async def _connect(self) -> None:
        # The pool is opened from a plain URL (app.persistence), never a callable.
        conninfo = self._pool.conninfo
        assert isinstance(conninfo, str)
        conn = await AsyncConnection.connect(conninfo, autocommit=True)
        try:
            for channel in list(self._callbacks):
                await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        self._listening = set(self._callbacks)
        self._connected.set()

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        self._connected.clear()
        if conn is not None:
            try:
                await conn.close()
            except Exception:
                pass

    async def _listen_new(self, conn: AsyncConnection[Any]) -> None:
        for channel in [c for c in self._callbacks if c not in self._listening]:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            self._listening.add(channel)

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                if self._conn is None:
                    await self._connect()
                    failures = 0
                    logger.info("Signals: listening again; subscribers resynchronise")
                    self.resynced()
                conn = self._conn
                assert conn is not None
                await self._listen_new(conn)
                async for notify in conn.notifies(timeout=POLL_SECONDS):
                    self.dispatch(notify.channel, notify.payload)
            except asyncio.CancelledError:
                raise
            except (psycopg.Error, OSError) as exc:
                await self._close()
                if self._stopping:
                    return
                delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
                failures += 1
                logger.warning("Signals: listener lost (%s); retry in %.1fs", exc, delay)
                await asyncio.sleep(delay)

"""Signals across processes: what one `PgSignals` sends, every other one on the database
hears, including channels subscribed after start, and a listener whose connection is
killed comes back, says so (resync), and hears again."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from robyn_server.storage.persistence import Persistence
from robyn_server.storage.postgres.listener import PgSignals

pytestmark = pytest.mark.postgres


def _inbox(signals: PgSignals, channel: str) -> asyncio.Queue[str]:
    queue: asyncio.Queue[str] = asyncio.Queue()
    signals.subscribe(channel, queue.put_nowait)
    return queue


async def test_a_signal_reaches_every_listener(pg_persistence: Persistence) -> None:
    pool = pg_persistence.pool
    assert pool is not None
    first, second = PgSignals(pool), PgSignals(pool)
    inboxes = [_inbox(first, "test_sig_a"), _inbox(second, "test_sig_a")]
    await first.start()
    await second.start()
    try:
        await first.send("test_sig_a", "hello")
        for inbox in inboxes:
            assert await asyncio.wait_for(inbox.get(), 5) == "hello"
        # Subscribed after start: LISTENed within one poll slice.
        late = _inbox(second, "test_sig_late")
        deadline = asyncio.get_running_loop().time() + 5
        while "test_sig_late" not in second._listening:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)
        await first.send("test_sig_late", "later")
        assert await asyncio.wait_for(late.get(), 5) == "later"
    finally:
        await first.stop()
        await second.stop()


async def test_a_lost_listener_reconnects_and_resyncs(
    pg_persistence: Persistence, postgres_url: str
) -> None:
    pool = pg_persistence.pool
    assert pool is not None
    signals = PgSignals(pool)
    inbox = _inbox(signals, "test_sig_b")
    resyncs: list[int] = []
    signals.on_resync(lambda: resyncs.append(1))
    await signals.start()
    try:
        assert signals._conn is not None
        pid = signals._conn.info.backend_pid
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = asyncio.get_running_loop().time() + 10
        while not resyncs:
            assert asyncio.get_running_loop().time() < deadline, "no reconnect"
            await asyncio.sleep(0.05)
        assert signals._conn is not None and signals._conn.info.backend_pid != pid
        await signals.send("test_sig_b", "again")
        assert await asyncio.wait_for(inbox.get(), 5) == "again"
    finally:
        await signals.stop()

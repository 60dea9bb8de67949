"""Two event buses on one database, as two server processes would hold them: a run
executing in one reaches a channel opened in the other (the stream of a run created
there: the path the multi-process run queue takes), and a run nobody else watches is
never stored."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import orjson
import psycopg
import pytest

from robyn_server.engine.event_bus import EventBus
from robyn_server.storage.persistence import Persistence
from robyn_server.storage.postgres.events import PgEventLog
from robyn_server.storage.postgres.listener import PgSignals

pytestmark = pytest.mark.postgres


@pytest.fixture
async def buses(pg_persistence: Persistence) -> AsyncIterator[tuple[EventBus, EventBus]]:
    pool = pg_persistence.pool
    assert pool is not None
    signals = [PgSignals(pool), PgSignals(pool)]
    pair = (
        EventBus(60, PgEventLog(pool), signals[0]),
        EventBus(60, PgEventLog(pool), signals[1]),
    )
    for sig, bus in zip(signals, pair, strict=True):
        await sig.start()
        bus.start()
    try:
        yield pair
    finally:
        for sig, bus in zip(signals, pair, strict=True):
            await bus.stop()
            await sig.stop()


async def _stored(url: str, run_id: str) -> int:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM langgraph_server.run_events WHERE run_id = %s", (run_id,)
        )
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def test_a_run_executing_elsewhere_streams_to_its_creator(buses) -> None:
    here, there = buses
    run_id, thread_id = str(uuid.uuid4()), str(uuid.uuid4())
    created = here.open(run_id, thread_id, False)  # the creating stream's channel
    executing = there.open(run_id, thread_id, False)
    there.publish(executing, "metadata", {"run_id": run_id})
    for i in range(500):
        there.publish(executing, "custom", {"i": i})
        if i % 50 == 49:
            await asyncio.sleep(0.01)
    there.close(executing, {"done": True})

    async def read() -> list[bytes]:
        return [e.data async for e in created.follow(0, 1.0) if e is not None]

    data = await asyncio.wait_for(read(), 15)
    assert orjson.loads(data[0]) == {"run_id": run_id}
    assert [orjson.loads(d) for d in data[1:]] == [{"i": i} for i in range(500)]
    assert created.done and created.result == {"done": True}


async def test_a_run_watched_only_where_it_executes_is_not_stored(buses, postgres_url: str) -> None:
    here, _ = buses
    run_id, thread_id = str(uuid.uuid4()), str(uuid.uuid4())
    channel = here.open(run_id, thread_id, False)
    for i in range(20):
        here.publish(channel, "custom", {"i": i})
    await asyncio.sleep(0.2)  # past the creator's announce delay
    here.close(channel, {})
    await asyncio.sleep(0.2)
    assert await _stored(postgres_url, run_id) == 0

"""Two event buses on one database, as two server processes would hold them: a run
executing in one reaches a channel opened in the other (the stream of a run created
there: the path the multi-process run queue takes), and a run nobody else watches is
never stored."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any
from unittest import mock

import orjson
import psycopg
import pytest

from robyn_server.engine.broker import next_event_id
from robyn_server.engine.event_bus import EventBus
from robyn_server.engine.thread_order import WAIT_SECONDS
from robyn_server.storage.event_log import LoggedEvent
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


class SlowLog(PgEventLog):
    async def append(self, *args: Any, **kwargs: Any) -> None:
        await asyncio.sleep(0.2)
        await super().append(*args, **kwargs)


async def test_a_thread_watched_on_one_process_follows_runs_executing_on_another(buses) -> None:
    """Each run's end comes before the next one's start, with increasing ids, though the
    executing process writes a run's last events and run_done after it could start the
    next one; a state update made after a run ended is in its place; and a watcher
    replaying from the start gets the resumable run and the thread-level events only."""
    here, there = buses
    thread_id = str(uuid.uuid4())
    watch = here.watch_thread(thread_id)
    await asyncio.sleep(0.2)  # the announcement reaches the other process
    runs = [str(uuid.uuid4()) for _ in range(3)]
    # Writes that take a while, so that the next run could start before one's end is in.
    assert isinstance(there.log, PgEventLog)
    there.log = SlowLog(there.log._pool)
    for number, run_id in enumerate(runs):
        run = {"run_id": run_id, "thread_id": thread_id, "kwargs": {"resumable": number == 0}}
        await there.before_run(run)
        # The previous run's log has ended (its end is written a moment after close).
        assert await there.log.thread_tail(thread_id, run_id) == (mock.ANY, [])
        channel = there.open(run_id, thread_id, number == 0)
        there.publish(channel, "metadata", {"run_id": run_id})
        for i in range(50):
            there.publish(channel, "custom", {"run": number, "i": i})
        await there.flush(channel)  # as the engine does before it writes the run's status
        there.close(channel, {"run": number})
        if number == 0:
            # A client that saw the run end (its stream ends once the end is stored)
            # updates the state through the other process.
            assert await channel.wait_done(5)
            await here.publish_state_update(thread_id, {"between": True})

    def names(events) -> list[tuple[str, object]]:
        return [(e.name, orjson.loads(e.data)) for e in events]

    def expected(number: int) -> list[tuple[str, object]]:
        run_id = runs[number]
        return [
            ("metadata", {"run_id": run_id}),
            *[("custom", {"run": number, "i": i}) for i in range(50)],
            ("metadata", {"status": "run_done", "run_id": run_id}),
        ]

    async def take(n: int) -> list:
        return [await watch.queue.get() for _ in range(n)]

    got = await asyncio.wait_for(take(157), 15)
    assert names(got) == [
        *expected(0),
        ("state_update", {"between": True}),
        *expected(1),
        *expected(2),
    ]
    keys = [e.key for e in got]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)

    replaying = here.watch_thread(thread_id, (-1, -1))
    replayed = [await asyncio.wait_for(replaying.queue.get(), 15) for _ in range(55)]
    assert names(replayed) == [
        *expected(0),
        ("state_update", {"between": True}),
        ("metadata", {"status": "run_done", "run_id": runs[1]}),
        ("metadata", {"status": "run_done", "run_id": runs[2]}),
    ]
    here.unwatch_thread(thread_id, watch)
    here.unwatch_thread(thread_id, replaying)


async def test_a_log_left_open_by_a_dead_process_holds_the_next_run_up_once(buses) -> None:
    """A process that died after writing a run's status, before its end: the thread's
    next run waits for that end for a while, then ends the log itself (its watchers get
    an end) and gives ids after the dead run's; later runs go straight on."""
    _, there = buses
    log = there.log
    assert log is not None
    loop = asyncio.get_running_loop()
    thread_id, dead_run = str(uuid.uuid4()), str(uuid.uuid4())
    ahead = (int(time.time() * 1000) + 10_000, 0)  # ids of a process whose clock is ahead
    await log.append(dead_run, thread_id, [LoggedEvent(ahead, "metadata", b"{}")])

    def run(run_id: str) -> dict[str, Any]:
        return {"run_id": run_id, "thread_id": thread_id, "kwargs": {"resumable": True}}

    started = loop.time()
    await there.before_run(run(str(uuid.uuid4())))
    assert WAIT_SECONDS <= loop.time() - started < WAIT_SECONDS + 3
    events, end = await log.read(dead_run)
    assert len(events) == 1 and end is not None and end.result == b"null"
    assert next_event_id() > ahead

    started = loop.time()
    await there.before_run(run(str(uuid.uuid4())))
    assert loop.time() - started < 1

"""The run event log on PostgreSQL (storage/postgres/events.py): batches in one
statement, reads in id order from any point, the end only with every event before it,
the signal sent with each batch, and the sweep."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest

from robyn_server.storage.event_log import LoggedEvent, RunEnd
from robyn_server.storage.persistence import Persistence
from robyn_server.storage.postgres.events import PgEventLog
from robyn_server.storage.postgres.listener import PgSignals

pytestmark = pytest.mark.postgres


def _events(start: int, n: int, ms: int = 1_000) -> list[LoggedEvent]:
    return [LoggedEvent((ms + i // 3, start + i), "custom", b'{"i":%d}' % i) for i in range(n)]


def _log(persistence: Persistence) -> PgEventLog:
    assert persistence.pool is not None
    return PgEventLog(persistence.pool)


async def test_batches_read_back_in_id_order_from_any_point(pg_persistence: Persistence) -> None:
    log = _log(pg_persistence)
    run_id, thread_id = str(uuid.uuid4()), str(uuid.uuid4())
    events = _events(0, 300)
    for start in range(0, 300, 50):
        await log.append(run_id, thread_id, events[start : start + 50])
    got, end = await log.read(run_id)
    assert got == events and end is None
    keys = [e.key for e in got]
    assert keys == sorted(keys) and len(set(keys)) == 300
    got, _ = await log.read(run_id, events[149].key)
    assert got == events[150:]
    # A batch written again (a retry after a lost answer) changes nothing.
    await log.append(run_id, thread_id, events[:10])
    assert (await log.read(run_id))[0] == events
    # Other runs' events stay apart.
    assert await log.read(str(uuid.uuid4())) == ([], None)


async def test_a_thread_replays_its_resumable_runs_merged_by_id(
    pg_persistence: Persistence,
) -> None:
    log = _log(pg_persistence)
    thread_id = str(uuid.uuid4())
    first, second, plain = (str(uuid.uuid4()) for _ in range(3))
    one = [LoggedEvent((1_000, i), "custom", b"1") for i in range(0, 10, 2)]
    two = [LoggedEvent((1_000, i), "custom", b"2") for i in range(1, 10, 2)]
    await log.append(first, thread_id, one, resumable=True)
    await log.append(second, thread_id, two, resumable=True)
    await log.append(plain, thread_id, _events(100, 5), resumable=False)
    got = await log.read_thread(thread_id, (-1, -1))
    assert [e.key for e in got] == [(1_000, i) for i in range(10)]
    assert [e.key for e in await log.read_thread(thread_id, (1_000, 6))] == [
        (1_000, 7),
        (1_000, 8),
        (1_000, 9),
    ]


async def test_the_end_comes_after_every_event(pg_persistence: Persistence) -> None:
    log = _log(pg_persistence)
    run_id, thread_id = str(uuid.uuid4()), str(uuid.uuid4())
    events = _events(0, 30)
    await log.append(run_id, thread_id, events[:20])
    await log.append(run_id, thread_id, events[20:], end=RunEnd(b'{"done":1}'), keep_seconds=60)
    got, end = await log.read(run_id)
    assert got == events
    assert end is not None and end.result == b'{"done":1}'
    assert 50 < end.expires_in <= 60
    # A read that stops short of the last event gets no end yet.
    got, end = await log.read(run_id, limit=10)
    assert got == events[:10] and end is None
    got, end = await log.read(run_id, events[-1].key)
    assert got == [] and end is not None


async def test_each_batch_signals_readers_when_it_commits(pg_persistence: Persistence) -> None:
    assert pg_persistence.pool is not None
    log = _log(pg_persistence)
    signals = PgSignals(pg_persistence.pool)
    heard: asyncio.Queue[str] = asyncio.Queue()
    signals.subscribe("test_event_log", heard.put_nowait)
    await signals.start()
    try:
        run_id, thread_id = str(uuid.uuid4()), str(uuid.uuid4())
        await log.append(run_id, thread_id, _events(0, 5), notify=("test_event_log", f"{run_id} x"))
        assert await asyncio.wait_for(heard.get(), 5) == f"{run_id} x"
        # By the time the signal is heard the batch is readable.
        assert len((await log.read(run_id))[0]) == 5
    finally:
        await signals.stop()


async def test_sweep_drops_expired_and_stale_logs_only(
    pg_persistence: Persistence, postgres_url: str
) -> None:
    log = _log(pg_persistence)
    expired, kept, open_run, stale = (str(uuid.uuid4()) for _ in range(4))
    thread_id = str(uuid.uuid4())
    await log.append(expired, thread_id, _events(0, 5), end=RunEnd(b"{}"), keep_seconds=0)
    await log.append(kept, thread_id, _events(0, 5), end=RunEnd(b"{}"), keep_seconds=600)
    await log.append(open_run, thread_id, _events(0, 5))
    await log.append(stale, thread_id, _events(0, 5))
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE langgraph_server.run_streams SET created_at = now() - interval '3 days' "
            "WHERE run_id = %s",
            (stale,),
        )
    assert await log.sweep(stale_seconds=86400) >= 2
    assert await log.read(expired) == ([], None)
    assert await log.read(stale) == ([], None)
    assert len((await log.read(kept))[0]) == 5
    assert len((await log.read(open_run))[0]) == 5
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        left = conn.execute(
            "SELECT count(*) FROM langgraph_server.run_events WHERE run_id = ANY(%s::uuid[])",
            ([expired, stale],),
        ).fetchone()
    assert left == (0,)


async def test_a_thread_reads_its_runs_and_thread_events_as_one_sequence(
    pg_persistence: Persistence, postgres_url: str
) -> None:
    log = _log(pg_persistence)
    thread_id = str(uuid.uuid4())
    resumable, plain = str(uuid.uuid4()), str(uuid.uuid4())
    done = LoggedEvent((1_000, 9), "metadata", b'{"status":"run_done"}')
    await log.append(
        resumable,
        thread_id,
        [LoggedEvent((1_000, i), "custom", b"r") for i in range(3)],
        end=RunEnd(b"{}"),
        keep_seconds=60,
        resumable=True,
        thread_events=[done],
    )
    update = LoggedEvent((1_001, 0), "state_update", b"{}")
    await log.append_thread_event(thread_id, update, keep_seconds=0)
    await log.append(plain, thread_id, [LoggedEvent((1_002, i), "custom", b"p") for i in range(2)])

    replay = await log.read_thread(thread_id, (-1, -1))
    assert [(e.key, e.name) for e in replay] == [
        ((1_000, 0), "custom"),
        ((1_000, 1), "custom"),
        ((1_000, 2), "custom"),
        ((1_000, 9), "metadata"),
        ((1_001, 0), "state_update"),
    ]
    live = await log.read_thread(thread_id, (1_000, 9), live=True)
    assert [(e.key, e.replayable) for e in live] == [
        ((1_001, 0), True),
        ((1_002, 0), False),
        ((1_002, 1), False),
    ]
    # The run's own stream never shows the thread-level run_done.
    assert [e.name for e in (await log.read(resumable))[0]] == ["custom"] * 3

    # The thread's next run gives ids after the ended log's last one (its run_done),
    # and waits for the open one, unless it is that run itself.
    assert await log.thread_tail(thread_id, str(uuid.uuid4())) == (1_000, [plain])
    # A run executed again gives ids after its own earlier attempt's too.
    assert await log.thread_tail(thread_id, plain) == (1_002, [])
    await log.abandon([plain], keep_seconds=60)
    assert await log.thread_tail(thread_id, str(uuid.uuid4())) == (1_002, [])
    events, end = await log.read(plain)
    assert len(events) == 2 and end is not None and end.result == b"null"

    await log.sweep(stale_seconds=86400)  # the state update was kept for 0 s
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        left = conn.execute(
            "SELECT name FROM langgraph_server.thread_events WHERE thread_id = %s", (thread_id,)
        ).fetchall()
    assert left == [("metadata",)]

"""Run events across two servers on one PostgreSQL database: a run executing on server A
is watched on server B (join stream, /join, thread stream), fast streams arrive complete
and in order, and resumable runs replay from either server, after A restarts too, until
RESUMABLE_STREAM_TTL_SECONDS after they end."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import aclosing
from typing import Any

import httpx
import psycopg
import pytest
from langgraph_sdk import get_client

from tests.support.runs import event_key, eventually, run_id_of
from tests.support.server import ServerProcess
from tests.support.sse import read_sse

pytestmark = pytest.mark.postgres

SERVER_ENV = {"DATABASE_POOL_MAX_SIZE": "4", "RESUMABLE_STREAM_TTL_SECONDS": "15"}


def _server(url: str) -> ServerProcess:
    return ServerProcess(database_url=url, env=SERVER_ENV)


@pytest.fixture(scope="module")
def pair(database_factory: Callable[[], str]) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    url = database_factory()
    a = _server(url).start()
    b = _server(url).start()
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


def _ticks(parts: list[Any]) -> list[int]:
    return [p.data["i"] for p in parts if p.event == "custom"]


async def _background_burst(client: Any, thread_id: str, **input: Any) -> str:
    run = await client.runs.create(
        thread_id, "stream_burst", input=input, stream_mode=["custom", "values"]
    )
    return run["run_id"]


async def test_a_run_on_a_is_joined_and_streamed_on_b(pair) -> None:
    a, b = pair
    client_a, client_b = get_client(url=a.url), get_client(url=b.url)
    thread_id = (await client_a.threads.create())["thread_id"]
    run_id = await _background_burst(client_a, thread_id, n=200, rate=200, start_after=0.5)

    async def join_stream() -> list[Any]:
        return [p async for p in client_b.runs.join_stream(thread_id, run_id)]

    async with asyncio.timeout(30):
        parts, final = await asyncio.gather(join_stream(), client_b.runs.join(thread_id, run_id))
    ticks = _ticks(parts)
    # Joined before the first tick: all of them, once each, in order.
    assert ticks == list(range(200))
    assert parts[-1].event == "values" and parts[-1].data == {
        "n": 200,
        "rate": 200,
        "start_after": 0.5,
        "sent": 200,
    }
    assert final["sent"] == 200
    # Joined after the end: /join answers with the final values at once.
    assert (await client_b.runs.join(thread_id, run_id))["sent"] == 200
    assert (await client_b.runs.get(thread_id, run_id))["status"] == "success"


async def test_a_join_stream_opened_mid_run_on_b_sees_the_rest_in_order(pair) -> None:
    a, b = pair
    client_a, client_b = get_client(url=a.url), get_client(url=b.url)
    thread_id = (await client_a.threads.create())["thread_id"]
    run_id = await _background_burst(client_a, thread_id, n=300, rate=200)
    await asyncio.sleep(0.6)
    async with asyncio.timeout(30):
        parts = [p async for p in client_b.runs.join_stream(thread_id, run_id)]
    ticks = _ticks(parts)
    assert ticks, parts
    assert ticks == list(range(ticks[0], 300))
    assert parts[-1].event == "values" and parts[-1].data["sent"] == 300


async def test_a_queued_run_joined_on_b_is_stored_when_it_starts_later(pair) -> None:
    """B announces its watch while the run waits behind another: A remembers, and
    stores the run's events from its first one when it claims it."""
    a, b = pair
    client_a, client_b = get_client(url=a.url), get_client(url=b.url)
    thread_id = (await client_a.threads.create())["thread_id"]
    first = await _background_burst(client_a, thread_id, n=5, then_sleep=2.0)
    second = (
        await client_a.runs.create(
            thread_id,
            "stream_burst",
            input={"n": 50},
            stream_mode=["custom", "values"],
            multitask_strategy="enqueue",
        )
    )["run_id"]
    assert (await client_b.runs.get(thread_id, second))["status"] == "pending"
    async with asyncio.timeout(30):
        parts = [p async for p in client_b.runs.join_stream(thread_id, second)]
    assert parts[0].event == "metadata" and parts[0].data["run_id"] == second
    assert _ticks(parts) == list(range(50))
    assert (await client_b.runs.get(thread_id, first))["status"] == "success"


async def test_the_thread_stream_on_b_sees_a_run_on_a(pair) -> None:
    a, b = pair
    client_a, client_b = get_client(url=a.url), get_client(url=b.url)
    thread_id = (await client_a.threads.create())["thread_id"]
    seen: list[Any] = []
    run_ids: list[str] = []

    async def watch() -> None:
        async with aclosing(await client_b.threads.join_stream(thread_id)) as stream:
            async for part in stream:
                seen.append(part)
                if (
                    run_ids
                    and part.event == "metadata"
                    and part.data
                    == {
                        "status": "run_done",
                        "run_id": run_ids[0],
                    }
                ):
                    return

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.5)  # the thread stream is open on B
    run_ids.append(await _background_burst(client_a, thread_id, n=30))
    assert (await client_a.runs.join(thread_id, run_ids[0]))["sent"] == 30
    async with asyncio.timeout(15):
        await watcher
    assert _ticks(seen) == list(range(30))
    assert seen[0].event == "metadata" and seen[0].data["run_id"] == run_ids[0]


async def test_the_thread_stream_on_b_keeps_runs_and_state_updates_in_order(pair) -> None:
    """Runs of one thread queued through both servers execute wherever they are claimed;
    the thread stream on B (and a replay of it) still shows each run whole, its
    run_done before the next run's metadata, a state update where it was made, and
    increasing ids."""
    a, b = pair
    client_a, client_b = get_client(url=a.url), get_client(url=b.url)
    thread_id = (await client_a.threads.create())["thread_id"]
    run_ids: list[str] = []

    def last_run_done(part: Any) -> bool:
        return (
            len(run_ids) == 4
            and part.event == "metadata"
            and part.data == {"status": "run_done", "run_id": run_ids[-1]}
        )

    async def watch(**kwargs: Any) -> list[Any]:
        seen: list[Any] = []
        stream = await client_b.threads.join_stream(
            thread_id, stream_mode=["run_modes", "state_update"], **kwargs
        )
        async with aclosing(stream) as parts:
            async for part in parts:
                seen.append(part)
                if last_run_done(part):
                    return seen
        return seen

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.5)  # the thread stream is open on B
    run_ids.append(await _background_burst(client_a, thread_id, n=20))
    await client_b.runs.join(thread_id, run_ids[0])
    await client_a.threads.update_state(thread_id, {"sent": -1})
    for client in (client_b, client_a, client_b):
        run = await client.runs.create(
            thread_id,
            "stream_burst",
            input={"n": 20},
            stream_mode=["custom", "values"],
            multitask_strategy="enqueue",
        )
        run_ids.append(run["run_id"])
    async with asyncio.timeout(30):
        seen = await watcher

    def check(parts: list[Any]) -> None:
        events = [(p.event, p.data) for p in parts]
        update = next(i for i, (name, _) in enumerate(events) if name == "state_update")
        done = {"status": "run_done", "run_id": run_ids[0]}
        assert events[update - 1] == ("metadata", done)
        bounds = [
            i
            for i, (name, data) in enumerate(events)
            if name == "metadata" and data.get("run_id") in run_ids
        ]
        # Each run: its metadata, its 20 chunks, ..., its run_done; runs in creation order.
        for number, run_id in enumerate(run_ids):
            start, end = bounds[2 * number], bounds[2 * number + 1]
            assert events[start] == ("metadata", {"run_id": run_id, "attempt": 1})
            assert events[end] == ("metadata", {"status": "run_done", "run_id": run_id})
            assert _ticks(parts[start:end]) == list(range(20))
        assert len(bounds) == 8
        keys = [event_key(p.id) for p in parts]
        assert all(x < y for x, y in itertools.pairwise(keys))

    check(seen)
    first = next(p.id for p in seen if p.event == "metadata")
    replay = await asyncio.wait_for(watch(last_event_id=first), 30)
    # Not resumable runs: a replay has their run_done and the state update only.
    assert [p.event for p in replay] == [
        "metadata",
        "state_update",
        "metadata",
        "metadata",
        "metadata",
    ]


async def test_two_thousand_chunks_a_second_reach_a_watcher_on_b_in_full(pair) -> None:
    a, b = pair
    client_a, client_b = get_client(url=a.url), get_client(url=b.url)
    thread_id = (await client_a.threads.create())["thread_id"]
    n, rate = 4000, 2000.0
    run_id = await _background_burst(client_a, thread_id, n=n, rate=rate, start_after=0.5)
    arrived: list[float] = []
    ticks: list[int] = []
    async with asyncio.timeout(60):
        async for part in client_b.runs.join_stream(thread_id, run_id, stream_mode="custom"):
            ticks.append(part.data["i"])
            arrived.append(time.monotonic())
    assert ticks == list(range(n))
    # At the graph's pace (2 s of ticks), not behind it: the last tick within 1 s after.
    spread = arrived[-1] - arrived[0]
    assert spread < n / rate + 1.0, spread


# -- resumable runs -------------------------------------------------------------------------


RESUMABLE = {
    "assistant_id": "stream_burst",
    "input": {"n": 40},
    "stream_mode": ["custom", "values"],
    "stream_resumable": True,
}


async def _replay(server: ServerProcess, path: str, last_event_id: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        response, events = await read_sse(
            http, "GET", path, headers={"Last-Event-ID": last_event_id}
        )
    assert response.status_code == 200
    return events


async def _thread_replay(
    server: ServerProcess, thread_id: str, last_event_id: str, count: int
) -> list[tuple[str, Any, str]]:
    seen: list[tuple[str, Any, str]] = []
    stream = await get_client(url=server.url).threads.join_stream(
        thread_id, last_event_id=last_event_id
    )
    async with asyncio.timeout(15), aclosing(stream):
        async for part in stream:
            seen.append((part.event, part.data, part.id))
            if len(seen) == count:
                return seen
    raise AssertionError(seen)


async def _stored_events(url: str, run_id: str) -> int:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM langgraph_server.run_events WHERE run_id = %s", (run_id,)
        )
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def test_a_resumable_run_replays_anywhere_after_a_restart_until_swept(
    database_factory: Callable[[], str],
) -> None:
    url = database_factory()
    a, b = _server(url).start(), _server(url).start()
    try:
        thread_id = (await get_client(url=a.url).threads.create())["thread_id"]
        async with httpx.AsyncClient(base_url=a.url, timeout=30) as http:
            response, events = await read_sse(
                http, "POST", f"/threads/{thread_id}/runs/stream", json=RESUMABLE
            )
        run_id = run_id_of(response.headers["content-location"])
        assert [e["data"]["i"] for e in events if e["event"] == "custom"] == list(range(40))
        keys = [event_key(e["id"]) for e in events]
        assert all(x < y for x, y in itertools.pairwise(keys))
        path = f"/threads/{thread_id}/runs/{run_id}/stream"

        assert await _replay(b, path, "-") == events
        assert await _replay(b, path, events[20]["id"]) == events[21:]
        # The thread stream on B replays the run too (from the log).
        assert await _thread_replay(b, thread_id, events[9]["id"], len(events) - 10) == [
            (e["event"], e["data"], e["id"]) for e in events[10:]
        ]

        a.stop()
        a = _server(url).start()
        assert await _replay(a, path, "-") == events
        assert await _replay(a, path, events[-2]["id"]) == events[-1:]
        assert await _replay(b, path, events[5]["id"]) == events[6:]

        # Swept RESUMABLE_STREAM_TTL_SECONDS (15 s) after the run ended.
        async def swept() -> bool:
            return await _stored_events(url, run_id) == 0

        await eventually(swept, within=40, every=0.5)
        assert await _replay(a, path, "-") == []
    finally:
        a.stop()
        b.stop()


async def test_a_resumable_run_cut_by_a_restart_replays_both_attempts_in_order(
    database_factory: Callable[[], str],
) -> None:
    """SIGTERM puts the run back in the queue; the next start runs it again, appending
    to the same log with later ids; a watcher on B that replays from the start sees the
    first attempt's events, then the second's, ids strictly increasing."""
    url = database_factory()
    a, b = _server(url).start(), _server(url).start()
    try:
        client_a = get_client(url=a.url)
        thread_id = (await client_a.threads.create())["thread_id"]
        run = await client_a.runs.create(
            thread_id,
            "stream_burst",
            input={"n": 40, "rate": 40},
            stream_mode=["custom", "values"],
            stream_resumable=True,
        )
        run_id = run["run_id"]
        await asyncio.sleep(0.6)
        a.stop()
        a = _server(url).start()
        async with asyncio.timeout(30):
            parts = [
                p
                async for p in get_client(url=b.url).runs.join_stream(
                    thread_id, run_id, last_event_id="-"
                )
            ]
        keys = [event_key(p.id) for p in parts]
        assert all(x < y for x, y in itertools.pairwise(keys))
        starts = [i for i, p in enumerate(parts) if p.event == "metadata"]
        assert len(starts) == 2, [(p.event, p.data) for p in parts]
        first, second = _ticks(parts[: starts[1]]), _ticks(parts[starts[1] :])
        assert first == list(range(len(first))) and first
        assert second == list(range(40))
        assert parts[-1].event == "values" and parts[-1].data["sent"] == 40
    finally:
        a.stop()
        b.stop()

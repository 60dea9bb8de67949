"""One run queue shared by several servers on one database: a run is cancelled wherever
it executes, a thread's runs go one at a time across servers, a starting server leaves
live runs alone, a dead server's runs are re-run by the others, and a paused server that
lost its lease cannot overwrite the newer attempt."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from langgraph_sdk import get_client

from tests.support.cluster import cluster, pause, wait_run
from tests.support.graphs import HI
from tests.support.runs import TERMINAL

pytestmark = pytest.mark.postgres


@pytest.fixture
def database(database_factory: Callable[[], str]) -> str:
    return database_factory()


def _slow(delay: float) -> dict:
    return {"configurable": {"delay": delay}}


async def test_a_run_on_one_server_is_cancelled_from_another(database: str) -> None:
    with cluster(database, 2) as (a, b):
        on_a, on_b = get_client(url=a.url, api_key=None), get_client(url=b.url, api_key=None)
        thread = await on_a.threads.create()
        run = await on_a.runs.create(thread["thread_id"], "slow", input=HI, config=_slow(30))
        await wait_run(on_a, thread["thread_id"], run["run_id"], {"running"})
        started = asyncio.get_running_loop().time()
        await on_b.runs.cancel(thread["thread_id"], run["run_id"], wait=True)
        took = asyncio.get_running_loop().time() - started
        done = await on_b.runs.get(thread["thread_id"], run["run_id"])
        assert done["status"] == "interrupted"
        assert took < 5, f"cancel took {took:.1f}s"
        assert (await on_a.threads.get(thread["thread_id"]))["status"] != "busy"


async def test_a_thread_runs_one_at_a_time_in_order_across_servers(database: str) -> None:
    with cluster(database, 2) as (a, b):
        on_a, on_b = get_client(url=a.url, api_key=None), get_client(url=b.url, api_key=None)
        thread_id = (await on_a.threads.create())["thread_id"]
        first = await on_a.runs.create(thread_id, "slow", input=HI, config=_slow(1.0))
        queued = [
            await client.runs.create(
                thread_id, "slow", input=HI, config=_slow(0.2), multitask_strategy="enqueue"
            )
            for client in (on_b, on_a, on_b)
        ]
        runs = [first, *queued]
        for run in runs:
            await wait_run(on_a, thread_id, run["run_id"], TERMINAL)
        finished = [await on_b.runs.get(thread_id, r["run_id"]) for r in runs]
        assert [r["status"] for r in finished] == ["success"] * 4
        # Each started after the one before it ended: updated_at is when each ended.
        ends = [r["updated_at"] for r in finished]
        assert ends == sorted(ends)
        state = await on_a.threads.get_state(thread_id)
        assert len(state["values"]["messages"]) == 8  # four inputs, four answers, in turn


async def test_reject_lets_exactly_one_of_twenty_creators_on_three_servers_in(
    database: str,
) -> None:
    with cluster(database, 3) as servers:
        clients = [get_client(url=s.url, api_key=None) for s in servers]
        thread_id = (await clients[0].threads.create())["thread_id"]
        gate = asyncio.Event()

        async def create(n: int) -> int:
            await gate.wait()
            async with httpx.AsyncClient(base_url=servers[n % 3].url, timeout=30) as http:
                response = await http.post(
                    f"/threads/{thread_id}/runs",
                    json={
                        "assistant_id": "slow",
                        "input": HI,
                        "config": _slow(2),
                        "multitask_strategy": "reject",
                    },
                )
                return response.status_code

        tasks = [asyncio.create_task(create(n)) for n in range(20)]
        await asyncio.sleep(0.2)
        gate.set()
        codes = await asyncio.gather(*tasks)
        assert sorted(codes) == [200] + [409] * 19, codes
        runs = await clients[1].runs.list(thread_id)
        assert len(runs) == 1


async def test_a_starting_server_leaves_live_runs_alone(database: str) -> None:
    with cluster(database, 1) as (a,):
        on_a = get_client(url=a.url, api_key=None)
        thread_id = (await on_a.threads.create())["thread_id"]
        run = await on_a.runs.create(thread_id, "slow", input=HI, config=_slow(3))
        await wait_run(on_a, thread_id, run["run_id"], {"running"})
        with cluster(database, 1) as (late,):
            on_late = get_client(url=late.url, api_key=None)
            done = await wait_run(on_late, thread_id, run["run_id"], TERMINAL)
            assert done["status"] == "success"
        state = await on_a.threads.get_state(thread_id)
        # One execution: the late server did not re-queue (and re-run) it.
        assert len(state["values"]["messages"]) == 2
        assert state["metadata"]["run_attempt"] == 1


async def test_runs_of_a_killed_server_finish_on_the_others(database: str) -> None:
    with cluster(database, 3) as (a, b, c):
        on_a, on_b = get_client(url=a.url, api_key=None), get_client(url=b.url, api_key=None)
        runs = []
        for _ in range(20):
            thread_id = (await on_a.threads.create())["thread_id"]
            run = await on_a.runs.create(thread_id, "slow", input=HI, config=_slow(4))
            runs.append((thread_id, run["run_id"]))
        for thread_id, run_id in runs:
            await wait_run(on_b, thread_id, run_id, {"running"})
        a.kill()  # SIGKILL to the supervisor; its child dies with it
        killed_at = asyncio.get_running_loop().time()
        for thread_id, run_id in runs:
            done = await wait_run(on_b, thread_id, run_id, TERMINAL, seconds=30)
            assert done["status"] == "success"
        took = asyncio.get_running_loop().time() - killed_at
        assert took < 30, took
        for thread_id, _ in runs:
            thread = await on_b.threads.get(thread_id)
            assert thread["status"] == "idle"
            state = await on_b.threads.get_state(thread_id)
            assert state["metadata"]["run_attempt"] == 2
        assert "re-queued" in (b.output() + c.output()).lower()


async def test_a_paused_server_cannot_overwrite_the_newer_attempt(database: str) -> None:
    with cluster(database, 2) as (a, b):
        on_a, on_b = get_client(url=a.url, api_key=None), get_client(url=b.url, api_key=None)
        thread_id = (await on_a.threads.create())["thread_id"]
        run = await on_a.runs.create(thread_id, "slow", input=HI, config=_slow(5))
        await wait_run(on_a, thread_id, run["run_id"], {"running"})
        resume = pause(a)  # past its 3 s lease, while its graph sleeps
        try:
            done = await wait_run(on_b, thread_id, run["run_id"], TERMINAL, seconds=30)
            assert done["status"] == "success"
        finally:
            resume()
        # A wakes up: its graph finishes its sleep and tries to write; the fence stops it.
        await asyncio.sleep(7)
        final = await on_b.runs.get(thread_id, run["run_id"])
        assert final["status"] == "success"
        state = await on_b.threads.get_state(thread_id)
        assert len(state["values"]["messages"]) == 2, state["values"]["messages"]
        assert state["metadata"]["run_attempt"] == 2
        history = await on_b.threads.get_history(thread_id, limit=50)
        assert all(h["metadata"].get("run_attempt") != 1 for h in history[:1])
        assert "lost its run lease" in a.output()
        # A is serving again.
        assert (await on_a.threads.get(thread_id))["status"] == "idle"


async def test_a_queued_run_gets_its_secrets_whichever_server_ends_the_run_before(
    database: str,
) -> None:
    """Secrets are never stored, so only the server that received them may start the
    run: here the run before it executes on A, and the queued one still starts on B."""
    with cluster(database, 2) as (a, b):
        on_a, on_b = get_client(url=a.url, api_key=None), get_client(url=b.url, api_key=None)
        thread_id = (await on_a.threads.create())["thread_id"]
        first = await on_a.runs.create(thread_id, "slow", input=HI, config=_slow(2))
        await wait_run(on_a, thread_id, first["run_id"], {"running"})
        second = await on_b.runs.create(
            thread_id,
            "echo_config",
            input={},
            config={"configurable": {"openai_api_key": "sk-only-in-memory"}},
            multitask_strategy="enqueue",
        )
        for run in (first, second):
            done = await wait_run(on_a, thread_id, run["run_id"], TERMINAL)
            assert done["status"] == "success"
        state = await on_b.threads.get_state(thread_id)
        # The graph got the secret (as the opaque holder graphs read it from).
        assert state["values"]["conf"].get("__secrets__") == "Secrets", state["values"]["conf"]
        stored = await on_a.runs.get(thread_id, second["run_id"])
        assert "sk-only-in-memory" not in str(stored)


async def test_twenty_enqueued_runs_from_three_servers_run_one_at_a_time(database: str) -> None:
    with cluster(database, 3) as servers:
        clients = [get_client(url=s.url, api_key=None) for s in servers]
        thread_id = (await clients[0].threads.create())["thread_id"]
        gate = asyncio.Event()

        async def create(n: int) -> dict:
            await gate.wait()
            return await clients[n % 3].runs.create(
                thread_id, "slow", input=HI, config=_slow(0.1), multitask_strategy="enqueue"
            )

        tasks = [asyncio.create_task(create(n)) for n in range(20)]
        await asyncio.sleep(0.2)
        gate.set()
        runs = await asyncio.gather(*tasks)
        for run in runs:
            done = await wait_run(clients[2], thread_id, run["run_id"], TERMINAL, seconds=60)
            assert done["status"] == "success"
        # Had two runs of the thread overlapped, both would have started from the same
        # checkpoint and one's messages would be missing.
        messages = (await clients[1].threads.get_state(thread_id))["values"]["messages"]
        assert [m["type"] for m in messages] == ["human", "ai"] * 20


async def test_a_run_created_on_one_server_streams_and_waits_when_another_executes_it(
    database: str,
) -> None:
    """Run 2 is queued on B behind run 1 executing on A; A starts it when run 1 ends,
    and B's stream of it and /wait for it still get every event and the answer."""
    with cluster(database, 2) as (a, b):
        on_a, on_b = get_client(url=a.url, api_key=None), get_client(url=b.url, api_key=None)
        thread_id = (await on_a.threads.create())["thread_id"]
        first = await on_a.runs.create(thread_id, "slow", input=HI, config=_slow(1.5))
        await wait_run(on_a, thread_id, first["run_id"], {"running"})
        events = []
        async for part in on_b.runs.stream(
            thread_id,
            "slow",
            input=HI,
            config=_slow(0.2),
            multitask_strategy="enqueue",
            stream_mode="values",
        ):
            events.append(part.event)
        assert events[0] == "metadata" and "values" in events
        assert events[-1] != "error", events
        answer = await on_b.runs.wait(
            thread_id, "slow", input=HI, config=_slow(0.2), multitask_strategy="enqueue"
        )
        assert [m["type"] for m in answer["messages"]] == ["human", "ai"] * 3
        runs = await on_a.runs.list(thread_id)
        assert {r["status"] for r in runs} == {"success"}

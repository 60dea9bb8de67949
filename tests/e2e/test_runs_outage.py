"""A Postgres outage in the middle of a run never leaves a run, a thread or a waiting
client stuck: once the database is back, every run is settled, every waiter answered,
and the threads take new runs, without restarting the server.

The outage is real: the test runs its own PostgreSQL cluster (tests/support/
private_postgres.py) and stops it with `pg_ctl stop -m immediate` while a run executes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.graphs import human, slow
from tests.support.private_postgres import PrivateCluster
from tests.support.runs import TERMINAL
from tests.support.server import ServerProcess

pytestmark = pytest.mark.postgres

# The run sleeps RUN_DELAY seconds, so it is still executing when the database stops
# and its next checkpoint write falls into the outage. The outage outlasts the pool
# timeout several times over, so every storage call of the run's epilogue fails.
RUN_DELAY = 3.0
POOL_TIMEOUT = 2.0
OUTAGE_SECONDS = 10.0
# The delayed run falls due in the middle of the outage, so its worker's first claim
# meets a dead database.
DELAYED_AFTER = 4
# Every wait is bounded, so a regression fails instead of hanging the suite.
ANSWER_WITHIN = 60.0


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    pg = PrivateCluster()
    try:
        pg.start()
        yield pg
    finally:
        pg.remove()


@pytest.fixture
def server(cluster: PrivateCluster) -> Iterator[ServerProcess]:
    # Named `server` so a failing test's report carries the server log (e2e conftest).
    proc = ServerProcess(
        database_url=cluster.url,
        env={"DATABASE_POOL_TIMEOUT": str(POOL_TIMEOUT), "LOG_LEVEL": "INFO"},
    ).start()
    try:
        yield proc
    finally:
        proc.kill()


async def _request(http: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Any:
    """A request that tolerates the database coming back: a 503 ("try again shortly")
    is retried until ANSWER_WITHIN, anything else must succeed."""
    deadline = time.monotonic() + ANSWER_WITHIN
    while True:
        response = await http.request(method, path, **kwargs)
        if response.status_code != 503 or time.monotonic() > deadline:
            assert response.status_code == 200, (method, path, response.text)
            return response.json()
        await asyncio.sleep(0.2)


async def _run_ends(http: httpx.AsyncClient, thread_id: str, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + ANSWER_WITHIN
    while True:
        run = await _request(http, "GET", f"/threads/{thread_id}/runs/{run_id}")
        if run["status"] in TERMINAL:
            return run
        assert time.monotonic() < deadline, f"run {run_id} stayed {run['status']}"
        await asyncio.sleep(0.2)


async def _thread_settles(http: httpx.AsyncClient, thread_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + ANSWER_WITHIN
    while True:
        thread = await _request(http, "GET", f"/threads/{thread_id}")
        if thread["status"] != "busy":
            return thread
        assert time.monotonic() < deadline, f"thread {thread_id} stayed busy"
        await asyncio.sleep(0.2)


async def _create_run(http: httpx.AsyncClient, thread_id: str, **body: Any) -> dict[str, Any]:
    return await _request(
        http, "POST", f"/threads/{thread_id}/runs", json={"assistant_id": "slow", **body}
    )


async def test_runs_settle_and_threads_recover_after_a_postgres_outage(
    server: ServerProcess, cluster: PrivateCluster
) -> None:
    # No read timeout: /wait writes a newline every few seconds anyway. Every wait
    # below is bounded with asyncio instead.
    async with httpx.AsyncClient(base_url=server.url, timeout=httpx.Timeout(30, read=None)) as http:
        thread_id = (await _request(http, "POST", "/threads", json={}))["thread_id"]
        waiting = asyncio.create_task(
            http.post(
                f"/threads/{thread_id}/runs/wait",
                json={"assistant_id": "slow", "input": human("1"), "config": slow(RUN_DELAY)},
            )
        )
        deadline = time.monotonic() + ANSWER_WITHIN
        while not (runs := await _request(http, "GET", f"/threads/{thread_id}/runs")) or (
            runs[0]["status"] != "running"
        ):
            assert time.monotonic() < deadline, f"the first run never started: {runs}"
            await asyncio.sleep(0.05)
        running_since = time.monotonic()
        stuck_id = runs[0]["run_id"]
        joining = asyncio.create_task(http.get(f"/threads/{thread_id}/runs/{stuck_id}/join"))
        queued = await _create_run(
            http, thread_id, input=human("2"), config=slow(0), multitask_strategy="enqueue"
        )
        other_id = (await _request(http, "POST", "/threads", json={}))["thread_id"]
        delayed = await _create_run(
            http, other_id, input=human("3"), config=slow(0), after_seconds=DELAYED_AFTER
        )
        delayed_since = time.monotonic()

        await asyncio.to_thread(cluster.stop, "immediate")
        down_at = time.monotonic()
        # Proof that the outage hit what it should: the first run was still sleeping
        # (its next checkpoint write fails) and the delayed run was not due yet (its
        # worker's claim fails).
        assert down_at - running_since < RUN_DELAY, "the first run may have ended already"
        assert down_at - delayed_since < DELAYED_AFTER, "the delayed run may have started"
        assert not waiting.done() and not joining.done()
        await asyncio.sleep(OUTAGE_SECONDS)
        await asyncio.to_thread(cluster.start)

        # The clients that were waiting get an answer: the run failed for want of a
        # database, and says so.
        answers = await asyncio.wait_for(asyncio.gather(waiting, joining), ANSWER_WITHIN)
        for response in answers:
            assert response.status_code == 200, response.text
            error = response.json()["__error__"]
            assert error["error"] == "DatabaseUnavailable", error
            assert "database" in error["message"].lower(), error

        stuck = await _run_ends(http, thread_id, stuck_id)
        assert stuck["status"] == "error"
        # The run queued behind it on the same thread, and the run that fell due on
        # another thread during the outage, both execute once the database is back.
        assert (await _run_ends(http, thread_id, queued["run_id"]))["status"] == "success"
        assert (await _run_ends(http, other_id, delayed["run_id"]))["status"] == "success"
        assert (await _thread_settles(http, other_id))["status"] == "idle"
        thread = await _thread_settles(http, thread_id)
        assert thread["status"] == "idle"
        assert thread["values"]["messages"][-1]["content"] == "slept 0s"

        # And the thread takes new runs.
        result = await asyncio.wait_for(
            _request(
                http,
                "POST",
                f"/threads/{thread_id}/runs/wait",
                json={"assistant_id": "slow", "input": human("4"), "config": slow(0)},
            ),
            ANSWER_WITHIN,
        )
        assert [m["content"] for m in result["messages"]][-2:] == ["4", "slept 0s"]
        assert (await _thread_settles(http, thread_id))["status"] == "idle"


async def test_sigterm_during_an_outage_still_exits(
    server: ServerProcess, cluster: PrivateCluster
) -> None:
    """Retrying storage calls gives up when the server stops, so SIGTERM still ends the
    process promptly; the run left `running` is recovered at the next start."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        thread_id = (await _request(http, "POST", "/threads", json={}))["thread_id"]
        run = await _create_run(http, thread_id, input=human("1"), config=slow(1))
        deadline = time.monotonic() + ANSWER_WITHIN
        while (await _request(http, "GET", f"/threads/{thread_id}/runs/{run['run_id']}"))[
            "status"
        ] != "running":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        await asyncio.to_thread(cluster.stop, "immediate")
        # Long enough for the run to end and its settling to start retrying.
        await asyncio.sleep(1 + 2 * POOL_TIMEOUT)
    started = time.monotonic()
    assert await asyncio.to_thread(server.stop) == 0
    # Shutdown spends one pool timeout failing to mark the runs for recovery, then
    # waits (up to 5 s) for executing runs: a retry that kept going would take all 5.
    assert time.monotonic() - started < POOL_TIMEOUT + 3

    await asyncio.to_thread(cluster.start)
    with ServerProcess(database_url=cluster.url) as again:
        async with httpx.AsyncClient(base_url=again.url, timeout=30) as http:
            recovered = await _run_ends(http, thread_id, run["run_id"])
            assert recovered["status"] == "success"
            assert (await _thread_settles(http, thread_id))["status"] == "idle"

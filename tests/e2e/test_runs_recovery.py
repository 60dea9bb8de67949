"""Crash and shutdown recovery on Postgres: a run created is never lost, and no run stays
`running` (nor its thread `busy`) after the server comes back."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Collection

import httpx
import pytest
from langgraph_sdk import get_client

from tests.support.graphs import HI
from tests.support.runs import TERMINAL
from tests.support.server import ServerProcess

pytestmark = pytest.mark.postgres


async def _wait_status(client, thread_id: str, run_id: str, wanted: Collection[str], seconds=30.0):
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        run = await client.runs.get(thread_id, run_id)
        if run["status"] in wanted:
            return run
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"run stayed {run['status']}, wanted {wanted}")
        await asyncio.sleep(0.1)


async def _start_slow_run(client, delay: float) -> tuple[str, str]:
    thread = await client.threads.create()
    run = await client.runs.create(
        thread["thread_id"],
        "slow",
        input=HI,
        config={"configurable": {"delay": delay}},
    )
    await _wait_status(client, thread["thread_id"], run["run_id"], {"running"})
    return thread["thread_id"], run["run_id"]


def _server(url: str, **env: str) -> ServerProcess:
    return ServerProcess(database_url=url, env=env)


@pytest.fixture
def database(database_factory: Callable[[], str]) -> str:
    return database_factory()


async def test_a_run_killed_mid_flight_runs_again_after_restart(database: str) -> None:
    first = _server(database).start()
    try:
        client = get_client(url=first.url, api_key=None)
        thread_id, run_id = await _start_slow_run(client, delay=1.5)
        first.kill()  # SIGKILL: no shutdown handler, the row still says running
    finally:
        first.kill()

    second = _server(database).start()
    try:
        client = get_client(url=second.url, api_key=None)
        run = await _wait_status(client, thread_id, run_id, TERMINAL)
        assert run["status"] == "success"
        thread = await client.threads.get(thread_id)
        assert thread["status"] == "idle"
        assert thread["values"]["messages"][-1]["content"] == "slept 1.5s"
        # The re-run is attempt 2, and the thread takes new runs.
        again = await client.runs.wait(
            thread_id, "slow", input=HI, config={"configurable": {"delay": 0}}
        )
        assert again["messages"][-1]["content"] == "slept 0s"
    finally:
        second.stop()


async def test_a_run_that_keeps_crashing_ends_in_error_and_frees_its_thread(
    database: str,
) -> None:
    first = _server(database, RUN_MAX_ATTEMPTS="1").start()
    try:
        client = get_client(url=first.url, api_key=None)
        thread_id, run_id = await _start_slow_run(client, delay=30)
        first.kill()
    finally:
        first.kill()

    second = _server(database, RUN_MAX_ATTEMPTS="1").start()
    try:
        client = get_client(url=second.url, api_key=None)
        run = await client.runs.get(thread_id, run_id)
        assert run["status"] == "error"
        thread = await client.threads.get(thread_id)
        assert thread["status"] == "error"
        assert thread["error"]["error"] == "RunRecoveryError"
        # Not stuck: the next run executes at once.
        result = await client.runs.wait(
            thread_id, "slow", input=HI, config={"configurable": {"delay": 0}}
        )
        assert result["messages"][-1]["content"] == "slept 0s"
        assert (await client.threads.get(thread_id))["status"] == "idle"
    finally:
        second.stop()


async def test_sigterm_hands_in_flight_and_queued_runs_to_the_next_start(database: str) -> None:
    first = _server(database).start()
    try:
        client = get_client(url=first.url, api_key=None)
        thread_id, running_id = await _start_slow_run(client, delay=1)
        queued = await client.runs.create(
            thread_id, "slow", input=HI, config={"configurable": {"delay": 0}}
        )
        assert first.stop(signal.SIGTERM) == 0
    finally:
        first.kill()

    second = _server(database).start()
    try:
        client = get_client(url=second.url, api_key=None)
        first_run = await _wait_status(client, thread_id, running_id, TERMINAL)
        second_run = await _wait_status(client, thread_id, queued["run_id"], TERMINAL)
        assert (first_run["status"], second_run["status"]) == ("success", "success")
        assert (await client.threads.get(thread_id))["status"] == "idle"
    finally:
        second.stop()


async def test_a_stream_of_a_run_cut_by_shutdown_can_be_rejoined_after_restart(
    database: str,
) -> None:
    first = _server(database).start()
    try:
        client = get_client(url=first.url, api_key=None)
        thread_id, run_id = await _start_slow_run(client, delay=1)
        first.stop(signal.SIGTERM)
    finally:
        first.kill()

    second = _server(database).start()
    try:
        async with httpx.AsyncClient(base_url=second.url, timeout=30) as http:
            async with http.stream("GET", f"/threads/{thread_id}/runs/{run_id}/stream") as resp:
                body = (await resp.aread()).decode()
        # The joiner attached before (or while) the re-run executed and saw it finish,
        # or attached after it ended and got an empty stream; either way the run is done.
        assert resp.status_code == 200
        run = await get_client(url=second.url, api_key=None).runs.get(thread_id, run_id)
        assert run["status"] == "success", body
    finally:
        second.stop()

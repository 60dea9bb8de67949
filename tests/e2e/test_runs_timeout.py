"""Runs that exceed BG_JOB_TIMEOUT_SECS end with status `timeout` and an error event,
and leave their thread usable."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import orjson
import pytest
from langgraph_sdk import get_client

from tests.support.graphs import human, slow
from tests.support.runs import run_id_of, run_reaches, thread_reaches
from tests.support.server import BACKENDS, ServerProcess, serve_backend
from tests.support.sse import read_sse

TIMEOUT_SECONDS = 1


@pytest.fixture(scope="module", params=BACKENDS)
def timeout_server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    yield from serve_backend(request, env={"BG_JOB_TIMEOUT_SECS": str(TIMEOUT_SECONDS)})


@pytest.fixture
def short_client(timeout_server: ServerProcess):
    return get_client(url=timeout_server.url, api_key=None)


async def test_a_run_past_the_time_limit_ends_with_timeout(short_client, timeout_server) -> None:
    thread = await short_client.threads.create()
    thread_id = thread["thread_id"]
    async with httpx.AsyncClient(base_url=timeout_server.url, timeout=30) as http:
        response, events = await read_sse(
            http,
            "POST",
            f"/threads/{thread_id}/runs/stream",
            json={"assistant_id": "slow", "input": human("x"), "config": slow(3)},
        )
    assert [e["event"] for e in events] == ["metadata", "values", "error"]
    error = events[-1]["data"]
    assert error["error"] == "TimeoutError"
    assert error["message"]
    run_id = run_id_of(response.headers["content-location"])
    run = await short_client.runs.get(thread_id, run_id)
    assert run["status"] == "timeout"
    assert run["updated_at"] > run["created_at"]

    failed = await short_client.threads.get(thread_id)
    assert failed["status"] == "error"
    assert failed["error"] == error
    joined = await short_client.runs.join(thread_id, run_id)
    assert joined == {"__error__": error}

    # The thread takes the next run as usual.
    waited = await short_client.runs.wait(thread_id, "slow", input=human("y"), config=slow(0.1))
    assert [m["content"] for m in waited["messages"]] == ["x", "y", "slept 0.1s"]
    healthy = await thread_reaches(short_client, thread_id, "idle")
    assert healthy["error"] is None


async def test_wait_and_background_runs_time_out_too(short_client, timeout_server) -> None:
    thread = await short_client.threads.create()
    thread_id = thread["thread_id"]
    async with httpx.AsyncClient(base_url=timeout_server.url, timeout=30) as http:
        response = await http.post(
            f"/threads/{thread_id}/runs/wait",
            json={"assistant_id": "slow", "input": human("x"), "config": slow(3)},
        )
    assert response.status_code == 200
    assert orjson.loads(response.content)["__error__"]["error"] == "TimeoutError"

    queued = await short_client.runs.create(thread_id, "slow", input=human("x"), config=slow(3))
    after = await short_client.runs.create(thread_id, "slow", input=human("y"), config=slow(0.1))
    assert (await run_reaches(short_client, thread_id, queued["run_id"]))["status"] == "timeout"
    assert (await run_reaches(short_client, thread_id, after["run_id"]))["status"] == "success"
    await thread_reaches(short_client, thread_id, "idle")

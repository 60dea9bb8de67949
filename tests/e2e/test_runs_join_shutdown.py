"""A run suspended by a server shutdown does not look finished to those watching it.

On SIGTERM the engine puts in-flight runs back to pending for the next start. Their
/join, /wait and stream answers are then cut mid-body by the exit rather than completed
(a complete `200 {}` would read as a finished run with no output), so the SDK reconnects
to the answer's Location and gets the re-run's real result from the next server.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable

import httpx
import pytest
from langgraph_sdk import get_client

from tests.support.graphs import human, slow
from tests.support.runs import run_reaches
from tests.support.server import ServerProcess

DELAY = 4.0


async def _running_slow_run(client) -> tuple[str, str]:
    thread_id = (await client.threads.create())["thread_id"]
    run = await client.runs.create(thread_id, "slow", input=human("x"), config=slow(DELAY))
    await run_reaches(client, thread_id, run["run_id"], ("running",))
    return thread_id, run["run_id"]


async def _cut_off(response: httpx.Response) -> bool:
    """True if the body is cut by a transport error, False if it ends normally."""
    try:
        await response.aread()
    except httpx.TransportError:
        return True
    return False


@pytest.mark.postgres
async def test_sdk_join_and_join_stream_get_the_rerun_result_across_a_restart(
    database_factory: Callable[[], str],
) -> None:
    database = database_factory()
    first = ServerProcess(database_url=database).start()
    second = ServerProcess(database_url=database, port=first.port)
    try:
        client = get_client(url=first.url, api_key=None)
        thread_id, run_id = await _running_slow_run(client)
        joined = asyncio.create_task(client.runs.join(thread_id, run_id))

        async def join_stream() -> list:
            return [part async for part in client.runs.join_stream(thread_id, run_id)]

        streamed = asyncio.create_task(join_stream())
        await asyncio.sleep(0.5)  # both are attached and waiting
        assert not joined.done() and not streamed.done()

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the SDK warns when it reconnects
            await asyncio.to_thread(first.stop)
            await asyncio.sleep(0.2)
            # Not a finished-looking answer from the server that went away.
            assert not joined.done(), f"join answered {joined.result()!r} at shutdown"
            # Within the SDK's reconnect backoff (1 s, 2 s, 4 s, ...).
            await asyncio.to_thread(second.start)
            result = await asyncio.wait_for(joined, 60)
            parts = await asyncio.wait_for(streamed, 60)

        assert [m["content"] for m in result["messages"]] == ["x", f"slept {DELAY:g}s"]
        values = [p.data for p in parts if p.event == "values"]
        assert values[-1]["messages"][-1]["content"] == f"slept {DELAY:g}s"
        run = await client.runs.get(thread_id, run_id)
        assert run["status"] == "success"
    finally:
        first.kill()
        second.kill()


async def test_answers_of_a_run_suspended_by_shutdown_are_cut_not_completed() -> None:
    server = ServerProcess().start()  # in memory
    try:
        client = get_client(url=server.url, api_key=None)
        thread_id, run_id = await _running_slow_run(client)
        waited_thread = (await client.threads.create())["thread_id"]
        body = {"assistant_id": "slow", "input": human("x"), "config": slow(DELAY)}
        run_url = f"/threads/{thread_id}/runs/{run_id}"
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            requests = {
                "join": http.build_request("GET", f"{run_url}/join"),
                "join stream": http.build_request("GET", f"{run_url}/stream"),
                "wait": http.build_request(
                    "POST", f"/threads/{waited_thread}/runs/wait", json=body
                ),
                "stream": http.build_request("POST", "/runs/stream", json=body),
            }
            responses = {
                name: await http.send(request, stream=True) for name, request in requests.items()
            }
            assert {r.status_code for r in responses.values()} == {200}
            reads = {name: asyncio.create_task(_cut_off(r)) for name, r in responses.items()}
            await asyncio.sleep(0.5)
            await asyncio.to_thread(server.stop)
            cut = {name: await asyncio.wait_for(read, 30) for name, read in reads.items()}
            assert cut == dict.fromkeys(requests, True)
            for response in responses.values():
                await response.aclose()
    finally:
        server.kill()

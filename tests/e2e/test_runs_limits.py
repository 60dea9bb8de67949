"""Limits and bad input on the run endpoints: a clear 4xx/503 before anything is created,
and the engine keeps serving other runs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import AsyncExitStack

import httpx
import pytest
from langgraph_sdk import get_client

from tests.support.graphs import human, slow
from tests.support.server import BACKENDS, ServerProcess, serve_backend

CAP = 2


@pytest.fixture(scope="module", params=BACKENDS)
def capped(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    yield from serve_backend(request, env={"MAX_OPEN_STREAMS": str(CAP)})


async def test_streams_beyond_the_cap_get_503_and_create_nothing(capped: ServerProcess) -> None:
    """Streams opened one after another are accepted until one lands on a process at its
    cap: with one process that is the stream after CAP; with N processes (each has its
    own cap, and the kernel spreads connections over them unevenly) it comes after at
    least CAP streams, the first process to fill refuses, and at most N x CAP."""
    client = get_client(url=capped.url, api_key=None)
    body = {"assistant_id": "slow", "input": human("hi"), "config": slow(1.5)}
    most = capped.processes * CAP
    threads = [(await client.threads.create())["thread_id"] for _ in range(most + 1)]
    async with (
        httpx.AsyncClient(base_url=capped.url, timeout=30) as http,
        AsyncExitStack() as open_streams,
    ):
        accepted: list[httpx.Response] = []
        for i, thread_id in enumerate(threads):
            # SSE streams and long-poll /wait alike hold a slot.
            path = f"/threads/{thread_id}/runs/{'wait' if i % 2 else 'stream'}"
            answer = await open_streams.enter_async_context(http.stream("POST", path, json=body))
            if answer.status_code != 200:
                break
            accepted.append(answer)
        else:
            pytest.fail(f"{len(threads)} streams open at once, at most {most} allowed")
        assert CAP <= len(accepted) <= most
        refused, refused_thread = answer, thread_id  # where the loop stopped
        await refused.aread()
        assert refused.status_code == 503
        # Refused by a process that held CAP streams.
        assert f"Too many open streams ({CAP})" in refused.json()["detail"]
        assert await client.runs.list(refused_thread) == []
        # Background runs hold no stream and are still accepted.
        background = await http.post(f"/threads/{refused_thread}/runs", json=body)
        assert background.status_code == 200
        for stream in accepted:
            assert b"slept 1.5s" in await stream.aread()
        # Once the streams have ended their slots are free again.
        again = await http.post("/runs/wait", json={**body, "config": slow(0)})
        assert again.status_code == 200
        assert again.json()["messages"][-1]["content"] == "slept 0s"


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/runs/wait", b"{not json", 422),
        ("/runs/wait", b"[]", 422),
        ("/runs/wait", b'{"input": {}}', 422),  # no assistant_id
        ("/runs/wait", b'{"assistant_id": 5}', 422),
        ("/runs/stream", b'{"assistant_id": "agent", "stream_mode": ["tools"]}', 422),
        ("/runs/stream", b'{"assistant_id": "agent", "multitask_strategy": "x"}', 422),
        ("/runs", b'{"assistant_id": "agent", "after_seconds": "soon"}', 422),
        ("/runs", b'{"assistant_id": "agent", "interrupt_before": 3}', 422),
        ("/runs/batch", b"{}", 422),
        ("/runs/batch", b"[1]", 422),
        ("/runs/cancel", b'{"status": "sleeping"}', 422),
    ],
)
async def test_garbage_is_refused_with_a_clear_4xx(http, path, body, status) -> None:
    response = await http.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert isinstance(response.json()["detail"], str)


async def test_malformed_ids_in_run_paths_are_422(http) -> None:
    thread = (await http.post("/threads", json={})).json()["thread_id"]
    for method, path in [
        ("GET", "/threads/nope/runs"),
        ("GET", f"/threads/{thread}/runs/nope"),
        ("POST", f"/threads/{thread}/runs/nope/cancel"),
        ("DELETE", f"/threads/{thread}/runs/nope"),
        ("GET", f"/threads/{thread}/runs/nope/join"),
        ("GET", f"/threads/{thread}/runs/nope/stream"),
    ]:
        response = await http.request(method, path)
        assert response.status_code == 422, (method, path, response.text)
    bad_query = await http.get(f"/threads/{thread}/runs", params={"limit": "many"})
    assert bad_query.status_code == 422


async def test_a_client_leaving_mid_stream_does_not_disturb_other_runs(server, http) -> None:
    client = get_client(url=server.url, api_key=None)
    body = {"assistant_id": "slow", "input": human("hi"), "config": slow(0.5)}

    async def leave_early() -> None:
        async with http.stream("POST", "/runs/stream", json=body) as response:
            async for _ in response.aiter_bytes():
                break  # the first chunk, then hang up

    await asyncio.gather(*(leave_early() for _ in range(5)))
    result = await client.runs.wait(None, "agent", input=human("still there?"))
    assert result["messages"][-1]["content"] == "hello there friend"


async def test_an_unknown_stream_mode_is_a_422_when_joining_a_run(client, http) -> None:
    thread_id = (await client.threads.create())["thread_id"]
    run = await client.runs.create(thread_id, "slow", input=human("x"), config=slow(2))
    joined = f"/threads/{thread_id}/runs/{run['run_id']}/stream"
    for modes in ("bogus", ["values", "bogus"], "values,bogus", '["bogus"]'):
        response = await http.get(joined, params={"stream_mode": modes})
        assert response.status_code == 422, (modes, response.text)
        assert "'bogus'" in response.json()["detail"]
    # Known modes (as the SDK sends them) still stream the run.
    response = await http.get(joined, params={"stream_mode": ["values", "messages-tuple"]})
    assert response.status_code == 200
    assert b"event: values" in response.content
    # The thread stream knows its own modes, under either name.
    for name in ("stream_mode", "stream_modes"):
        response = await http.get(f"/threads/{thread_id}/stream", params={name: "bogus"})
        assert response.status_code == 422
        assert "bogus" in response.json()["detail"]

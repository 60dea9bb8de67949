"""Many streams at once, with the settings the README recommends for them: 600
`runs/stream` requests sent together to one server with SERVER_WORKERS=4 are all
accepted (no 503), are all open at the same time, and each one ends with a complete body
(the terminating chunk: no drop) carrying its run's final values, on both backends.
And a MAX_OPEN_STREAMS beyond what Robyn's threads hold is reported at start."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest
from langgraph_sdk import get_client

from tests.support.graphs import human, slow
from tests.support.server import BACKENDS, ServerProcess, serve_backend
from tests.support.sse import parse_sse

STREAMS = 600
# Long enough that every stream is open before the first run ends, even on a busy
# machine (opening 600 takes a few seconds of server CPU on Postgres).
DELAY = 10.0


@pytest.fixture(scope="module", params=BACKENDS)
def many(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    yield from serve_backend(request, env={"SERVER_WORKERS": "4"})


async def _threads(url: str, count: int) -> list[str]:
    client = get_client(url=url, api_key=None)
    gate = asyncio.Semaphore(32)

    async def one() -> str:
        async with gate:
            return (await client.threads.create())["thread_id"]

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def _stream(http: httpx.AsyncClient, thread_id: str) -> dict:
    body = {"assistant_id": "slow", "input": human("x"), "config": slow(DELAY)}
    parts, first = [], None
    async with http.stream("POST", f"/threads/{thread_id}/runs/stream", json=body) as response:
        status = response.status_code
        # httpx raises if the body is cut before its terminating chunk.
        async for chunk in response.aiter_raw():
            if first is None:
                first = time.monotonic()
            parts.append(chunk)
    run_id = response.headers.get("content-location", "").rsplit("/", 1)[-1]
    return {
        "status": status,
        "events": parse_sse(b"".join(parts)) if status == 200 else [],
        "first": first,
        "end": time.monotonic(),
        "run_id": run_id,
        "thread_id": thread_id,
    }


async def test_600_streams_at_once_are_all_served_to_their_end(many: ServerProcess) -> None:
    threads = await _threads(many.url, STREAMS)
    timeout = httpx.Timeout(connect=60, read=120, write=60, pool=60)
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(base_url=many.url, timeout=timeout, limits=limits) as http:
        results = await asyncio.gather(*(_stream(http, t) for t in threads))

    assert [r["status"] for r in results] == [200] * STREAMS
    # All were open at once: every stream had its first event before any run ended.
    assert max(r["first"] for r in results) < min(r["end"] for r in results)
    for r in results:
        names = [e["event"] for e in r["events"]]
        assert names[0] == "metadata", names
        assert names[-1] == "values", names
        assert r["events"][-1]["data"]["messages"][-1]["content"] == f"slept {DELAY:g}s"
    client = get_client(url=many.url, api_key=None)
    for r in results[:: STREAMS // 20]:
        run = await client.runs.get(r["thread_id"], r["run_id"])
        assert run["status"] == "success"


def test_a_cap_beyond_robyns_threads_is_reported_at_start() -> None:
    env = {"SERVER_WORKERS": "1", "MAX_OPEN_STREAMS": "100000"}
    with ServerProcess(env=env) as server:
        assert httpx.get(f"{server.url}/ok", timeout=10).status_code == 200
        log = server.output()
    assert "MAX_OPEN_STREAMS=100000 exceeds" in log
    assert "Raise SERVER_WORKERS" in log

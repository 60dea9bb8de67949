"""The open-stream cap holds under a burst: with MAX_OPEN_STREAMS=CAP, many stream and
wait requests arriving at the same instant give exactly CAP streams and a 503 for every
other one, no run for a refused request, and every slot comes back afterwards whether the
stream ran to its end, its client left, or creating its run failed.

The cap is per process: with N server processes the kernel spreads the connections over
them unevenly, each process accepts up to CAP, and the burst (more than CAP for each
process) fills at least one of them, so it gets at least CAP and at most N x CAP."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import orjson
import pytest
from langgraph_sdk import get_client

from tests.support.graphs import human, slow
from tests.support.http_races import Burst
from tests.support.runs import run_reaches
from tests.support.server import BACKENDS, ServerProcess, serve_backend

CAP = 4
BURST = 6 * CAP


@pytest.fixture(scope="module", params=BACKENDS)
def capped(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    yield from serve_backend(request, env={"MAX_OPEN_STREAMS": str(CAP)})


@dataclass
class Answer:
    path: str
    response: httpx.Response


async def fire(http: httpx.AsyncClient, requests: list[tuple[str, dict]], stack) -> list[Answer]:
    """Send all requests at once; return their answers (bodies of 200s not yet read)."""
    burst = Burst(len(requests))

    async def send(path: str, body: dict) -> Answer:
        payload = orjson.dumps(body)
        request = http.build_request(
            "POST",
            path,
            content=burst.body(payload),
            headers={"content-type": "application/json", "content-length": str(len(payload))},
        )
        response = await http.send(request, stream=True)
        stack.append(response)
        if response.status_code != 200:
            await response.aread()
        return Answer(path, response)

    tasks = [asyncio.create_task(send(path, body)) for path, body in requests]
    await asyncio.wait_for(burst.all_waiting.wait(), 30)
    # Proof of concurrency: every request is on the wire, and none has been answered.
    assert not any(task.done() for task in tasks)
    burst.release.set()
    return list(await asyncio.gather(*tasks))


def requests_for(threads: list[str], config: dict, **extra) -> list[tuple[str, dict]]:
    body = {"assistant_id": "slow", "input": human("x"), "config": config, **extra}
    # Half SSE streams, half long-poll /wait: both hold a slot.
    return [
        (f"/threads/{thread_id}/runs/{'stream' if i % 2 else 'wait'}", body)
        for i, thread_id in enumerate(threads)
    ]


def split(answers: list[Answer]) -> tuple[list[Answer], list[Answer]]:
    accepted = [a for a in answers if a.response.status_code == 200]
    refused = [a for a in answers if a.response.status_code != 200]
    return accepted, refused


def thread_of(answer: Answer) -> str:
    return answer.path.split("/")[2]


async def check_the_cap(client, answers: list[Answer], processes: int) -> list[Answer]:
    """The accepted answers, after checking there are CAP of them for one process (between
    CAP and processes x CAP for several), that all others are refusals by a process
    holding CAP streams, and that only the accepted requests made a run."""
    accepted, refused = split(answers)
    assert CAP <= len(accepted) <= processes * CAP
    statuses = sorted(a.response.status_code for a in answers)
    assert statuses == [200] * len(accepted) + [503] * (BURST - len(accepted))
    for answer in refused:
        assert f"Too many open streams ({CAP})" in answer.response.json()["detail"]
        assert await client.runs.list(thread_of(answer)) == [], "a refused request made a run"
    for answer in accepted:
        assert len(await client.runs.list(thread_of(answer))) == 1
    return accepted


async def test_a_burst_of_streams_gets_the_cap_and_every_slot_comes_back(
    capped: ServerProcess,
) -> None:
    # Some process gets at least BURST / processes of the burst: more than it may accept.
    assert BURST > capped.processes * CAP
    client = get_client(url=capped.url, api_key=None)
    limits = httpx.Limits(max_connections=BURST + 8, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=capped.url, timeout=60, limits=limits) as http:
        opened: list[httpx.Response] = []
        try:
            # Requests that fail after taking a slot (unknown thread: 404) give it back.
            missing = [str(uuid.uuid4()) for _ in range(BURST)]
            failed = await fire(http, requests_for(missing, slow(0)), opened)
            assert {a.response.status_code for a in failed} <= {404, 503}
            assert any(a.response.status_code == 404 for a in failed)

            # 1. Streams that run to their end.
            threads = [(await client.threads.create())["thread_id"] for _ in range(BURST)]
            answers = await fire(http, requests_for(threads, slow(1.0)), opened)
            for answer in await check_the_cap(client, answers, capped.processes):
                body = await answer.response.aread()
                assert b"slept 1s" in body

            # 2. Their slots are free again; this time the clients leave early and the
            # runs are cancelled (on_disconnect=cancel).
            threads = [(await client.threads.create())["thread_id"] for _ in range(BURST)]
            answers = await fire(
                http, requests_for(threads, slow(30), on_disconnect="cancel"), opened
            )
            accepted = await check_the_cap(client, answers, capped.processes)
            # At the cap, cancelling with wait=1 still answers (without a stream).
            thread_id = thread_of(accepted[0])
            [run] = await client.runs.list(thread_id)
            await run_reaches(client, thread_id, run["run_id"], ("running",))
            cancel = f"/threads/{thread_id}/runs/{run['run_id']}/cancel"
            cancelled = await http.post(cancel, params={"wait": "1"})
            assert cancelled.status_code == 200, cancelled.text
            assert [m["content"] for m in cancelled.json()["messages"]] == ["x"]
            for answer in accepted:
                await answer.response.aclose()
            for answer in accepted:
                [run] = await client.runs.list(thread_of(answer))
                run = await run_reaches(client, thread_of(answer), run["run_id"])
                assert run["status"] == "interrupted"

            # 3. And free once more after clients that left. The runs last a second, as
            # in 1: a run of no time could end, and free its slot, while the burst is
            # still being admitted (seen in memory: CAP + 1 accepted).
            threads = [(await client.threads.create())["thread_id"] for _ in range(BURST)]
            answers = await fire(http, requests_for(threads, slow(1.0)), opened)
            for answer in await check_the_cap(client, answers, capped.processes):
                assert b"slept 1s" in await answer.response.aread()
        finally:
            for response in opened:
                await response.aclose()

"""on_disconnect="cancel" (and a joiner's cancel_on_disconnect) takes effect within about a
second of the client leaving, even while the run emits nothing, on a server with the
default 5-second heartbeat; ordinary streams keep that quiet heartbeat."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.graphs import human, slow
from tests.support.runs import run_id_of, run_reaches

DELAY = 8.0  # the run sleeps this long without emitting anything
CONNECTED = 1.0  # seconds the client stays before it leaves
# From leaving to the run being interrupted: about 0.6 s when idle, with room for load.
CANCELLED_WITHIN = 3.0
HEARTBEAT = b": heartbeat"


async def _start(client, kind: str, *, cancel: bool) -> tuple[str, str, str, dict]:
    """A request of `kind` on a new thread, which cancels its run when its client leaves
    if `cancel`: (method, url, thread_id, request options)."""
    thread_id = (await client.threads.create())["thread_id"]
    body = {"assistant_id": "slow", "input": human("x"), "config": slow(DELAY)}
    if kind in ("stream", "wait"):
        if cancel:
            body["on_disconnect"] = "cancel"
        return "POST", f"/threads/{thread_id}/runs/{kind}", thread_id, {"json": body}
    run = await client.runs.create(thread_id, "slow", input=human("x"), config=slow(DELAY))
    await run_reaches(client, thread_id, run["run_id"], ("running",))
    tail = "stream" if kind == "join_stream" else "join"
    url = f"/threads/{thread_id}/runs/{run['run_id']}/{tail}"
    return "GET", url, thread_id, {"params": {"cancel_on_disconnect": str(cancel).lower()}}


async def _stay_then_leave(http, method: str, url: str, **options) -> tuple[str, bytes]:
    """Read the answer for CONNECTED seconds, then hang up; (run_id, bytes received)."""
    received = bytearray()
    async with http.stream(method, url, timeout=30, **options) as response:
        assert response.status_code == 200
        run_id = run_id_of(response.headers["content-location"])

        async def read() -> None:
            async for chunk in response.aiter_raw():
                received.extend(chunk)

        reader = asyncio.create_task(read())
        await asyncio.sleep(CONNECTED)
        reader.cancel()
    return run_id, bytes(received)


@pytest.mark.parametrize("kind", ["stream", "wait", "join_stream", "join"])
async def test_the_run_is_cancelled_within_a_second_or_so_of_the_client_leaving(
    client, http, kind: str
) -> None:
    watched = await _start(client, kind, cancel=True)
    ordinary = await _start(client, kind, cancel=False)
    (run_id, received), (other_run, other_received) = await asyncio.gather(
        _stay_then_leave(http, watched[0], watched[1], **watched[3]),
        _stay_then_leave(http, ordinary[0], ordinary[1], **ordinary[3]),
    )
    loop = asyncio.get_running_loop()
    left = loop.time()
    run = await run_reaches(client, watched[2], run_id)
    took = loop.time() - left
    assert run["status"] == "interrupted"
    assert took < CANCELLED_WITHIN, f"cancelled {took:.2f}s after the client left"
    # The quick check is the stream's own keep-alive writes while the run is silent;
    # an ordinary stream keeps the configured heartbeat (5 s), and its run goes on.
    beat = HEARTBEAT if kind in ("stream", "join_stream") else b"\n"
    assert received.count(beat) >= 2
    assert beat not in other_received
    assert (await client.runs.get(ordinary[2], other_run))["status"] == "running"
    await client.runs.cancel(ordinary[2], other_run)

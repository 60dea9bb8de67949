"""Heartbeat comments on a quiet stream, on a server of this module's own with a short
heartbeat interval (the default is 5 s)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.runs import names, of, stream
from tests.support.server import BACKENDS, ServerProcess, serve_backend
from tests.support.sse import parse_sse, raw_stream

HEARTBEAT = 0.2
QUIET = {"configurable": {"delay": 1.0}}


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    # Overrides the session server for this module; conftest's `client` and `http`
    # then talk to this one.
    yield from serve_backend(request, env={"SSE_HEARTBEAT_SECONDS": str(HEARTBEAT)})


async def test_heartbeat_comments_between_events(client, http):
    thread_id = (await client.threads.create())["thread_id"]
    _, raw = await raw_stream(
        http,
        f"/threads/{thread_id}/runs/stream",
        {"assistant_id": "slow", "input": {}, "config": QUIET, "stream_mode": "updates"},
    )
    heartbeat = b": heartbeat\r\n\r\n"
    # The node sleeps 1 s between the metadata event and its update.
    metadata_end = raw.index(b"\r\n\r\n") + 4
    assert raw[metadata_end:].startswith(heartbeat * 2)
    assert raw.count(heartbeat) >= 3
    assert [b["event"] for b in parse_sse(raw)] == ["metadata", "updates"]


async def test_sdk_ignores_heartbeats(client):
    thread_id = (await client.threads.create())["thread_id"]
    events = await stream(client, thread_id, "slow", input={}, config=QUIET)
    # An empty input streams no first values; the node's result is the only one.
    assert names(events) == ["metadata", "values"]
    assert of(events, "values")[-1]["messages"][-1]["content"] == "slept 1s"

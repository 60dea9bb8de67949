"""Thread TTLs: langgraph.json defaults, per-thread TTLs, and the sweeper enforcing them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from langgraph_sdk import get_client
from langgraph_sdk.errors import NotFoundError

from tests.support.graphs import HELLO_STEPS
from tests.support.paths import FIXTURES
from tests.support.server import BACKENDS, ServerProcess, checkpoint_counts, serve_backend

TTL_CONFIG = FIXTURES / "langgraph_thread_ttl.json"
DEFAULT_TTL_MINUTES = 0.01  # 0.6 s, swept every 0.12 s (see the fixture config)


@pytest.fixture(scope="module", params=BACKENDS)
def ttl_server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    yield from serve_backend(request, config=TTL_CONFIG)


async def wait_until_gone(client, thread_id: str, within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        try:
            await client.threads.get(thread_id)
        except NotFoundError:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"thread {thread_id} still exists after {within}s")


async def test_default_ttl_from_config_expires_the_thread(ttl_server: ServerProcess) -> None:
    client = get_client(url=ttl_server.url, api_key=None)
    thread = await client.threads.create(metadata={"kind": "default-ttl"})
    described = await client.threads.get(thread["thread_id"], include=["ttl"])
    assert described["ttl"]["strategy"] == "delete"
    assert described["ttl"]["ttl_minutes"] == DEFAULT_TTL_MINUTES
    assert described["ttl"]["expires_at"] > described["updated_at"]
    await wait_until_gone(client, thread["thread_id"])
    assert await client.threads.search(metadata={"kind": "default-ttl"}) == []


async def test_a_thread_ttl_overrides_the_default(ttl_server: ServerProcess) -> None:
    client = get_client(url=ttl_server.url, api_key=None)
    kept = await client.threads.create(ttl=60)
    short = await client.threads.create()
    await wait_until_gone(client, short["thread_id"])
    assert (await client.threads.get(kept["thread_id"]))["thread_id"] == kept["thread_id"]


async def test_updating_a_thread_restarts_its_ttl(ttl_server: ServerProcess) -> None:
    client = get_client(url=ttl_server.url, api_key=None)
    thread = await client.threads.create(ttl={"ttl": 0.03, "strategy": "delete"})  # 1.8 s
    for _ in range(4):
        await asyncio.sleep(0.9)
        await client.threads.update(thread["thread_id"], metadata={"touched": True})
    assert (await client.threads.get(thread["thread_id"]))["metadata"]["touched"] is True
    await wait_until_gone(client, thread["thread_id"])


async def test_keep_latest_keeps_the_thread_and_only_its_newest_checkpoint(
    ttl_server: ServerProcess,
) -> None:
    client = get_client(url=ttl_server.url, api_key=None)
    thread = await client.threads.create(
        graph_id="agent", supersteps=HELLO_STEPS, ttl={"ttl": 0.005, "strategy": "keep_latest"}
    )
    thread_id = thread["thread_id"]
    before = await checkpoint_counts(ttl_server, thread_id)
    if before is not None:
        assert before[""] > 1
    await asyncio.sleep(1.5)  # several expiries and sweeps
    survivor = await client.threads.get(thread_id)
    assert survivor["values"] == thread["values"]
    after = await checkpoint_counts(ttl_server, thread_id)
    if after is not None:
        assert after == {"": 1}

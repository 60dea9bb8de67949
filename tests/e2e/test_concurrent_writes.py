"""Concurrent writes through the real server, on both backends: nothing is lost, ids stay
unique, and of requests racing to create one id exactly one wins. Each race proves its
requests overlapped (tests/support/http_races.py)."""

from __future__ import annotations

import asyncio
import uuid

from langgraph_sdk.errors import ConflictError

from tests.support.http_races import NEW_ASSISTANT_LOCK, race_requests
from tests.support.races import ASSISTANT_ROW_LOCK, NEW_THREAD_LOCK, THREAD_ROW_LOCK


async def test_concurrent_writes(client, server, tag):
    created = await asyncio.gather(
        *(client.threads.create(metadata={"tag": tag, "i": i}) for i in range(30))
    )
    assert len({t["thread_id"] for t in created}) == 30
    assert await client.threads.count(metadata={"tag": tag}) == 30

    # The updates and the creates below race for one row: proven to overlap
    # (tests/support/http_races.py).
    target = created[0]["thread_id"]

    def update(i: int):
        return lambda racing: racing.threads.update(target, metadata={f"k{i}": i})

    await race_requests(
        server, [update(i) for i in range(15)], lock_sql=THREAD_ROW_LOCK, params=(target,)
    )
    merged = (await client.threads.get(target))["metadata"]
    assert merged == {"tag": tag, "i": 0, **{f"k{i}": i for i in range(15)}}

    same_id = str(uuid.uuid4())

    def create(racing):
        return racing.threads.create(thread_id=same_id, metadata={"tag": tag})

    outcomes = await race_requests(
        server,
        [create] * 5,
        lock_sql=NEW_THREAD_LOCK,
        params=(same_id,),
        return_exceptions=True,
    )
    assert sum(isinstance(o, dict) for o in outcomes) == 1
    assert all(isinstance(o, ConflictError) for o in outcomes if not isinstance(o, dict))


async def test_concurrent_patches_get_distinct_versions(client, server, tag):
    created = await client.assistants.create("agent", metadata={"tag": tag})
    assistant_id = created["assistant_id"]

    def patch(i: int):
        return lambda racing: racing.assistants.update(assistant_id, metadata={f"k{i}": i})

    # Proven to overlap (tests/support/http_races.py).
    results = await race_requests(
        server, [patch(i) for i in range(10)], lock_sql=ASSISTANT_ROW_LOCK, params=(assistant_id,)
    )
    assert sorted(r["version"] for r in results) == list(range(2, 12))
    final = await client.assistants.get(assistant_id)
    assert final["version"] == 11
    # Metadata merges are not lost under concurrency.
    assert final["metadata"] == {"tag": tag, **{f"k{i}": i for i in range(10)}}
    versions = await client.assistants.get_versions(assistant_id, limit=100)
    assert [v["version"] for v in versions] == list(range(11, 0, -1))


async def test_concurrent_creates(client, server, tag):
    created = await asyncio.gather(
        *(client.assistants.create("agent", metadata={"tag": tag, "i": i}) for i in range(20))
    )
    assert len({a["assistant_id"] for a in created}) == 20
    assert await client.assistants.count(metadata={"tag": tag}) == 20

    same_id = str(uuid.uuid4())

    def create(racing):
        return racing.assistants.create("agent", assistant_id=same_id, metadata={"tag": tag})

    # Proven to overlap (tests/support/http_races.py).
    outcomes = await race_requests(
        server,
        [create] * 5,
        lock_sql=NEW_ASSISTANT_LOCK,
        params=(same_id,),
        return_exceptions=True,
    )
    assert sum(isinstance(o, dict) for o in outcomes) == 1
    assert all(isinstance(o, ConflictError) for o in outcomes if not isinstance(o, dict))

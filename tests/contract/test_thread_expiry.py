"""Which threads the TTL sweeper expires, identical on every backend."""

from __future__ import annotations

import asyncio

from robyn_server.storage.base import Storage
from robyn_server.storage.types import ANONYMOUS, Scope
from tests.support.contract import make_thread

TINY = 0.0005  # minutes: 30 ms


async def test_only_threads_past_their_ttl_are_expired(storage: Storage) -> None:
    due = await make_thread(storage, ttl={"strategy": "delete", "ttl_minutes": TINY})
    await make_thread(storage, ttl={"strategy": "delete", "ttl_minutes": 60})
    await make_thread(storage)
    await asyncio.sleep(0.1)
    assert await storage.thread_expired() == [{"thread_id": due["thread_id"], "strategy": "delete"}]


async def test_expiry_reports_the_strategy_and_ignores_owners(storage: Storage) -> None:
    owned = await make_thread(
        storage, Scope(owner="alice"), ttl={"strategy": "keep_latest", "ttl_minutes": TINY}
    )
    await asyncio.sleep(0.1)
    expired = await storage.thread_expired()
    assert expired == [{"thread_id": owned["thread_id"], "strategy": "keep_latest"}]


async def test_soonest_expiry_first_and_limited(storage: Storage) -> None:
    later = await make_thread(storage, ttl={"strategy": "delete", "ttl_minutes": TINY * 2})
    sooner = await make_thread(storage, ttl={"strategy": "delete", "ttl_minutes": TINY / 10})
    await asyncio.sleep(0.2)
    expired = await storage.thread_expired()
    assert [e["thread_id"] for e in expired] == [sooner["thread_id"], later["thread_id"]]
    assert len(await storage.thread_expired(limit=1)) == 1


async def test_an_update_restarts_the_clock(storage: Storage) -> None:
    thread = await make_thread(storage, ttl={"strategy": "keep_latest", "ttl_minutes": 0.005})
    await asyncio.sleep(0.2)
    await storage.thread_update(ANONYMOUS, thread["thread_id"], metadata={})
    assert await storage.thread_expired() == []
    await asyncio.sleep(0.35)
    assert [e["thread_id"] for e in await storage.thread_expired()] == [thread["thread_id"]]

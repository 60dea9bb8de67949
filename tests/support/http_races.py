"""Races through the real server that provably happened (the HTTP side of races.py).

The racing requests go through a langgraph-sdk client whose transport holds back the
last byte of every request body until all of them are connected and have sent the rest:
the server then gets them complete at the same instant, and the test knows they were all
in flight together (none can be answered before the release). That is the proof on every
backend. On Postgres the test also holds the contested row lock in the server's own
database until it has seen the server's sessions queued behind it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from typing import Any

import httpx
from langgraph_sdk.client import LangGraphClient

from tests.support.races import LOCK_WAITERS_SQL, QUEUE_WITHIN, holding, most_seen
from tests.support.server import ServerProcess

# Of the racing requests, at least this many (or all, if fewer) must be seen queued on
# the lock: the server's pool (10 connections by default) may lend a few elsewhere.
QUEUED_AT_LEAST = 5
NEW_ASSISTANT_LOCK = (
    "INSERT INTO langgraph_server.assistants (assistant_id, graph_id, name) "
    "VALUES (%s, 'agent', 'race')"
)


class Burst:
    """Request bodies sent but for their last byte, which goes out only once `count` of
    them have got that far: the server gets them complete at the same instant, and the
    test knows they were all in flight together (none answered before the release)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.waiting = 0
        self.all_waiting = asyncio.Event()
        self.release = asyncio.Event()

    async def body(self, payload: bytes) -> AsyncIterator[bytes]:
        yield payload[:-1]  # written to the socket before the generator resumes
        self.waiting += 1
        if self.waiting == self.count:
            self.all_waiting.set()
        await self.release.wait()
        yield payload[-1:]


class HeldBack(httpx.AsyncBaseTransport):
    """A transport that sends every request's body through one `Burst`."""

    def __init__(self, count: int) -> None:
        self.burst = Burst(count)
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        assert body, f"{request.method} {request.url} has no body to hold back"
        request.stream = _Stream(self.burst.body(body))
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Stream(httpx.AsyncByteStream):
    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.chunks:
            yield chunk


async def race_requests(
    server: ServerProcess,
    calls: Sequence[Callable[[LangGraphClient], Awaitable[Any]]],
    *,
    lock_sql: str | None = None,
    params: Sequence[Any] = (),
    return_exceptions: bool = False,
) -> list[Any]:
    """Make the SDK `calls` (each given the racing client) at the same instant; their
    results, in order. Fails the test unless every request was on the wire before any
    was answered and, on Postgres with a `lock_sql`, unless the server was seen queued
    behind that lock (held by the test) with QUEUED_AT_LEAST of them."""
    database_url = server.env.get("DATABASE_URL")
    locking = bool(database_url and lock_sql)
    wanted = min(len(calls), QUEUED_AT_LEAST)
    failure = None
    transport = HeldBack(len(calls))
    burst = transport.burst
    async with httpx.AsyncClient(base_url=server.url, transport=transport, timeout=60.0) as http:
        client = LangGraphClient(http)
        async with AsyncExitStack() as lock:
            if locking:
                await lock.enter_async_context(holding(database_url, lock_sql, params))
            tasks = [asyncio.ensure_future(call(client)) for call in calls]
            try:
                await asyncio.wait_for(burst.all_waiting.wait(), QUEUE_WITHIN)
            except TimeoutError:
                failure = f"only {burst.waiting} of {len(calls)} requests ever got on the wire"
            # None can have been answered yet: no request was complete.
            early = sum(task.done() for task in tasks)
            if early and not failure:
                failure = f"{early} requests were answered before the race"
            burst.release.set()
            if locking and not failure:
                seen = await most_seen(database_url, LOCK_WAITERS_SQL, (), wanted)
                if seen < wanted:
                    failure = (
                        f"only {seen} of {wanted} server sessions were ever seen waiting for "
                        "the lock: no race"
                    )
        results = await asyncio.gather(*tasks, return_exceptions=return_exceptions or bool(failure))
    assert failure is None, failure
    return results

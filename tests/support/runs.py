"""Runs as the end-to-end tests drive them through langgraph-sdk: streaming one, waiting
for a run or a thread to reach a status, and reading what came back."""

from __future__ import annotations

import asyncio
from typing import Any, NamedTuple

TERMINAL = ("success", "error", "timeout", "interrupted")
INFLIGHT = ("pending", "running")
# Generous upper bounds: runs here take well under a second, but Postgres on a busy
# 2-core machine can be slow; waits return as soon as the condition holds.
WITHIN = 20.0
# A whole streamed run, which may include a graph that sleeps or a model round trip.
STREAM_WITHIN = 60.0
# What the server answers when a `reject` run finds its thread busy.
BUSY = (
    "Thread is already running a task. Wait for it to finish or choose a different multitask "
    "strategy."
)


class Event(NamedTuple):
    """One streamed event: unpacks as `(event, data)`, or read `.event` and `.data`."""

    event: str
    data: Any


async def stream(
    client: Any,
    thread_id: str | None,
    assistant_id: str,
    *,
    within: float = STREAM_WITHIN,
    **kwargs: Any,
) -> list[Event]:
    """Every event the SDK yields for one streamed run (`kwargs` go to
    `client.runs.stream`). A run that hangs fails the test after `within` seconds
    instead of blocking the suite."""
    async with asyncio.timeout(within):
        return [
            Event(part.event, part.data)
            async for part in client.runs.stream(thread_id, assistant_id, **kwargs)
        ]


def names(events: list[tuple[str, Any]]) -> list[str]:
    """The event names of a list of `(event, data)` pairs, in order."""
    return [name for name, _ in events]


def of(events: list[tuple[str, Any]], name: str) -> list[Any]:
    """The data of every event called `name`, in order."""
    return [data for event, data in events if event == name]


async def new_thread(client: Any, tag: str, **kwargs: Any) -> str:
    """A new thread tagged with the test's `tag`; its id."""
    thread = await client.threads.create(metadata={"tag": tag}, **kwargs)
    return thread["thread_id"]


async def eventually(probe, *, within: float = WITHIN, every: float = 0.05) -> Any:
    """Poll the async `probe` until it returns something truthy; return that."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        found = await probe()
        if found:
            return found
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within}s (last: {found!r})")
        await asyncio.sleep(every)


async def run_reaches(
    client, thread_id: str, run_id: str, statuses: tuple[str, ...] = TERMINAL
) -> dict[str, Any]:
    """The run, once its status is one of `statuses`."""

    async def probe() -> dict[str, Any] | None:
        run = await client.runs.get(thread_id, run_id)
        return run if run["status"] in statuses else None

    return await eventually(probe)


async def thread_reaches(client, thread_id: str, status: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        thread = await client.threads.get(thread_id)
        return thread if thread["status"] == status else None

    return await eventually(probe)


def event_key(event_id: str) -> tuple[int, int]:
    """A stream event id (`<ms>-<seq>`) as a sortable pair."""
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


def run_id_of(location: str) -> str:
    """The run id from a `Content-Location` such as /threads/{t}/runs/{r}."""
    return location.rstrip("/").rsplit("/runs/", 1)[1].split("/")[0]

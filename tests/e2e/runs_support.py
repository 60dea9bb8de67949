"""Helpers shared by the run lifecycle e2e tests (tests/e2e/test_runs_*.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson

TERMINAL = ("success", "error", "timeout", "interrupted")
INFLIGHT = ("pending", "running")
# Generous upper bounds: runs here take well under a second, but Postgres on a busy
# 2-core machine can be slow; waits return as soon as the condition holds.
WITHIN = 20.0


def slow(delay: float) -> dict[str, Any]:
    """Config for the `slow` fixture graph: its node sleeps `delay` seconds."""
    return {"configurable": {"delay": delay}}


def human(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


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


def parse_sse(raw: bytes) -> list[dict[str, Any]]:
    """SSE blocks as `{"event", "data", "id"}` (data decoded as JSON); comments dropped.
    Expects the CRLF framing the server writes."""
    events = []
    for block in raw.decode().split("\r\n\r\n"):
        fields: dict[str, Any] = {}
        for line in block.split("\r\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        if "event" in fields or "data" in fields:
            events.append(
                {
                    "event": fields.get("event"),
                    "data": orjson.loads(fields["data"]) if "data" in fields else None,
                    "id": fields.get("id"),
                }
            )
    return events


async def read_sse(
    http: httpx.AsyncClient, method: str, url: str, **kwargs: Any
) -> tuple[httpx.Response, list[dict[str, Any]]]:
    """Send a request and read its whole SSE answer."""
    response = await http.request(method, url, **kwargs)
    return response, parse_sse(response.content)


def event_key(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


def run_id_of(location: str) -> str:
    """The run id from a `Content-Location` such as /threads/{t}/runs/{r}."""
    return location.rstrip("/").rsplit("/runs/", 1)[1].split("/")[0]

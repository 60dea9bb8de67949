"""Streaming HTTP answers over a run's event channel: SSE streams and long-poll /wait.

Robyn only notices a gone client when a write fails, so every stream writes a heartbeat
after `heartbeat` seconds of silence; the generator then sees GeneratorExit at its
`yield`, and its `finally` applies `on_disconnect`.

Each open stream holds one of Robyn's blocking threads (field notes §1.4), so the engine
counts open streams and new ones beyond the cap get a 503 before any run is created.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from robyn import Headers, StreamingResponse

from robyn_server.errors import ServiceUnavailable
from robyn_server.runs.broker import HEARTBEAT, Event, RunChannel
from robyn_server.serialization import dumps

if TYPE_CHECKING:
    from robyn_server.runs.engine import RunEngine

logger = logging.getLogger("robyn_server.runs")

SSE_HEADERS = {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-store",
    "x-accel-buffering": "no",
}


class StreamSlots:
    """Counts open streaming responses against the configured cap."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0

    def check(self) -> None:
        if self.open >= self.limit:
            raise ServiceUnavailable(
                f"Too many open streams ({self.open}); try again shortly or raise "
                "MAX_OPEN_STREAMS with more SERVER_WORKERS"
            )


def _response(body: AsyncIterator[bytes], headers: dict[str, str], media: str) -> StreamingResponse:
    response = StreamingResponse(body, headers=Headers({}), media_type=media)
    for key, value in headers.items():
        response.headers.set(key, value)
    return response


def sse_response(body: AsyncIterator[bytes], headers: dict[str, str]) -> StreamingResponse:
    return _response(body, {**SSE_HEADERS, **headers}, "text/event-stream")


def json_stream_response(body: AsyncIterator[bytes], headers: dict[str, str]) -> StreamingResponse:
    return _response(body, {"content-type": "application/json", **headers}, "application/json")


async def follow(
    engine: RunEngine,
    channel: RunChannel,
    start: int,
    *,
    with_ids: bool,
    accept: Callable[[str], bool] | None = None,
    cancel_on_disconnect: bool = False,
) -> AsyncIterator[bytes]:
    """SSE frames of a run from event `start` until it ends."""
    slots: StreamSlots = engine.stream_slots
    slots.open += 1
    finished = False
    try:
        async for event in channel.follow(start, engine.heartbeat):
            if event is None:
                yield HEARTBEAT
            elif accept is None or accept(event.name):
                yield event.frame(with_ids)
        finished = True
    finally:
        slots.open -= 1
        if not finished and cancel_on_disconnect and not channel.done:
            logger.info("Client left run %s; cancelling it (on_disconnect=cancel)", channel.run_id)
            engine.spawn(
                engine.cancel([channel.run_id], thread_id=channel.thread_id, action="interrupt")
            )


async def single_event(name: str, data: Any) -> AsyncIterator[bytes]:
    yield Event((0, 0), name, dumps(data), "").frame(False)


async def empty() -> AsyncIterator[bytes]:
    return
    yield  # pragma: no cover - makes this an async generator


async def wait_body(
    engine: RunEngine,
    channel: RunChannel,
    *,
    cancel_on_disconnect: bool = False,
) -> AsyncIterator[bytes]:
    """A long-poll JSON answer: a newline every heartbeat while the run executes (legal
    leading whitespace, and how a gone client is noticed), then the result."""
    slots: StreamSlots = engine.stream_slots
    slots.open += 1
    finished = False
    try:
        while not await channel.wait_done(engine.heartbeat):
            yield b"\n"
        finished = True
        yield dumps(channel.result if channel.result is not None else {})
    finally:
        slots.open -= 1
        if not finished and cancel_on_disconnect and not channel.done:
            engine.spawn(
                engine.cancel([channel.run_id], thread_id=channel.thread_id, action="interrupt")
            )


def run_headers(thread_id: str | None, run_id: str, tail: str) -> dict[str, str]:
    base = f"/threads/{thread_id}/runs/{run_id}" if thread_id else f"/runs/{run_id}"
    return {"location": f"{base}/{tail}", "content-location": base}

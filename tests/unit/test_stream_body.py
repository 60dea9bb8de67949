"""The body Robyn reads streams through (http/stream_body.py): everything buffered comes
out in one chunk per `__next__`, chunks stay in order and below the size bound, the end
and errors come through, a parked thread is woken when data arrives (no more of them at
once than the gate allows), a dropped body stops its generator, and a slow reader holds
the generator back. Robyn's threads are played by `asyncio.to_thread`."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import AsyncIterator

import pytest

from robyn_server.http import stream_body
from robyn_server.http.stream_body import MAX_CHUNK_BYTES, StreamBody, WakeGate


class Source:
    """An async iterator the test feeds by hand, recording how far it was read."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.read = 0
        self.closed = asyncio.Event()

    async def gen(self) -> AsyncIterator[bytes]:
        try:
            while (item := await self.queue.get()) is not None:
                self.read += 1
                yield item
        finally:
            self.closed.set()


def _next(body: StreamBody) -> bytes | None:
    try:
        return next(body)
    except StopIteration:
        return None


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_everything_buffered_comes_out_as_one_chunk_in_order() -> None:
    source = Source()
    body = StreamBody(source.gen(), WakeGate())
    for i in range(5):
        source.queue.put_nowait(b"event %d\n" % i)
    await _settle()
    assert await asyncio.to_thread(_next, body) == b"".join(b"event %d\n" % i for i in range(5))
    source.queue.put_nowait(b"late\n")
    source.queue.put_nowait(None)
    await _settle()
    assert await asyncio.to_thread(_next, body) == b"late\n"
    assert await asyncio.to_thread(_next, body) is None
    assert source.closed.is_set()


async def test_a_parked_thread_is_woken_by_the_next_event_and_by_the_end() -> None:
    source = Source()
    body = StreamBody(source.gen(), WakeGate())
    waiting = asyncio.ensure_future(asyncio.to_thread(_next, body))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # nothing yet: parked
    source.queue.put_nowait(b"hello")
    assert await asyncio.wait_for(waiting, 5) == b"hello"
    ending = asyncio.ensure_future(asyncio.to_thread(_next, body))
    await asyncio.sleep(0.05)
    source.queue.put_nowait(None)
    assert await asyncio.wait_for(ending, 5) is None


async def test_chunks_are_bounded_and_a_big_event_goes_alone() -> None:
    source = Source()
    body = StreamBody(source.gen(), WakeGate())
    small = b"x" * (MAX_CHUNK_BYTES // 4)
    big = b"y" * (MAX_CHUNK_BYTES + 10)
    for item in (small, small, small, small, small, big, small, None):
        source.queue.put_nowait(item)
    await _settle()
    chunks = []
    while (chunk := await asyncio.to_thread(_next, body)) is not None:
        chunks.append(chunk)
    assert chunks == [small * 4, small, big, small]


async def test_an_error_in_the_generator_ends_the_stream_with_it() -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield b"first"
        raise RuntimeError("boom")

    body = StreamBody(failing(), WakeGate())
    await _settle()
    assert await asyncio.to_thread(_next, body) == b"first"
    with pytest.raises(RuntimeError, match="boom"):
        await asyncio.to_thread(next, body)


async def test_no_more_threads_are_woken_at_once_than_the_gate_allows() -> None:
    gate = WakeGate(limit=2)
    sources = [Source() for _ in range(6)]
    bodies = [StreamBody(s.gen(), gate) for s in sources]
    inside = 0
    most = 0
    lock = threading.Lock()
    real_drain = stream_body._Stream._drain

    def slow_drain(self: stream_body._Stream) -> bytes:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        time.sleep(0.02)  # holds its wake-up (and the GIL released: others could run)
        with lock:
            inside -= 1
        return real_drain(self)

    threads = [asyncio.ensure_future(asyncio.to_thread(_next, b)) for b in bodies]
    await asyncio.sleep(0.1)  # all parked
    stream_body._Stream._drain = slow_drain  # type: ignore[method-assign]
    try:
        for s in sources:
            s.queue.put_nowait(b"go")
        results = await asyncio.wait_for(asyncio.gather(*threads), 10)
    finally:
        stream_body._Stream._drain = real_drain  # type: ignore[method-assign]
    assert results == [b"go"] * 6
    assert most <= 2
    assert (gate.awake, gate.waiting) == (0, 0)


async def test_a_body_robyn_drops_stops_its_generator() -> None:
    source = Source()
    body = StreamBody(source.gen(), WakeGate())
    source.queue.put_nowait(b"one")
    await _settle()
    assert await asyncio.to_thread(_next, body) == b"one"
    del body
    gc.collect()
    await asyncio.wait_for(source.closed.wait(), 5)  # its `finally` ran, on the loop


async def test_a_slow_reader_holds_the_generator_back() -> None:
    source = Source()
    body = StreamBody(source.gen(), WakeGate())
    piece = b"z" * (64 * 1024)
    for _ in range(40):  # 2.5 MiB offered; the pump stops at 1 MiB buffered
        source.queue.put_nowait(piece)
    await asyncio.sleep(0.1)
    assert source.read == stream_body.HIGH_WATER_BYTES // len(piece)
    got = 0
    while got < 40 * len(piece):
        chunk = await asyncio.to_thread(_next, body)
        assert chunk is not None
        got += len(chunk)
        await _settle()
    assert source.read == 40
    source.queue.put_nowait(None)
    assert await asyncio.to_thread(_next, body) is None

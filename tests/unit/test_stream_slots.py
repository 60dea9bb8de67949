"""A stream slot is given back exactly once, also in the paths no HTTP client can force:
a generator Robyn drops without ever starting it, and a drop on one of Robyn's threads.
(tests/e2e/test_stream_slots.py covers the cap itself through a real server.)"""

from __future__ import annotations

import asyncio
import gc
import threading
from types import SimpleNamespace

import pytest

from robyn_server.engine.broker import RunChannel
from robyn_server.engine.stream_slots import StreamSlots
from robyn_server.errors import ServiceUnavailable
from robyn_server.http.sse import native_flush
from robyn_server.services.run_streams import follow, wait_body


def _engine() -> SimpleNamespace:
    return SimpleNamespace(heartbeat=5.0, stopping=False)


async def _settled(slots: StreamSlots, open_: int) -> None:
    for _ in range(100):
        if slots.open == open_:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{slots.open} slots open, expected {open_}")


async def test_the_cap_is_checked_and_counted_in_one_step() -> None:
    slots = StreamSlots(2, flush=native_flush)
    first, second = slots.reserve(5.0), slots.reserve(5.0)
    with pytest.raises(ServiceUnavailable):
        slots.reserve(5.0)
    first.release()
    first.release()  # a second release changes nothing
    assert slots.open == 1
    second.release()
    assert slots.open == 0
    slots.stop()


async def test_a_stream_dropped_before_it_started_gives_its_slot_back() -> None:
    slots = StreamSlots(4, flush=native_flush)
    channel = RunChannel("r", "t", False)
    bodies = [
        wait_body(_engine(), channel, slots.reserve(5.0)),
        follow(_engine(), channel, 0, slots.reserve(5.0, watch=True), with_ids=False),
    ]
    assert (slots.open, slots.watching) == (2, 1)
    bodies.clear()
    gc.collect()
    assert (slots.open, slots.watching) == (0, 0)

    # Dropped on another thread (as Robyn does): the count changes on the loop only.
    bodies.append(wait_body(_engine(), channel, slots.reserve(5.0)))
    dropper = threading.Thread(target=bodies.clear)
    dropper.start()
    dropper.join()
    await _settled(slots, 0)
    slots.stop()


async def test_a_stream_that_ends_gives_its_slot_back_once() -> None:
    slots = StreamSlots(4, flush=native_flush)
    channel = RunChannel("r", "t", False)
    slot = slots.reserve(5.0)
    body = wait_body(_engine(), channel, slot)
    channel.close({"done": True})
    assert [chunk async for chunk in body] == [b'{"done":true}']
    assert slots.open == 0
    slot.release()
    del body, slot
    gc.collect()
    assert slots.open == 0
    slots.stop()

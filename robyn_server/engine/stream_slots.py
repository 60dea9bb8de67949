"""How many streaming responses may be open at once, and their release.

Each open stream holds one of Robyn's blocking threads (field notes §1.4), so the engine
counts open streams and new ones beyond the cap get a 503 before any run is created.
The HTTP layer supplies `flush`, a call into its native code (see `StreamSlots`).
"""

from __future__ import annotations

import asyncio
import random
import weakref
from collections.abc import Callable

from robyn_server.errors import ServiceUnavailable

# Heartbeat (and native flush) interval of streams that cancel their run on disconnect.
# The second write after a client left is the one that fails, and the dropped stream is
# released at the next native call: about 3 intervals from leaving to cancelling.
WATCH_SECONDS = 0.25
# Each stream's heartbeat interval is up to this much shorter than configured, drawn once
# per stream: thousands of streams opened together must not all wake in the same instant.
HEARTBEAT_JITTER = 0.2


def jittered(heartbeat: float) -> float:
    """A stream's own heartbeat interval: `heartbeat` minus up to HEARTBEAT_JITTER of it."""
    return heartbeat * (1.0 - HEARTBEAT_JITTER * random.random())


class StreamSlots:
    """Counts open streaming responses against the configured cap.

    A slot is reserved when the request is accepted, before the run is created, and
    the check and the count are one step on the loop, so concurrent requests can never
    overrun the cap. Each `StreamSlot` is released exactly once (see there).

    A stream whose client left is let go by Robyn's native side without holding the
    GIL, and pyo3 defers that release until the next call between Python and native
    code. Until then the stream's generator is not finalized: its slot stays taken and
    on_disconnect=cancel does not happen, forever on an otherwise quiet server. So while
    streams are open, a task calls into Robyn's native code once per heartbeat, and
    every `WATCH_SECONDS` while a stream that cancels on disconnect is open.
    """

    def __init__(self, limit: int, flush: Callable[[], object]) -> None:
        self._native_flush = flush
        self.limit = limit
        self.open = 0
        self.watching = 0
        self._flusher: asyncio.Task | None = None
        self._wake: asyncio.Event | None = None

    def reserve(self, heartbeat: float, *, watch: bool = False) -> StreamSlot:
        """Take a slot or raise 503. Must run on the server's loop."""
        if self.open >= self.limit:
            raise ServiceUnavailable(
                f"Too many open streams ({self.open}); try again shortly or raise "
                "MAX_OPEN_STREAMS with more SERVER_WORKERS"
            )
        loop = asyncio.get_running_loop()
        self.open += 1
        if watch:
            self.watching += 1
        if self._flusher is None or self._flusher.done():
            self._wake = asyncio.Event()
            self._flusher = loop.create_task(self._flush(heartbeat))
        elif watch and self._wake is not None:
            self._wake.set()  # the flusher may be in a long sleep: shorten it now
        return StreamSlot(self, loop, watch)

    def _released(self, watch: bool) -> None:
        self.open -= 1
        if watch:
            self.watching -= 1

    async def _flush(self, heartbeat: float) -> None:
        wake = self._wake
        assert wake is not None
        while self.open > 0:
            wake.clear()
            interval = min(heartbeat, WATCH_SECONDS) if self.watching else heartbeat
            try:
                await asyncio.wait_for(wake.wait(), interval)
            except TimeoutError:
                pass
            self._native_flush()  # any native call applies pyo3's deferred releases

    def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()


class StreamSlot:
    """One reserved place under the stream cap.

    Released exactly once, by whichever comes first: the stream's generator ending
    (run finished or client gone), the request failing before it streams (`release`
    in the route), or the slot being garbage-collected: a generator Robyn drops
    without ever starting it never runs its `finally`, but its frame holds this slot.
    The release may happen on one of Robyn's threads; the count is only touched on
    the server's loop."""

    __slots__ = ("__weakref__", "_finalizer", "watch")

    def __init__(self, slots: StreamSlots, loop: asyncio.AbstractEventLoop, watch: bool) -> None:
        self.watch = watch
        self._finalizer = weakref.finalize(self, _release_on_loop, slots, loop, watch)
        self._finalizer.atexit = False

    def release(self) -> None:
        self._finalizer()  # weakref.finalize runs its callback at most once


def _release_on_loop(slots: StreamSlots, loop: asyncio.AbstractEventLoop, watch: bool) -> None:
    try:
        on_loop = asyncio.get_running_loop() is loop
    except RuntimeError:
        on_loop = False
    if on_loop:
        slots._released(watch)
    elif not loop.is_closed():
        loop.call_soon_threadsafe(slots._released, watch)

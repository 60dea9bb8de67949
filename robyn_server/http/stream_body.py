"""The body of a streaming response as Robyn consumes it, built for thousands of streams.

Robyn 0.88 reads a streaming body on one of its blocking threads: each chunk is one
`spawn_blocking(|| body.__next__())` holding the GIL (field notes §1.4). Its own wrapper
for async generators schedules one `__anext__` on the event loop per chunk and blocks the
thread on it: a task, a cross-thread future and a wake-up of the loop per event, and
every one of thousands of threads contending for the GIL whenever events arrive. Here:

- A task on the loop (`_pump`) drives the async iterator and appends what it yields to
  the stream's buffer, without waiting for Robyn.
- `__next__` returns everything buffered as one chunk (up to `MAX_CHUNK_BYTES`), so a
  burst of events costs Robyn one write instead of one thread wake-up per event; with
  nothing buffered it parks its thread on a lock, without the GIL.
- Parked threads are woken through a `WakeGate`: at most `WAKE_LIMIT` of them hold a
  wake-up at once and the others wait their turn in order, so thousands of streams
  whose runs end together do not all fight for the GIL (with the loop among them).
- A stream Robyn drops (the client left, a write failed) is noticed when the body is
  collected; its pump is then cancelled, which runs the generator's `finally` on the
  loop (slot release, on_disconnect), as before.
- The pump stops reading while more than `HIGH_WATER_BYTES` wait for a slow client.

Why the wake limit matters: a thread waiting for the GIL wakes every switch interval
(`sys.setswitchinterval`, GIL_SWITCH_INTERVAL_MS) to ask the holder to let go, so a
thousand threads wanting it at once make a convoy that burns a core and starves the loop
(measured on the previous design: 2,000 streams, half waiting for queued runs, cost 63 s
of CPU instead of 11; see README "Streams").
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections import deque
from collections.abc import AsyncIterator

logger = logging.getLogger("robyn_server.http")

MAX_CHUNK_BYTES = 256 * 1024
HIGH_WATER_BYTES = 1024 * 1024
WAKE_LIMIT = 64


class WakeGate:
    """How many parked stream threads may be woken at once; the others queue, in order.

    A woken thread holds its place until its `__next__` returns (it needs the GIL once,
    to take its buffer); then it hands the place to the next in line."""

    def __init__(self, limit: int = WAKE_LIMIT) -> None:
        self.limit = limit
        self.awake = 0
        self._queue: deque[_Stream] = deque()
        self._lock = threading.Lock()

    def wake(self, stream: _Stream) -> None:
        with self._lock:
            if self.awake >= self.limit:
                self._queue.append(stream)
                return
            self.awake += 1
        stream.signal.release()

    def leave(self) -> None:
        with self._lock:
            if not self._queue:
                self.awake -= 1
                return
            following = self._queue.popleft()  # the place passes on: `awake` is unchanged
        following.signal.release()

    @property
    def waiting(self) -> int:
        return len(self._queue)


GATE = WakeGate()


class _Stream:
    """What the pump (on the loop) and Robyn's thread share: the buffer and its signals.
    Every access to the buffer holds `mutex`; `signal` is released once per wake-up."""

    __slots__ = (
        "chunks",
        "done",
        "drained",
        "error",
        "gate",
        "loop",
        "mutex",
        "parked",
        "signal",
        "size",
        "task",
    )

    def __init__(self, gate: WakeGate, loop: asyncio.AbstractEventLoop) -> None:
        self.gate = gate
        self.loop = loop
        self.chunks: list[bytes] = []
        self.size = 0
        self.done = False
        self.error: BaseException | None = None
        self.parked = False
        self.mutex = threading.Lock()
        self.signal = threading.Lock()
        self.signal.acquire()
        self.drained: asyncio.Future[None] | None = None
        self.task: asyncio.Task[None] | None = None

    # -- the loop's side -----------------------------------------------------------------

    def push(self, chunk: bytes) -> bool:
        """Buffer a chunk; True when the buffer is full and the pump should wait."""
        with self.mutex:
            self.chunks.append(chunk)
            self.size += len(chunk)
            wake, self.parked = self.parked, False
            full = self.size >= HIGH_WATER_BYTES
            if full:
                self.drained = self.loop.create_future()
        if wake:
            self.gate.wake(self)
        return full

    def close(self, error: BaseException | None = None) -> None:
        with self.mutex:
            self.done = True
            self.error = error
            wake, self.parked = self.parked, False
        if wake:
            self.gate.wake(self)

    # -- Robyn's thread ------------------------------------------------------------------

    def take(self) -> bytes:
        with self.mutex:
            if self.chunks or self.done:
                return self._drain()
            self.parked = True
        self.signal.acquire()  # parked, without the GIL, until the gate wakes us
        try:
            with self.mutex:
                return self._drain()
        finally:
            self.gate.leave()

    def _drain(self) -> bytes:
        """Everything buffered, up to MAX_CHUNK_BYTES (a larger chunk alone); or the
        end. Called with `mutex` held."""
        chunks = self.chunks
        if not chunks:
            if self.error is not None:
                raise self.error
            raise StopIteration
        if self.size <= MAX_CHUNK_BYTES:
            body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            chunks.clear()
            self.size = 0
        else:
            count, taken = 1, len(chunks[0])
            while count < len(chunks) and taken + len(chunks[count]) <= MAX_CHUNK_BYTES:
                taken += len(chunks[count])
                count += 1
            body = b"".join(chunks[:count])
            del chunks[:count]
            self.size -= taken
        drained = self.drained
        if drained is not None and self.size < HIGH_WATER_BYTES:
            self.drained = None
            self.loop.call_soon_threadsafe(_resolve, drained)
        return body


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _pump(source: AsyncIterator[bytes], stream: _Stream) -> None:
    error: BaseException | None = None
    try:
        async for chunk in source:
            if stream.push(chunk) and stream.drained is not None:
                await stream.drained
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        # As Robyn's own wrapper does: the error ends the stream and Robyn logs it.
        error = exc
    finally:
        stream.close(error)
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()


def _abandon(stream: _Stream) -> None:
    """The body was collected: stop its pump if Robyn dropped it before its end."""
    task = stream.task
    if task is None or task.done() or stream.loop.is_closed():
        return
    try:
        on_loop = asyncio.get_running_loop() is stream.loop
    except RuntimeError:
        on_loop = False
    if on_loop:
        task.cancel()
    else:
        stream.loop.call_soon_threadsafe(task.cancel)


class StreamBody:
    """A synchronous iterator of body chunks for Robyn, fed by an async iterator that a
    task drives on the running loop from the moment the body is made."""

    __slots__ = ("__weakref__", "_stream")

    def __init__(self, source: AsyncIterator[bytes], gate: WakeGate = GATE) -> None:
        loop = asyncio.get_running_loop()
        stream = _Stream(gate, loop)
        stream.task = loop.create_task(_pump(source, stream))
        self._stream = stream
        weakref.finalize(self, _abandon, stream).atexit = False

    def __iter__(self) -> StreamBody:
        return self

    def __next__(self) -> bytes:
        return self._stream.take()

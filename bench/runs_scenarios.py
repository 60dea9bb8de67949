"""The run scenarios, timed with httpx: runs/wait throughput, stream latencies, and a
burst of concurrent slow streams. Each function measures one server once (one round).

All runs are stateless (`POST /runs/wait`, `POST /runs/stream`, no thread created first),
so every server does the same work per run: a temporary thread, the run, its deletion.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from servers import Server
from sysload import CLK_TCK, ForeignCpu, Quiet, marked_ticks, process_ticks

TRIVIAL_REPLY = "hello there friend"
SLEEPY_REPLY = "slept 2s"
STREAM_MODES = ["values", "messages-tuple"]
INPUT = {"messages": [{"role": "user", "content": "hi"}]}


def run_body(graph: str, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"assistant_id": graph, "input": INPUT}
    if stream:
        body["stream_mode"] = STREAM_MODES
    return body


@dataclass
class Target:
    """A server under test; `database` names its Postgres database, if it has one."""

    key: str
    server: Server
    database: str | None = None
    broken: str | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def client(self, connections: int) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(600.0, connect=30.0),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )


class Meter:
    """CPU used between `start()` and `stop()` by the server process (all its threads), by
    the Postgres backends of its database, by this process (the load generator: if it
    nears 100%, it and not the server sets the pace) and by other processes."""

    def __init__(self, target: Target) -> None:
        self.target = target

    def start(self) -> Meter:
        proc = self.target.server.proc
        assert proc is not None
        self.pid = proc.pid
        self.markers = (self.target.database,) if self.target.database else ()
        self.server0 = process_ticks(self.pid)
        self.pg0 = marked_ticks(self.markers) if self.markers else 0
        self.foreign = ForeignCpu().start()
        self.client0, self.wall0 = time.process_time(), time.perf_counter()
        return self

    def stop(self) -> dict[str, Any]:
        server = (process_ticks(self.pid) - self.server0) / CLK_TCK
        pg = (marked_ticks(self.markers) - self.pg0) / CLK_TCK if self.markers else None
        client = (time.process_time() - self.client0) / (time.perf_counter() - self.wall0)
        return {
            "server_cpu_s": server,
            "postgres_cpu_s": pg,
            "client_cpu_pct": round(100 * client, 1),
            "foreign_cpu_pct": self.foreign.stop(),
        }


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile (same rule as loadgen.percentile_ms)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


# ---------------------------------------------------------------------------------------
# runs/wait


async def wait_once(client: httpx.AsyncClient, body: bytes) -> tuple[float, str | None]:
    """One `POST /runs/wait`: (seconds, error or None)."""
    started = time.perf_counter()
    try:
        response = await client.post(
            "/runs/wait", content=body, headers={"content-type": "application/json"}
        )
    except httpx.HTTPError as exc:
        return time.perf_counter() - started, f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        return seconds, f"HTTP {response.status_code}: {response.text[:200]}"
    if TRIVIAL_REPLY not in response.text:
        return seconds, f"no reply in {response.text[:200]}"
    return seconds, None


async def runs_wait(target: Target, users: int, duration: float) -> dict[str, Any]:
    """Closed loop: `users` clients each send `POST /runs/wait` on `trivial`, wait for the
    answer, and send the next, until `duration` seconds have passed."""
    body = orjson.dumps(run_body("trivial", stream=False))
    latencies: list[float] = []
    errors: list[str] = []
    async with target.client(users) as client:
        await Quiet.wait()
        meter = Meter(target).start()
        started = time.perf_counter()
        deadline = started + duration

        async def user() -> None:
            while time.perf_counter() < deadline:
                seconds, error = await wait_once(client, body)
                latencies.append(seconds)
                if error:
                    errors.append(error)

        await asyncio.gather(*(user() for _ in range(users)))
        elapsed = time.perf_counter() - started
        cpu = meter.stop()
    return {
        "runs": len(latencies),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "seconds": elapsed,
        "latencies_s": latencies,
        **cpu,
    }


# ---------------------------------------------------------------------------------------
# runs/stream


@dataclass
class StreamTiming:
    """Seconds from sending the request to: the response head, the first SSE event of
    any kind (`metadata` on both servers), the first event of a requested stream mode,
    and the last event."""

    head: float | None = None
    first_event: float | None = None
    first_mode_event: float | None = None
    last_event: float | None = None
    events: int = 0
    error: str | None = None
    last_values: bytes = field(default=b"", repr=False)


async def stream_once(client: httpx.AsyncClient, body: bytes, expect: str) -> StreamTiming:
    """One `POST /runs/stream`, read to its end. Minimal SSE parsing: events are split on
    blank lines; only the `event:` name and the last `values` data are kept."""
    timing = StreamTiming()
    started = time.perf_counter()
    try:
        async with client.stream(
            "POST", "/runs/stream", content=body, headers={"content-type": "application/json"}
        ) as response:
            timing.head = time.perf_counter() - started
            if response.status_code != 200:
                await response.aread()
                timing.error = f"HTTP {response.status_code}: {response.text[:200]}"
                return timing
            buffer = b""
            async for chunk in response.aiter_bytes():
                buffer = (buffer + chunk).replace(b"\r\n", b"\n")
                while (end := buffer.find(b"\n\n")) >= 0:
                    block, buffer = buffer[:end], buffer[end + 2 :]
                    note_event(timing, block, time.perf_counter() - started)
    except httpx.HTTPError as exc:
        timing.error = f"{type(exc).__name__}: {exc}"
        return timing
    if timing.error is None and expect.encode() not in timing.last_values:
        timing.error = f"no {expect!r} in the last values event: {timing.last_values[:200]!r}"
    return timing


def note_event(timing: StreamTiming, block: bytes, at: float) -> None:
    name, data = None, []
    for line in block.split(b"\n"):
        if line.startswith(b"event:"):
            name = line[6:].strip().decode()
        elif line.startswith(b"data:"):
            data.append(line[5:].lstrip())
    if name is None:  # a comment (heartbeat) or an empty block
        return
    timing.events += 1
    timing.last_event = at
    if timing.first_event is None:
        timing.first_event = at
    if name != "metadata" and timing.first_mode_event is None:
        timing.first_mode_event = at
    if name == "values":
        timing.last_values = b"\n".join(data)
    elif name == "error" and timing.error is None:
        timing.error = "error event: " + b"\n".join(data).decode(errors="replace")[:200]


def timing_summary(timings: list[StreamTiming]) -> dict[str, Any]:
    errors = [t.error for t in timings if t.error]
    out: dict[str, Any] = {
        "streams": len(timings),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
    }
    for key in ("head", "first_event", "first_mode_event", "last_event"):
        out[key + "_s"] = [getattr(t, key) for t in timings if getattr(t, key) is not None]
    return out


async def runs_stream(target: Target, count: int) -> dict[str, Any]:
    """`count` streams of `trivial`, one after the other (no queueing: the latency a
    lone user sees)."""
    body = orjson.dumps(run_body("trivial", stream=True))
    timings = []
    async with target.client(1) as client:
        await Quiet.wait()
        meter = Meter(target).start()
        started = time.perf_counter()
        for _ in range(count):
            timings.append(await stream_once(client, body, TRIVIAL_REPLY))
        elapsed = time.perf_counter() - started
        cpu = meter.stop()
    return {**timing_summary(timings), "seconds": elapsed, **cpu}


async def burst(target: Target, streams: int) -> dict[str, Any]:
    """`streams` concurrent streams of `sleepy` (2 s each), all sent at once, each on
    its own connection; done when the last one ends."""
    body = orjson.dumps(run_body("sleepy", stream=True))
    async with target.client(streams) as client:
        await Quiet.wait()
        meter = Meter(target).start()
        started = time.perf_counter()
        timings = await asyncio.gather(
            *(stream_once(client, body, SLEEPY_REPLY) for _ in range(streams))
        )
        elapsed = time.perf_counter() - started
        cpu = meter.stop()
    summary = timing_summary(list(timings))
    return {**summary, "completed": streams - summary["errors"], "seconds": elapsed, **cpu}


async def probe(target: Target) -> str | None:
    """None if the server answers a `trivial` run on /runs/wait and /runs/stream."""
    async with target.client(1) as client:
        _, error = await wait_once(client, orjson.dumps(run_body("trivial", stream=False)))
        if error:
            return f"POST /runs/wait: {error}"
        timing = await stream_once(
            client, orjson.dumps(run_body("trivial", stream=True)), TRIVIAL_REPLY
        )
        if timing.error:
            return f"POST /runs/stream: {timing.error}"
    return None

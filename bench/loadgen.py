"""A small, fast HTTP/1.1 keep-alive load generator on asyncio streams (stdlib only).

httpx and aiohttp spend more CPU per request than the server under test, so they cannot
saturate it. This client pre-encodes its requests, keeps one connection per virtual user
and parses only the status line and `Content-Length` of each answer.

Closed loop: each virtual user sends a request, waits for the answer, records its latency
and sends the next one, until the deadline. `run()` returns counts and latencies per label.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

_CRLF2 = b"\r\n\r\n"


class HttpError(Exception):
    pass


def encode_request(
    method: str, path: str, host: str, body: Any = None, headers: dict[str, str] | None = None
) -> bytes:
    """A complete, pre-encoded HTTP/1.1 request (JSON body if `body` is not None)."""
    lines = [f"{method} {path} HTTP/1.1", f"host: {host}"]
    payload = b""
    if body is not None:
        payload = body if isinstance(body, bytes) else orjson.dumps(body)
        lines.append("content-type: application/json")
    if payload or method in ("POST", "PUT", "PATCH"):
        lines.append(f"content-length: {len(payload)}")
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


class Connection:
    """One keep-alive connection; `send` writes a request and reads its whole answer."""

    __slots__ = ("host", "port", "reader", "writer")

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(
            self.host, self.port, limit=1 << 22
        )

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        writer, reader = self.writer, self.reader
        assert writer is not None and reader is not None
        writer.write(raw)
        head = await reader.readuntil(_CRLF2)
        status = int(head[9:12])
        lower = head.lower()
        at = lower.find(b"\r\ncontent-length:")
        if at >= 0:
            end = lower.find(b"\r\n", at + 17)
            length = int(lower[at + 17 : end])
            body = await reader.readexactly(length) if length else b""
        elif b"\r\ntransfer-encoding: chunked" in lower:
            body = await self._read_chunked(reader)
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:
            raise HttpError(f"answer without content-length: {head[:200]!r}")
        if b"\r\nconnection: close" in lower:
            await self.close()
        return status, body

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        parts = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
        self.reader = self.writer = None


@dataclass
class Stats:
    """Latencies (ns) and outcome counts per request label."""

    latencies: dict[str, list[int]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0

    def record(self, label: str, started_ns: int, ok: bool) -> None:
        self.latencies.setdefault(label, []).append(time.perf_counter_ns() - started_ns)
        if not ok:
            self.errors[label] = self.errors.get(label, 0) + 1

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def summary(self, label: str | None = None) -> dict[str, Any]:
        """requests, req/s, p50/p90/p99/max in ms, errors (all labels pooled if None)."""
        if label is None:
            lat = [x for v in self.latencies.values() for x in v]
            errors = self.error_count
        else:
            lat = list(self.latencies.get(label, []))
            errors = self.errors.get(label, 0)
        lat.sort()
        return {
            "requests": len(lat),
            "errors": errors,
            "seconds": round(self.elapsed, 3),
            "rps": round(len(lat) / self.elapsed, 1) if self.elapsed else 0.0,
            "p50_ms": percentile_ms(lat, 50),
            "p90_ms": percentile_ms(lat, 90),
            "p99_ms": percentile_ms(lat, 99),
            "max_ms": round(lat[-1] / 1e6, 3) if lat else None,
        }


def percentile_ms(sorted_ns: list[int], pct: float) -> float | None:
    """Nearest-rank percentile of sorted nanosecond values, in milliseconds."""
    if not sorted_ns:
        return None
    rank = max(1, min(len(sorted_ns), round(pct / 100 * len(sorted_ns) + 0.5)))
    return round(sorted_ns[rank - 1] / 1e6, 3)


# A flow is one iteration of a virtual user: it sends one or more requests through
# `Connection.send`, recording each with `stats.record(label, started, ok)`.
Flow = Callable[[Connection, Stats], Awaitable[None]]


def simple_flow(label: str, raw: bytes, expect: int = 200) -> Flow:
    async def flow(conn: Connection, stats: Stats) -> None:
        started = time.perf_counter_ns()
        status, _ = await conn.send(raw)
        stats.record(label, started, status == expect)

    return flow


async def run(
    host: str,
    port: int,
    flow: Flow,
    *,
    concurrency: int,
    duration: float,
    max_iterations: int | None = None,
) -> Stats:
    """Run `flow` in a closed loop on `concurrency` connections for `duration` seconds
    (or until `max_iterations` flows have started, whichever comes first)."""
    stats = Stats()
    conns = [Connection(host, port) for _ in range(concurrency)]
    await asyncio.gather(*(c.open() for c in conns))
    remaining = [max_iterations if max_iterations is not None else -1]
    started = time.perf_counter()
    deadline = started + duration

    async def user(conn: Connection) -> None:
        while time.perf_counter() < deadline and remaining[0] != 0:
            remaining[0] -= 1
            await flow(conn, stats)

    try:
        await asyncio.gather(*(user(c) for c in conns))
    finally:
        stats.elapsed = time.perf_counter() - started
        await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)
    return stats


async def run_each(
    host: str,
    port: int,
    requests: list[bytes],
    *,
    concurrency: int,
    expect: int = 200,
) -> list[tuple[int, bytes]]:
    """Send every request once (on `concurrency` connections); answers in order."""
    answers: list[tuple[int, bytes]] = [(0, b"")] * len(requests)
    queue = iter(enumerate(requests))

    async def user() -> None:
        conn = Connection(host, port)
        try:
            for index, raw in queue:
                answers[index] = await conn.send(raw)
                if answers[index][0] != expect:
                    raise HttpError(f"expected {expect}, got {answers[index]!r:.300}")
        finally:
            await conn.close()

    await asyncio.gather(*(user() for _ in range(min(concurrency, len(requests)) or 1)))
    return answers

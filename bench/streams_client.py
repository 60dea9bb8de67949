"""One load-generator process of bench/streams.py: opens its share of the streams at one
instant and reports, per stream, when each step happened (stdlib + orjson only).

    python bench/streams_client.py PORT START_AT MODE < jobs.json > results.json

MODE `run`: `POST /threads/{id}/runs/stream` on the `slow` bench graph, read to the end
of the body. MODE `watch`: `GET /threads/{id}/stream` (a pure watcher, no run), held until
STOP_AT (argv[4]) and then closed by the client. Every time is `time.time()`, the
server's clock too (same machine), so a stream's end can be compared with its run's end.

The client is a bare HTTP/1.1 reader on asyncio streams: it parses the chunked body
itself and keeps the raw bytes, so its own cost per event stays far below the server's.
Its event loop's lag is sampled and reported: a late client would inflate every figure.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import orjson

HOST = "127.0.0.1"
RUN_BODY = {
    "assistant_id": "slow",
    "input": {"messages": [{"role": "user", "content": "x"}]},
    "stream_mode": ["values"],
}


def _request(method: str, path: str, body: bytes | None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"host: {HOST}", "accept: text/event-stream"]
    if body is not None:
        lines += ["content-type: application/json", f"content-length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def _header(head: bytes, name: bytes) -> str | None:
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip().decode()
    return None


async def _read_body(reader: asyncio.StreamReader, out: dict[str, Any]) -> bytes:
    """The chunked body; `complete` once the terminating chunk arrived."""
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip() or b"0", 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            out["complete"] = True
            return b"".join(parts)
        data = await reader.readexactly(size + 2)
        parts.append(data[:-2])
        now = time.time()
        if out["first_byte"] is None:
            out["first_byte"] = now
        out["chunks"] += 1
        out["last_data"] = now


async def _stream(
    port: int, method: str, path: str, body: bytes | None, stop_at: float | None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "path": path,
        "status": None,
        "error": None,
        "sent": None,
        "headers": None,
        "first_byte": None,
        "last_data": None,
        "end": None,
        "chunks": 0,
        "complete": False,
        "run_id": None,
        "final_values": False,
        "heartbeats": 0,
    }
    writer = None
    try:
        reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 20)
        writer.write(_request(method, path, body))
        out["sent"] = time.time()
        head = await reader.readuntil(b"\r\n\r\n")
        out["headers"] = time.time()
        out["status"] = int(head[9:12])
        location = _header(head, b"content-location")
        if location and "/runs/" in location:
            out["run_id"] = location.rstrip("/").split("/")[-1]
        if out["status"] != 200:
            length = _header(head, b"content-length")
            if length:
                await reader.readexactly(int(length))
            return out
        if stop_at is not None:  # a watcher: hold the stream open, then leave
            reading = asyncio.ensure_future(_read_body(reader, out))
            await asyncio.sleep(max(0.0, stop_at - time.time()))
            reading.cancel()
            out["end"] = time.time()
            return out
        raw = await _read_body(reader, out)
        out["end"] = time.time()
        out["heartbeats"] = raw.count(b": heartbeat")
        last = raw.rfind(b"event: values")
        out["final_values"] = last >= 0 and b"slept" in raw[last:]
        if b"event: error" in raw:
            out["error"] = "error event: " + raw[raw.find(b"event: error") :][:200].decode()
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["end"] = time.time()
    finally:
        if writer is not None:
            writer.close()
    return out


async def _lag_probe(lags: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(0.05)
        lags.append(time.perf_counter() - before - 0.05)


async def main(port: int, start_at: float, mode: str, stop_at: float | None) -> dict[str, Any]:
    jobs: list[dict[str, Any]] = orjson.loads(sys.stdin.buffer.read())
    lags: list[float] = []
    stop = asyncio.Event()
    probe = asyncio.ensure_future(_lag_probe(lags, stop))
    await asyncio.sleep(max(0.0, start_at - time.time()))
    calls = []
    for job in jobs:
        if mode == "run":
            body = orjson.dumps({**RUN_BODY, "config": {"configurable": {"delay": job["delay"]}}})
            path = f"/threads/{job['thread_id']}/runs/stream"
            calls.append(_stream(port, "POST", path, body, None))
        else:
            path = f"/threads/{job['thread_id']}/stream"
            calls.append(_stream(port, "GET", path, None, stop_at))
    results = await asyncio.gather(*calls)
    stop.set()
    await probe
    lags.sort()
    return {
        "streams": results,
        "loop_lag_p99": lags[int(len(lags) * 0.99)] if lags else 0.0,
        "loop_lag_max": lags[-1] if lags else 0.0,
    }


if __name__ == "__main__":
    port, start_at, mode = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    stop_at = float(sys.argv[4]) if len(sys.argv) > 4 else None
    report = asyncio.run(main(port, start_at, mode, stop_at))
    sys.stdout.buffer.write(orjson.dumps(report))

"""Event streaming across server processes: two servers on one PostgreSQL database, a run
executing on server A, watched at the same time by a join stream on A (same process) and
one on B (another process, fed through the event log and NOTIFY).

    uv run python bench/events.py [--quick] [--no-pin]

Scenarios (graph `stream_burst` of tests/fixtures/langgraph.json, custom stream mode):

- flat out: one run writes N chunks as fast as it can; chunks/s as each watcher sees
  them (first to last chunk); once with a watcher on A only (nothing is stored), to
  show what storing costs the run;
- paced: one run writes 2,000 chunks/s for 2 s; how late each watcher gets the last
  chunk and the end of the stream, after the graph's schedule (first chunk on A + 2 s);
- small runs: 20 runs of 10 chunks one after the other; the end of the stream on B
  minus the end on A (what crossing processes adds to the end latency), p50 and max.

Servers (DATABASE_POOL_MAX_SIZE=4, ports 22000+) run pinned to CPU 1, this process to
CPU 0. Results: bench/results/events.md and .json (`--quick`: events-quick.*).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from report import machine_info  # noqa: E402
from servers import (  # noqa: E402
    HOST,
    Pinning,
    Server,
    backend_parser,
    create_database,
    database_url,
    drop_database,
    log,
    our_server,
    run_cli,
    save_results,
)

PORT_BASE = 22000
MARK = b"event: custom"


@dataclass
class Watch:
    chunks: int = 0
    first: float = 0.0
    last: float = 0.0
    end: float = 0.0


async def watch(http: httpx.AsyncClient, base: str, thread_id: str, run_id: str) -> Watch:
    """Follow a run's join stream; count custom chunks as they arrive (split across
    reads, a marker is counted once it is whole)."""
    seen = Watch()
    url = f"{base}/threads/{thread_id}/runs/{run_id}/stream"
    tail = b""
    async with http.stream("GET", url, params={"stream_mode": "custom"}) as response:
        async for data in response.aiter_raw():
            now = time.perf_counter()
            buf = tail + data
            found = buf.count(MARK)
            if found:
                if not seen.chunks:
                    seen.first = now
                seen.chunks += found
                seen.last = now
            tail = buf[-(len(MARK) - 1) :]
    seen.end = time.perf_counter()
    return seen


async def one_run(
    http: httpx.AsyncClient, a: str, b: str | None, body: dict[str, Any]
) -> tuple[Watch, Watch]:
    """Create a run on `a`; watch it from `a` and (unless None) from `b` at once."""
    thread = (await http.post(f"{a}/threads", json={})).json()
    run = (
        await http.post(
            f"{a}/threads/{thread['thread_id']}/runs",
            json={"assistant_id": "stream_burst", "stream_mode": ["custom"], "input": body},
        )
    ).json()
    if b is None:
        return await watch(http, a, thread["thread_id"], run["run_id"]), Watch()
    same, other = await asyncio.gather(
        watch(http, a, thread["thread_id"], run["run_id"]),
        watch(http, b, thread["thread_id"], run["run_id"]),
    )
    return same, other


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


async def measure(a: str, b: str, quick: bool) -> dict[str, Any]:
    flat_n = 5000 if quick else 20000
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=8)) as http:
        log(f"flat out, watched on A only: {flat_n} chunks")
        alone, _ = await one_run(http, a, None, {"n": flat_n, "start_after": 1.0})
        out["alone"] = {
            "received": alone.chunks,
            "rate": round(alone.chunks / max(alone.last - alone.first, 1e-9)),
        }
        log(f"  {out['alone']}")
        log(f"flat out: {flat_n} chunks")
        same, other = await one_run(http, a, b, {"n": flat_n, "start_after": 1.0})
        out["flat"] = {
            "chunks": flat_n,
            "same_received": same.chunks,
            "other_received": other.chunks,
            "same_rate": round(same.chunks / max(same.last - same.first, 1e-9)),
            "other_rate": round(other.chunks / max(other.last - other.first, 1e-9)),
            "other_last_after_same_ms": ms(other.last - same.last),
        }
        log(f"  {out['flat']}")
        log("paced: 2,000 chunks/s for 2 s")
        n, rate = 4000, 2000.0
        same, other = await one_run(http, a, b, {"n": n, "rate": rate, "start_after": 1.0})
        schedule = same.first + (n - 1) / rate
        out["paced"] = {
            "chunks": n,
            "same_received": same.chunks,
            "other_received": other.chunks,
            "same_last_late_ms": ms(same.last - schedule),
            "other_last_late_ms": ms(other.last - schedule),
            "same_end_late_ms": ms(same.end - schedule),
            "other_end_late_ms": ms(other.end - schedule),
            "other_rate": round(other.chunks / max(other.last - other.first, 1e-9)),
        }
        log(f"  {out['paced']}")
        log("small runs: 20 x 10 chunks")
        gaps, complete = [], 0
        for _ in range(20):
            same, other = await one_run(http, a, b, {"n": 10, "start_after": 0.3})
            gaps.append(other.end - same.end)
            complete += same.chunks == 10 and other.chunks == 10
        out["small"] = {
            "runs": 20,
            "complete": complete,
            "end_gap_p50_ms": ms(statistics.median(gaps)),
            "end_gap_max_ms": ms(max(gaps)),
        }
        log(f"  {out['small']}")
    return out


def render(result: dict[str, Any], machine: dict[str, Any], pinning: str) -> str:
    flat, paced, small = result["flat"], result["paced"], result["small"]
    alone = result["alone"]
    lines = [
        "# Run events across processes",
        "",
        "`uv run python bench/events.py" + (" --quick`" if result["quick"] else "`"),
        f"({pinning}; {machine['date']}, {machine['nproc']} CPUs, {machine['cpu']}).",
        "Two servers on one PostgreSQL database; each run",
        "executes on A and is watched at once by a join stream on A (same process) and one",
        "on B (another process: event log + NOTIFY).",
        "",
        "| Scenario | Watcher on A (same process) | Watcher on B (other process) |",
        "|---|---|---|",
        f"| flat out, watched on A only (nothing stored): chunks/s | {alone['rate']} "
        f"({alone['received']} received) | |",
        f"| flat out, {flat['chunks']} chunks: received | {flat['same_received']} | "
        f"{flat['other_received']} |",
        f"| flat out: chunks/s | {flat['same_rate']} | {flat['other_rate']} |",
        f"| flat out: last chunk, B after A | | {flat['other_last_after_same_ms']} ms |",
        f"| paced 2,000/s x 2 s: received | {paced['same_received']} | {paced['other_received']} |",
        f"| paced: last chunk after the graph's schedule | {paced['same_last_late_ms']} ms | "
        f"{paced['other_last_late_ms']} ms |",
        f"| paced: end of stream after the schedule | {paced['same_end_late_ms']} ms | "
        f"{paced['other_end_late_ms']} ms |",
        f"| paced: chunks/s | | {paced['other_rate']} |",
        f"| {small['runs']} runs x 10 chunks: complete on both | {small['complete']} | |",
        f"| end of stream, B after A: p50 / max | | {small['end_gap_p50_ms']} / "
        f"{small['end_gap_max_ms']} ms |",
        "",
    ]
    return "\n".join(lines)


def _server(name: str, pin: Pinning, url: str, port: int) -> Server:
    server = our_server(name, pin, url)
    argv = server.argv
    argv[argv.index("--port") + 1] = str(port)
    server = Server(name, argv, {**server.env, "DATABASE_POOL_MAX_SIZE": "4"}, port)
    return server


async def main() -> int:
    parser = backend_parser(__doc__ or "", "one short round (about a minute)")
    args = parser.parse_args()
    pin = Pinning(not args.no_pin)
    pin.pin_self()
    name = create_database("bench_events_")
    url = database_url(name)
    a = _server("A", pin, url, PORT_BASE)
    b = _server("B", pin, url, PORT_BASE + 1)
    try:
        await a.start()
        await b.start()
        result = await measure(f"http://{HOST}:{a.port}", f"http://{HOST}:{b.port}", args.quick)
    finally:
        a.stop()
        b.stop()
        drop_database(name)
    result["quick"] = args.quick
    machine = machine_info(pin)
    report = render(result, machine, pin.describe())
    save_results("events-quick" if args.quick else "events", report, {**result, "machine": machine})
    return 0


if __name__ == "__main__":
    run_cli(main())

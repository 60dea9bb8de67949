"""What the A2A and MCP layers add to a run: A2A `message/send` and MCP `tools/call`
latency next to the `/runs/wait` calls doing the same work, on the `trivial` graph of
bench/graphs/, in memory and on PostgreSQL.

    uv run python bench/protocols.py [--quick] [--backends memory,postgres]

One client, one request at a time (latency, not throughput), the four kinds of request
interleaved so that a noisy moment hits all of them alike:

- `runs/wait`: a stateless `POST /runs/wait`, the baseline of MCP's `tools/call` (also a
  stateless run);
- `threads/runs/wait`: `POST /threads/{new id}/runs/wait` with `if_not_exists: create`,
  the baseline of A2A's `message/send` without a `contextId` (a new thread per task);
- `a2a message/send` and `mcp tools/call` on the same graph.

The protocol layer's cost is the difference of medians with its baseline. Servers are
pinned to CPU 1, this process to CPU 0. Results: bench/results/protocols.md and .json
(`--quick`: protocols-quick.*).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import httpx  # noqa: E402
import orjson  # noqa: E402
from report import machine_info  # noqa: E402
from runs_scenarios import INPUT, TRIVIAL_REPLY, percentile, run_body  # noqa: E402
from servers import (  # noqa: E402
    Pinning,
    backend_parser,
    create_database,
    database_url,
    drop_database,
    log,
    our_server,
    run_cli,
    save_results,
)

GRAPHS_CONFIG = BENCH / "graphs" / "langgraph.json"
JSON = {"content-type": "application/json", "accept": "application/json"}
MCP = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
BASELINE = {"a2a message/send": "threads/runs/wait", "mcp tools/call": "runs/wait"}

Request = Callable[[], tuple[str, bytes, dict[str, str]]]


def requests() -> dict[str, Request]:
    """Each kind of request: a function making (path, body, headers) anew."""
    stateless = orjson.dumps(run_body("trivial", stream=False))
    message = {"role": "user", "messageId": "m", "parts": [{"kind": "text", "text": "hi"}]}
    a2a = orjson.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {"message": message}}
    )
    call = {"name": "trivial", "arguments": {"messages": INPUT["messages"]}}
    mcp = orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call})
    stateful = orjson.dumps({**run_body("trivial", stream=False), "if_not_exists": "create"})
    return {
        "runs/wait": lambda: ("/runs/wait", stateless, JSON),
        "threads/runs/wait": lambda: (f"/threads/{uuid.uuid4()}/runs/wait", stateful, JSON),
        "a2a message/send": lambda: ("/a2a/trivial", a2a, JSON),
        "mcp tools/call": lambda: ("/mcp", mcp, MCP),
    }


async def one(client: httpx.AsyncClient, make: Request) -> float:
    path, body, headers = make()
    started = time.perf_counter()
    response = await client.post(path, content=body, headers=headers)
    seconds = time.perf_counter() - started
    if response.status_code != 200 or TRIVIAL_REPLY not in response.text:
        raise RuntimeError(f"{path}: HTTP {response.status_code} {response.text[:300]}")
    return seconds


async def measure(base_url: str, iterations: int, warmup: int) -> dict[str, list[float]]:
    kinds = requests()
    samples: dict[str, list[float]] = {name: [] for name in kinds}
    async with httpx.AsyncClient(base_url=base_url, timeout=60.0) as client:
        for i in range(warmup + iterations):
            # A different order each iteration: none always runs right after another.
            names = list(kinds)
            shift = i % len(names)
            for name in names[shift:] + names[:shift]:
                seconds = await one(client, kinds[name])
                if i >= warmup:
                    samples[name].append(seconds)
    return samples


def summarize(samples: dict[str, list[float]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, values in samples.items():
        out[name] = {
            "n": len(values),
            **{f"p{p}_ms": round((percentile(values, p) or 0) * 1000, 2) for p in (50, 90, 99)},
        }
    for name, base in BASELINE.items():
        out[name]["added_p50_ms"] = round(out[name]["p50_ms"] - out[base]["p50_ms"], 2)
    return out


def render(meta: dict[str, Any], results: dict[str, dict[str, Any]]) -> str:
    lines = [
        "# A2A and MCP latency next to /runs/wait",
        "",
        f"`{meta['command']}` on {meta.get('cpu', 'this machine')}; {meta['iterations']} "
        "requests of each kind per backend, one at a time, interleaved; server pinned to "
        "CPU 1. Added = p50 minus the p50 of the run call doing the same work.",
        "",
        "| Backend | Request | p50 ms | p90 ms | p99 ms | Added at p50, ms |",
        "|---|---|---|---|---|---|",
    ]
    for backend, figures in results.items():
        for name, row in figures.items():
            added = row.get("added_p50_ms")
            added_text = "" if added is None else f"{added:+.2f} (vs `{BASELINE[name]}`)"
            lines.append(
                f"| {backend} | `{name}` | {row['p50_ms']:.2f} | {row['p90_ms']:.2f} | "
                f"{row['p99_ms']:.2f} | {added_text} |"
            )
    return "\n".join(lines) + "\n"


async def main_async(args: argparse.Namespace) -> int:
    pin = Pinning(not args.no_pin)
    pin.pin_self()
    iterations, warmup = (60, 10) if args.quick else (300, 30)
    meta = machine_info(pin)
    meta.update(
        iterations=iterations,
        command=" ".join(["uv run python bench/protocols.py", *sys.argv[1:]]),
    )
    results: dict[str, dict[str, Any]] = {}
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        database = create_database() if backend == "postgres" else None
        url = database_url(database) if database else None
        server = our_server(backend, pin, url, config=GRAPHS_CONFIG)
        try:
            await server.start()
            samples = await measure(f"http://127.0.0.1:{server.port}", iterations, warmup)
        finally:
            server.stop()
            if database:
                drop_database(database)
        results[backend] = summarize(samples)
        log(f"{backend}: {json.dumps(results[backend])}")
    report = render(meta, results)
    stem = "protocols-quick" if args.quick else "protocols"
    save_results(stem, report, {"meta": meta, "results": results})
    return 0


def main() -> None:
    parser = backend_parser(__doc__, "60 requests of each kind")
    run_cli(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()

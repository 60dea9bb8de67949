"""Scale-out on PostgreSQL: runs/wait and runs/stream throughput with one server process,
with `--processes 2`, and with two servers on one database.

    uv run python bench/scale.py [--quick] [--users 16]

Stateless runs of the `trivial` graph (bench/graphs), `users` keep-alive connections in a
closed loop (bench/loadgen.py; with two servers, half the connections go to each). Every
shape gets a database of its own, and the shapes are measured in alternating rounds so a
noisy moment hits all of them. Nothing is pinned: the point is using both cores. The load
generator shares the machine (about one run's worth of CPU per 20 runs). Results:
bench/results/scale.md and .json (`--quick`: scale-quick.*).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import loadgen  # noqa: E402
from report import machine_info  # noqa: E402
from runs_scenarios import run_body  # noqa: E402
from servers import (  # noqa: E402
    HOST,
    Pinning,
    Server,
    create_database,
    database_url,
    drop_database,
    log,
    our_server,
    run_cli,
    save_results,
)

GRAPHS = BENCH / "graphs" / "langgraph.json"
SHAPES = {"1 process": (1, 1), "2 processes": (1, 2), "2 servers": (2, 1)}
SCENARIOS = {
    "runs/wait": ("/runs/wait", run_body("trivial", stream=False)),
    "runs/stream": ("/runs/stream", run_body("trivial", stream=True)),
}


def _servers(name: str, database: str, servers: int, processes: int) -> list[Server]:
    made = []
    for n in range(servers):
        server = our_server(f"{name}-{n}", Pinning(False), database_url(database), GRAPHS)
        if processes > 1:
            server.argv += ["--processes", str(processes)]
        made.append(server)
    return made


async def _round(servers: list[Server], path: str, body: dict, users: int, seconds: float):
    async def one(server: Server, share: int) -> loadgen.Stats:
        raw = loadgen.encode_request("POST", path, f"{HOST}:{server.port}", body)
        flow = loadgen.simple_flow("run", raw)
        return await loadgen.run(HOST, server.port, flow, concurrency=share, duration=seconds)

    shares = [users // len(servers)] * len(servers)
    results = await asyncio.gather(*(one(s, n) for s, n in zip(servers, shares, strict=True)))
    runs = sum(r.requests - r.error_count for r in results)
    errors = sum(r.error_count for r in results)
    elapsed = max(r.elapsed for r in results)
    p50s = [r.summary("run").get("p50_ms") for r in results]
    return {
        "runs_per_s": runs / elapsed,
        "errors": errors,
        "p50_ms": statistics.median([p for p in p50s if p is not None] or [0]),
    }


async def main_async(args: argparse.Namespace) -> int:
    rounds, seconds = (1, 4.0) if args.quick else (3, 10.0)
    databases: dict[str, str] = {}
    fleets: dict[str, list[Server]] = {}
    try:
        for shape, (count, processes) in SHAPES.items():
            databases[shape] = create_database()
            fleets[shape] = _servers(shape.replace(" ", "-"), databases[shape], count, processes)
            for server in fleets[shape]:
                await server.start()
        # Warm-up: graphs compiled, pools filled, in every process.
        for fleet in fleets.values():
            await _round(fleet, *SCENARIOS["runs/wait"], users=args.users, seconds=2.0)
        results: dict[str, dict[str, Any]] = {}
        for scenario, (path, body) in SCENARIOS.items():
            samples: dict[str, list[dict[str, Any]]] = {shape: [] for shape in SHAPES}
            for round_no in range(rounds):
                order = list(SHAPES)[round_no % 3 :] + list(SHAPES)[: round_no % 3]
                for shape in order:
                    samples[shape].append(
                        await _round(fleets[shape], path, body, args.users, seconds)
                    )
            results[scenario] = {
                shape: {
                    key: round(statistics.median(s[key] for s in values), 2)
                    for key in ("runs_per_s", "errors", "p50_ms")
                }
                for shape, values in samples.items()
            }
            log(f"{scenario}: {results[scenario]}")
    finally:
        for fleet in fleets.values():
            for server in fleet:
                server.stop()
        for database in databases.values():
            drop_database(database)
    meta = {
        "command": "uv run python bench/scale.py" + (" --quick" if args.quick else ""),
        "rounds": rounds,
        "seconds": seconds,
        "users": args.users,
        **machine_info(Pinning(False)),
    }
    save_results(
        "scale-quick" if args.quick else "scale",
        render(meta, results),
        {
            "meta": meta,
            "results": results,
        },
    )
    return 0


def render(meta: dict[str, Any], results: dict[str, Any]) -> str:
    lines = [
        "# Scale-out on PostgreSQL",
        "",
        f"`{meta['command']}` on {meta.get('cpu', 'this machine')} "
        f"({meta.get('nproc', '?')} CPUs); {meta['rounds']} alternating rounds of "
        f"{meta['seconds']:.0f} s per shape, {meta['users']} connections, medians. "
        "Stateless runs of `trivial`; nothing pinned.",
        "",
        "| Scenario | Shape | runs/s | vs 1 process | p50 ms | errors |",
        "|---|---|---|---|---|---|",
    ]
    for scenario, shapes in results.items():
        base = shapes["1 process"]["runs_per_s"] or 1
        for shape, row in shapes.items():
            lines.append(
                f"| {scenario} | {shape} | {row['runs_per_s']:.1f} | "
                f"{row['runs_per_s'] / base:.2f}x | {row['p50_ms']:.1f} | {row['errors']:.0f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round of 4 s")
    parser.add_argument("--users", type=int, default=16, help="connections (default 16)")
    run_cli(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()

"""What auth costs: thread create + get, and `runs/wait` on the `trivial` graph, with auth
off, with a custom `auth.py` (bench/graphs/bench_auth.py: static tokens, owner stamped on
create and filtered on read) and with the built-in JWT auth (HS256), on both backends.

    uv run python bench/auth.py [--quick] [--backends memory,postgres]

The three servers of a backend run side by side (each with its own database), pinned to
CPU 1, and are measured in alternating rounds so that a noisy moment hits all of them.
The figure that matters is the server's CPU per request (on PostgreSQL plus its
backends'): auth should add under 10% to it. Results: bench/results/auth.md and .json
(`--quick`: auth-quick.*).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import httpx  # noqa: E402
import jwt  # noqa: E402
import orjson  # noqa: E402
from report import machine_info  # noqa: E402
from runs_scenarios import TRIVIAL_REPLY, Meter, Target, run_body  # noqa: E402
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

GRAPHS = BENCH / "graphs"
MODES = {
    "off": GRAPHS / "langgraph.json",
    "custom": GRAPHS / "langgraph_auth.json",
    "jwt": GRAPHS / "langgraph.json",
}
JWT_SECRET = "bench-secret-of-at-least-thirty-two-bytes"
JSON = {"content-type": "application/json"}
Scenario = Callable[[httpx.AsyncClient], Any]


def token(mode: str, user: int) -> str | None:
    if mode == "custom":
        return f"token-user-{user}"
    if mode == "jwt":
        claims = {"sub": f"user-{user}", "exp": int(time.time()) + 3600}
        return jwt.encode(claims, JWT_SECRET, algorithm="HS256")
    return None


async def create_get(client: httpx.AsyncClient) -> int:
    created = await client.post("/threads", content=b'{"metadata":{"bench":1}}', headers=JSON)
    created.raise_for_status()
    got = await client.get(f"/threads/{created.json()['thread_id']}")
    got.raise_for_status()
    return 2


WAIT_BODY = orjson.dumps(run_body("trivial", stream=False))


async def runs_wait(client: httpx.AsyncClient) -> int:
    response = await client.post("/runs/wait", content=WAIT_BODY, headers=JSON)
    response.raise_for_status()
    assert TRIVIAL_REPLY in response.text, response.text[:200]
    return 1


SCENARIOS: dict[str, tuple[Scenario, int]] = {
    "thread create + get": (create_get, 32),
    "runs/wait": (runs_wait, 8),
}


async def round_of(target: Target, mode: str, scenario: Scenario, users: int, seconds: float):
    clients = [
        httpx.AsyncClient(
            base_url=target.base_url,
            timeout=60.0,
            headers={"authorization": f"Bearer {t}"} if (t := token(mode, n)) else {},
        )
        for n in range(users)
    ]
    try:
        for client in clients:  # warm-up: connections open, tokens seen once
            await scenario(client)
        meter = Meter(target).start()
        started = time.perf_counter()
        deadline = started + seconds
        done = 0

        async def user(client: httpx.AsyncClient) -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                # Not `done += await ...`: that reads `done` before awaiting, and the
                # other users' increments made meanwhile would be lost.
                finished = await scenario(client)
                done += finished

        await asyncio.gather(*(user(c) for c in clients))
        elapsed = time.perf_counter() - started
        cpu = meter.stop()
    finally:
        for client in clients:
            await client.aclose()
    pg = cpu["postgres_cpu_s"] or 0.0
    return {
        "requests": done,
        "per_s": done / elapsed,
        "server_cpu_ms": 1000 * cpu["server_cpu_s"] / done,
        "postgres_cpu_ms": 1000 * pg / done if cpu["postgres_cpu_s"] is not None else None,
        "total_cpu_ms": 1000 * (cpu["server_cpu_s"] + pg) / done,
        "foreign_cpu_pct": cpu["foreign_cpu_pct"],
    }


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("per_s", "server_cpu_ms", "postgres_cpu_ms", "total_cpu_ms", "foreign_cpu_pct")
    out: dict[str, Any] = {"rounds": len(rounds)}
    for key in keys:
        values = [r[key] for r in rounds if r[key] is not None]
        out[key] = round(statistics.median(values), 3) if values else None
    return out


async def measure_backend(backend: str, pin: Pinning, rounds: int, seconds: float):
    databases: dict[str, str | None] = {}
    targets: dict[str, Target] = {}
    try:
        for mode, config in MODES.items():
            database = create_database() if backend == "postgres" else None
            databases[mode] = database
            server = our_server(
                f"{backend}-{mode}", pin, database and database_url(database), config
            )
            if mode == "jwt":
                server.env["AUTH_JWT_SECRET"] = JWT_SECRET
            targets[mode] = Target(mode, server, database)
            await server.start()
        results: dict[str, dict[str, Any]] = {}
        for name, (scenario, users) in SCENARIOS.items():
            samples: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
            for round_no in range(rounds):
                order = list(MODES)[round_no % 3 :] + list(MODES)[: round_no % 3]
                for mode in order:
                    samples[mode].append(
                        await round_of(targets[mode], mode, scenario, users, seconds)
                    )
            results[name] = {mode: summarize(s) for mode, s in samples.items()}
            log(f"{backend} {name}: {orjson.dumps(results[name]).decode()}")
        return results
    finally:
        for target in targets.values():
            target.server.stop()
        for database in databases.values():
            if database:
                drop_database(database)


def overhead(row: dict[str, Any], base: dict[str, Any], key: str) -> str:
    if not row.get(key) or not base.get(key):
        return ""
    return f" ({100 * (row[key] / base[key] - 1):+.1f}%)"


def render(meta: dict[str, Any], results: dict[str, Any]) -> str:
    lines = [
        "# What auth costs",
        "",
        f"`{meta['command']}` on {meta.get('cpu', 'this machine')}; {meta['rounds']} "
        f"alternating rounds of {meta['seconds']:.0f} s per server and scenario, medians. "
        "Servers pinned to CPU 1, load generator on CPU 0. CPU per request: the server's "
        "(on PostgreSQL + its backends'); in brackets the change against auth off.",
        "",
        "| Backend | Scenario | Auth | req/s | Server CPU ms/req | + PostgreSQL ms/req "
        "| Other load % |",
        "|---|---|---|---|---|---|---|",
    ]
    for backend, scenarios in results.items():
        for name, modes in scenarios.items():
            base = modes["off"]
            for mode, row in modes.items():
                pg = "" if row["postgres_cpu_ms"] is None else f"{row['postgres_cpu_ms']:.3f}"
                lines.append(
                    f"| {backend} | {name} | {mode} | {row['per_s']:.0f} | "
                    f"{row['server_cpu_ms']:.3f}{overhead(row, base, 'server_cpu_ms')} | {pg} | "
                    f"{row['foreign_cpu_pct']} |"
                )
    return "\n".join(lines) + "\n"


async def main_async(args: argparse.Namespace) -> int:
    pin = Pinning(not args.no_pin)
    pin.pin_self()
    rounds, seconds = (2, 3.0) if args.quick else (5, 6.0)
    meta = machine_info(pin)
    meta.update(
        rounds=rounds,
        seconds=seconds,
        command=" ".join(["uv run python bench/auth.py", *sys.argv[1:]]),
    )
    results = {}
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        results[backend] = await measure_backend(backend, pin, rounds, seconds)
    stem = "auth-quick" if args.quick else "auth"
    save_results(stem, render(meta, results), {"meta": meta, "results": results})
    return 0


def main() -> None:
    parser = backend_parser(__doc__, "2 rounds of 3 s")
    run_cli(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()

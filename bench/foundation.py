"""Foundation benchmark: /ok, thread create+get, assistant search and thread search, on
the in-memory backend and on PostgreSQL (a throwaway `bench_<hex>` database).

    uv run python bench/foundation.py [--quick] [--backends memory,postgres] [--no-pin]

The server runs pinned to CPU 1 (`taskset -c 1`), the load generators (this process and
wrk) to CPU 0. PostgreSQL, if used, is not ours and is not pinned. Results are printed as
a markdown table and written to bench/results/foundation.md and .json (the `--quick` run
writes foundation-quick.*). See bench/README.md for what each scenario measures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import loadgen  # noqa: E402
from report import (  # noqa: E402
    CG_CONCURRENCY,
    OK_CONNECTIONS,
    SEED_CONCURRENCY,
    machine_info,
    ratio,
    render,
)
from servers import (  # noqa: E402
    HOST,
    PG_ADMIN_URL,
    Pinning,
    Server,
    add_quiet_wait,
    backend_parser,
    bare_server,
    create_database,
    database_url,
    drop_database,
    log,
    our_server,
    run_cli,
    save_results,
    vacuum_analyze,
)
from sysload import CLK_TCK, ForeignCpu, Quiet, marked_ticks, process_ticks  # noqa: E402


@dataclass(frozen=True)
class Durations:
    ok_warmup: float
    ok_run: float
    ok_repeats: int
    cg_warmup: float
    cg_run: float
    lat_warmup: float
    lat_run: float
    lat_max: int


FULL = Durations(2.0, 5.0, 3, 2.0, 8.0, 0.5, 3.0, 3000)
QUICK = Durations(1.0, 2.0, 1, 1.0, 3.0, 0.3, 1.0, 1000)


# ---------------------------------------------------------------------------------------
# Scenarios


async def wrk(pin: Pinning, port: int, path: str, duration: float) -> dict[str, Any]:
    argv = [
        *pin.client_prefix(),
        "wrk",
        "-t1",
        f"-c{OK_CONNECTIONS}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "5s",
        "-s",
        str(BENCH / "wrk_report.lua"),
        f"http://{HOST}:{port}{path}",
    ]
    await Quiet.wait()
    watch = ForeignCpu().start()
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    foreign = watch.stop()
    text = out.decode(errors="replace")
    match = re.search(r"^BENCH_JSON (\{.*\})$", text, re.MULTILINE)
    if proc.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{text}")
    raw = json.loads(match.group(1))
    seconds = raw["duration_us"] / 1e6
    errors = sum(raw[k] for k in raw if k.endswith("_errors") or k == "timeouts")
    return {
        "requests": raw["requests"],
        "errors": errors,
        "seconds": round(seconds, 3),
        "rps": round(raw["requests"] / seconds, 1),
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "client": f"wrk -t1 -c{OK_CONNECTIONS}",
        "foreign_cpu_pct": foreign,
    }


async def ok_run(pin: Pinning, server: Server, duration: float) -> dict[str, Any]:
    """One GET /ok throughput run: wrk if installed, else our asyncio client."""
    if shutil.which("wrk"):
        return await wrk(pin, server.port, "/ok", duration)
    raw = loadgen.encode_request("GET", "/ok", f"{HOST}:{server.port}")
    flow = loadgen.simple_flow("ok", raw)
    await Quiet.wait()
    watch = ForeignCpu().start()
    stats = await loadgen.run(
        HOST, server.port, flow, concurrency=OK_CONNECTIONS, duration=duration
    )
    return {
        **stats.summary(),
        "client": f"asyncio client, {OK_CONNECTIONS} conns",
        "foreign_cpu_pct": watch.stop(),
    }


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(runs, key=lambda r: r["rps"])
    median = dict(ordered[len(ordered) // 2])
    median["runs_rps"] = [r["rps"] for r in runs]
    median["foreign_cpu_pct"] = max(r["foreign_cpu_pct"] for r in runs)
    return median


async def measure_ok(pin: Pinning, server: Server, bare: Server, d: Durations) -> dict[str, Any]:
    """GET /ok throughput of our server and of bare Robyn, in alternating runs (so that
    a slower moment of a shared machine hits both), median of each."""
    await ok_run(pin, bare, d.ok_warmup)
    await ok_run(pin, server, d.ok_warmup)
    ours, base = [], []
    for _ in range(d.ok_repeats):
        base.append(await ok_run(pin, bare, d.ok_run))
        ours.append(await ok_run(pin, server, d.ok_run))
    result = median_run(ours)
    result["bare"] = median_run(base)
    result["pct_of_bare"] = round(100 * result["rps"] / result["bare"]["rps"], 1)
    log(
        f"  {server.name} GET /ok: {result['rps']:.0f} req/s = {result['pct_of_bare']}% of "
        f"bare {result['bare']['rps']:.0f} (runs {result['runs_rps']} vs "
        f"{result['bare']['runs_rps']}; other CPU {result['foreign_cpu_pct']}%)"
    )
    return result


def create_get_flow(host: str) -> loadgen.Flow:
    create = loadgen.encode_request("POST", "/threads", host, {"metadata": {"bench": "cg"}})
    get_prefix = b"GET /threads/"
    get_suffix = f" HTTP/1.1\r\nhost: {host}\r\n\r\n".encode()

    async def flow(conn: loadgen.Connection, stats: loadgen.Stats) -> None:
        started = time.perf_counter_ns()
        status, body = await conn.send(create)
        stats.record("create", started, status == 200)
        if status != 200:
            return
        thread_id = orjson.loads(body)["thread_id"].encode()
        started = time.perf_counter_ns()
        status, _ = await conn.send(get_prefix + thread_id + get_suffix)
        stats.record("get", started, status == 200)

    return flow


async def measure_create_get(server: Server, d: Durations) -> dict[str, Any]:
    """Closed loop at concurrency 32: each virtual user POSTs /threads, then GETs it."""
    flow = create_get_flow(f"{HOST}:{server.port}")
    await loadgen.run(HOST, server.port, flow, concurrency=CG_CONCURRENCY, duration=d.cg_warmup)
    await Quiet.wait()
    assert server.proc is not None
    cpu0 = time.process_time()
    server0, pg0 = process_ticks(server.proc.pid), marked_ticks(ForeignCpu.markers)
    watch = ForeignCpu().start()
    stats = await loadgen.run(
        HOST, server.port, flow, concurrency=CG_CONCURRENCY, duration=d.cg_run
    )
    foreign = watch.stop()
    client_cpu = (time.process_time() - cpu0) / stats.elapsed
    server_cpu = (process_ticks(server.proc.pid) - server0) / CLK_TCK / stats.elapsed
    pg_cpu = (marked_ticks(ForeignCpu.markers) - pg0) / CLK_TCK / stats.elapsed
    result = {
        **stats.summary(),
        "create": stats.summary("create"),
        "get": stats.summary("get"),
        "client": f"asyncio client, {CG_CONCURRENCY} virtual users",
        "client_cpu_pct": round(100 * client_cpu, 1),
        "server_cpu_pct": round(100 * server_cpu, 1),
        "postgres_cpu_pct": round(100 * pg_cpu, 1) if ForeignCpu.markers else None,
        "foreign_cpu_pct": foreign,
    }
    log(
        f"  {server.name} create+get: {result['rps']:.0f} req/s "
        f"(CPU: server {result['server_cpu_pct']}%, client {result['client_cpu_pct']}%, "
        f"postgres {result['postgres_cpu_pct']}%, others {foreign}%; "
        f"errors {result['errors']})"
    )
    return result


async def measure_latency(server: Server, label: str, raw: bytes, d: Durations) -> dict:
    """Sequential requests on one keep-alive connection (no queueing): p50/p99."""
    flow = loadgen.simple_flow(label, raw)
    await loadgen.run(HOST, server.port, flow, concurrency=1, duration=d.lat_warmup)
    await Quiet.wait()
    watch = ForeignCpu().start()
    stats = await loadgen.run(
        HOST, server.port, flow, concurrency=1, duration=d.lat_run, max_iterations=d.lat_max
    )
    result = {
        **stats.summary(),
        "client": "asyncio client, 1 connection, sequential",
        "foreign_cpu_pct": watch.stop(),
    }
    log(
        f"  {server.name} {label}: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms "
        f"({result['requests']} requests, errors {result['errors']}, "
        f"other CPU {result['foreign_cpu_pct']}%)"
    )
    return result


async def seed(server: Server, path: str, bodies: list[dict[str, Any]]) -> float:
    host = f"{HOST}:{server.port}"
    raws = [loadgen.encode_request("POST", path, host, body) for body in bodies]
    started = time.perf_counter()
    await loadgen.run_each(HOST, server.port, raws, concurrency=SEED_CONCURRENCY)
    seconds = time.perf_counter() - started
    log(f"  seeded {len(bodies)} via POST {path} in {seconds:.1f}s")
    return seconds


def assistant_body(i: int) -> dict[str, Any]:
    return {
        "graph_id": "agent",
        "name": f"bench assistant {i}",
        "config": {"configurable": {"model": "openai:gpt-4.1-mini"}},
        "metadata": {"team": f"t{i % 50}", "tier": "pro" if i % 3 else "free"},
    }


def thread_body(i: int) -> dict[str, Any]:
    return {"metadata": {"user": f"u{i % 100}", "source": "bench", "n": i}}


ASSISTANT_SEARCHES = {
    "limit": {"limit": 10},
    "metadata": {"limit": 10, "metadata": {"team": "t7"}},  # 2% of the assistants
}
THREAD_SEARCHES = {
    "limit": {"limit": 10},
    "metadata": {"limit": 10, "metadata": {"user": "u7"}},  # 1% of the threads
}


async def run_backend(
    name: str, pin: Pinning, d: Durations, bare: Server, database: str | None
) -> dict[str, Any]:
    server = our_server(name, pin, database_url(database) if database else None)
    out: dict[str, Any] = {"backend": name}
    host = f"{HOST}:{server.port}"
    try:
        await server.start()
        out["ok"] = await measure_ok(pin, server, bare, d)

        out["assistants_seed_s"] = await seed(
            server, "/assistants", [assistant_body(i) for i in range(1000)]
        )
        if database:
            vacuum_analyze(database)
        out["assistant_search"] = {}
        for label, body in ASSISTANT_SEARCHES.items():
            raw = loadgen.encode_request("POST", "/assistants/search", host, body)
            out["assistant_search"][label] = await measure_latency(
                server, f"assistants/search {label} @1k", raw, d
            )

        # On Postgres, each size is measured twice: "fresh", right after the inserts
        # (the GIN index's pending list is not merged yet, the planner has no
        # statistics; autovacuum fixes both within about a minute, at a moment we do not
        # control), then "settled", after an explicit VACUUM ANALYZE: the steady state.
        out["thread_search"] = {"1k": {}, "10k": {}}
        out["thread_search_fresh"] = {"1k": {}, "10k": {}} if database else None
        out["threads_seed_s"] = {}
        seeded = 0
        searches = {
            label: loadgen.encode_request("POST", "/threads/search", host, body)
            for label, body in THREAD_SEARCHES.items()
        }
        for size, count in (("1k", 1000), ("10k", 10000)):
            out["threads_seed_s"][size] = await seed(
                server, "/threads", [thread_body(i) for i in range(seeded, count)]
            )
            seeded = count
            if database:
                for label, raw in searches.items():
                    out["thread_search_fresh"][size][label] = await measure_latency(
                        server, f"threads/search {label} @{size} fresh", raw, d
                    )
                vacuum_analyze(database)
            for label, raw in searches.items():
                out["thread_search"][size][label] = await measure_latency(
                    server, f"threads/search {label} @{size}", raw, d
                )
        for key in ("thread_search", "thread_search_fresh"):
            if out[key] is not None:
                out[key + "_growth"] = {
                    label: ratio(out[key]["10k"][label]["p50_ms"], out[key]["1k"][label]["p50_ms"])
                    for label in THREAD_SEARCHES
                }
        # Last, so that the 1k/10k thread counts above are exact.
        out["create_get"] = await measure_create_get(server, d)
    finally:
        server.stop()
    return out


async def main_async(args: argparse.Namespace) -> int:
    pin = Pinning(not args.no_pin)
    Quiet.max_wait = args.quiet_wait if args.quiet_wait is not None else (3 if args.quick else 10)
    Quiet.budget = 6 * Quiet.max_wait
    pin.pin_self()
    d = QUICK if args.quick else FULL
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    meta = machine_info(pin)
    meta["mode"] = "quick" if args.quick else "full"
    meta["ok_client"] = (
        f"wrk {meta['wrk']} (-t1 -c{OK_CONNECTIONS}, median of {d.ok_repeats} runs of "
        f"{d.ok_run:.0f}s)"
        if meta["wrk"]
        else f"the asyncio client ({OK_CONNECTIONS} connections; may limit the figure)"
    )
    meta["notes"] = []
    log(f"machine: {meta}")
    started = time.monotonic()

    results = []
    bare = bare_server(pin)
    try:
        await bare.start()
        for backend in backends:
            if backend == "memory":
                results.append(await run_backend("memory", pin, d, bare, None))
            elif backend == "postgres":
                if meta["postgres"] is None:
                    msg = f"PostgreSQL unreachable at {PG_ADMIN_URL}: Postgres column SKIPPED"
                    log("WARNING: " + msg)
                    meta["notes"].append(msg)
                    continue
                database = create_database()
                ForeignCpu.markers = (database,)
                try:
                    results.append(await run_backend("postgres", pin, d, bare, database))
                finally:
                    ForeignCpu.markers = ()
                    drop_database(database)
            else:
                raise SystemExit(f"unknown backend {backend!r}")
    finally:
        bare.stop()

    meta["total_seconds"] = round(time.monotonic() - started, 1)
    meta["quiet_wait"] = {
        "max_per_measurement_s": Quiet.max_wait,
        "budget_s": Quiet.budget,
        "waited_s": round(Quiet.waited, 1),
        "gave_up": Quiet.gave_up,
    }
    report = render(meta, results)
    stem = "foundation-quick" if args.quick else "foundation"
    save_results(stem, report, {"meta": meta, "results": results})
    return 0


def main() -> None:
    parser = backend_parser(__doc__, "short runs (about a minute)")
    add_quiet_wait(parser, 6)
    run_cli(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()

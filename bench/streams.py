"""Many open streams at once: N `runs/stream` requests on the `slow` bench graph opened in
the same instant (default 2,000 runs of 10 s), in memory and on PostgreSQL, and N pure
watchers (`GET /threads/{id}/stream`, no run) on a fresh server.

    uv run python bench/streams.py [--streams 2000] [--workers 10] [--clients 4]
    uv run python bench/streams.py --quick          # 600 streams of 3 s, no watchers

Reported per backend: refused (503 or any non-200) and dropped streams (body cut before
its end, or no final `values`), stream end minus run end (the run's `updated_at` when it
ended, read back afterwards) p50/p99/max, first byte, server RSS and threads per open
stream, and server (+ PostgreSQL) CPU. Servers run pinned to CPU 1 with SERVER_WORKERS
(default 10); the load generator is `--clients` processes (bench/streams_client.py)
pinned to CPU 0, each opening its share at the same instant. Results go to
bench/results/streams.md and .json (`--quick`: streams-quick.*).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import loadgen  # noqa: E402
from report import machine_info  # noqa: E402
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
from streams_report import percentile, render  # noqa: E402
from sysload import CLK_TCK, ForeignCpu, marked_ticks, process_ticks  # noqa: E402

GRAPHS_CONFIG = BENCH / "graphs" / "langgraph.json"
CLIENT = BENCH / "streams_client.py"


def serving_pid(server: Server) -> int:
    """The forked child of `robyn-server`'s supervisor, which does the serving."""
    assert server.proc is not None
    parent = server.proc.pid
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return int(children[0]) if children else parent


def proc_status(pid: int) -> dict[str, int]:
    """RSS (KiB) and thread count of a process."""
    out = {"rss_kib": 0, "threads": 0}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            out["rss_kib"] = int(line.split()[1])
        elif line.startswith("Threads:"):
            out["threads"] = int(line.split()[1])
    return out


async def create_threads(port: int, count: int) -> list[str]:
    raw = loadgen.encode_request("POST", "/threads", f"{HOST}:{port}", {})
    ids: list[str] = []

    async def worker(n: int) -> None:
        conn = loadgen.Connection(HOST, port)
        try:
            for _ in range(n):
                status, body = await conn.send(raw)
                assert status == 200, (status, body[:200])
                ids.append(orjson.loads(body)["thread_id"])
        finally:
            await conn.close()

    users = 32
    await asyncio.gather(*(worker(count // users + (i < count % users)) for i in range(users)))
    return ids


async def run_ends(port: int, streams: list[dict[str, Any]]) -> dict[str, float]:
    """run_id -> when the run ended (its `updated_at`), read back from the server."""
    jobs = [s for s in streams if s["run_id"]]
    ends: dict[str, float] = {}

    async def worker(chunk: list[dict[str, Any]]) -> None:
        conn = loadgen.Connection(HOST, port)
        try:
            for s in chunk:
                thread_id = s["path"].split("/")[2]
                path = f"/threads/{thread_id}/runs/{s['run_id']}"
                status, body = await conn.send(loadgen.encode_request("GET", path, HOST))
                if status == 200:
                    run = orjson.loads(body)
                    if run["status"] == "success":
                        stamp = dt.datetime.fromisoformat(run["updated_at"])
                        ends[s["run_id"]] = stamp.timestamp()
        finally:
            await conn.close()

    users = 16
    await asyncio.gather(*(worker(jobs[i::users]) for i in range(users)))
    return ends


def spawn_clients(
    pin: Pinning, port: int, jobs: list[dict[str, Any]], clients: int, mode: str, at: float, stop
) -> list[subprocess.Popen[bytes]]:
    procs = []
    for i in range(clients):
        share = jobs[i::clients]
        argv = [*pin.client_prefix(), sys.executable, str(CLIENT), str(port), repr(at), mode]
        if stop is not None:
            argv.append(repr(stop))
        # A file, not a pipe: the report is larger than a pipe's buffer.
        out = tempfile.TemporaryFile()
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out)
        proc.out = out  # type: ignore[attr-defined]
        assert proc.stdin is not None
        proc.stdin.write(orjson.dumps(share))
        proc.stdin.close()
        procs.append(proc)
    return procs


async def collect(
    procs: list[subprocess.Popen[bytes]], pid: int | None, samples: list
) -> list[dict]:
    """Wait for the clients, sampling the server's RSS and threads every 0.25 s."""
    while any(p.poll() is None for p in procs):
        if pid is not None:
            try:
                samples.append((time.time(), proc_status(pid)))
            except OSError:
                pass
        await asyncio.sleep(0.25)
    reports = []
    for proc in procs:
        proc.out.seek(0)  # type: ignore[attr-defined]
        out = proc.out.read()  # type: ignore[attr-defined]
        proc.out.close()  # type: ignore[attr-defined]
        if proc.returncode != 0 or not out:
            raise RuntimeError(f"a client failed with {proc.returncode}")
        reports.append(orjson.loads(out))
    return reports


def at_time(samples: list, when: float) -> dict[str, int]:
    best = min(samples, key=lambda s: abs(s[0] - when))
    return best[1]


async def start_server(
    name: str, pin: Pinning, db: str | None, args: argparse.Namespace
) -> tuple[Server, int]:
    server = our_server(name, pin, database_url(db) if db else None, config=GRAPHS_CONFIG)
    server.env["SERVER_WORKERS"] = str(args.workers)
    # Every run of the burst executes at once (the default, 1,000, would queue half).
    server.env["RUN_MAX_CONCURRENCY"] = str(max(args.streams, 1000))
    for item in args.env:
        key, _, value = item.partition("=")
        server.env[key] = value
    await server.start()
    return server, serving_pid(server)


async def warm_up(pin: Pinning, port: int, threads: list[str]) -> None:
    """Graphs imported and first-run paths taken before anything is measured."""
    jobs = [{"thread_id": t, "delay": 0.05} for t in threads]
    procs = spawn_clients(pin, port, jobs, 1, "run", time.time(), None)
    reports = await collect(procs, None, [])
    bad = [s for r in reports for s in r["streams"] if not s["complete"]]
    if bad:
        raise RuntimeError(f"warm-up streams failed: {bad[:2]}")


async def run_burst(
    backend: str, pin: Pinning, args: argparse.Namespace, db: str | None
) -> dict[str, Any]:
    server, pid = await start_server(backend, pin, db, args)
    try:
        threads = await create_threads(server.port, args.streams + 20)
        await warm_up(pin, server.port, threads[-20:])
        await asyncio.sleep(args.settle)
        before = proc_status(pid)
        ticks0, pg0 = process_ticks(server.proc.pid), marked_ticks((db,)) if db else 0
        foreign = ForeignCpu().start()
        jobs = [{"thread_id": t, "delay": args.run_seconds} for t in threads[: args.streams]]
        start_at = time.time() + 1.0 + 0.2 * args.clients
        log(
            f"  {backend}: {args.streams} streams of {args.run_seconds:g} s, {args.clients} clients"
        )
        samples: list = []
        procs = spawn_clients(pin, server.port, jobs, args.clients, "run", start_at, None)
        reports = await collect(procs, pid, samples)
        cpu = (process_ticks(server.proc.pid) - ticks0) / CLK_TCK
        pg_cpu = (marked_ticks((db,)) - pg0) / CLK_TCK if db else None
        other = foreign.stop()
        streams = [s for r in reports for s in r["streams"]]
        ends = await run_ends(server.port, streams)
        # RSS when the most streams were open (threads: one per open stream).
        held = max(samples, key=lambda s: s[1]["threads"])[1]
        summary = summarize_runs(
            backend, args, streams, ends, reports, before, held, samples, start_at
        )
        return summary | {
            "start_at": start_at,
            "server_cpu_s": round(cpu, 2),
            "postgres_cpu_s": None if pg_cpu is None else round(pg_cpu, 2),
            "other_cpu_percent": other,
        }
    finally:
        server.stop()


def lag_by_second(pairs: list[tuple[float, float]]) -> dict[int, list[float]]:
    buckets: dict[int, list[float]] = {}
    for at, lag in pairs:
        buckets.setdefault(int(at), []).append(lag)
    return {
        second: [len(lags), percentile(lags, 50) or 0.0, round(max(lags), 3)]
        for second, lags in sorted(buckets.items())
    }


def summarize_runs(
    backend, args, streams, ends, reports, before, held, samples, start_at
) -> dict[str, Any]:
    refused = [s for s in streams if s["status"] != 200]
    accepted = [s for s in streams if s["status"] == 200]
    dropped = [s for s in accepted if not (s["complete"] and s["final_values"]) or s["error"]]
    lag = [s["end"] - ends[s["run_id"]] for s in accepted if s["run_id"] in ends and s["end"]]
    run_len = [ends[s["run_id"]] - s["sent"] for s in accepted if s["run_id"] in ends]
    first = [s["first_byte"] - s["sent"] for s in accepted if s["first_byte"] and s["sent"]]
    sent = [s["sent"] - start_at for s in streams if s["sent"]]
    n = max(len(accepted), 1)
    return {
        "backend": backend,
        "streams": len(streams),
        "refused": len(refused),
        "refused_sample": [(s["status"], s["error"]) for s in refused[:3]],
        "dropped": len(dropped),
        "dropped_sample": [(s["status"], s["error"], s["complete"]) for s in dropped[:3]],
        "runs_ended": len(ends),
        "end_lag_s": {q: percentile(lag, q) for q in (50, 99, 100)},
        "run_seconds_from_send": {q: percentile(run_len, q) for q in (50, 99, 100)},
        "first_byte_s": {q: percentile(first, q) for q in (50, 99, 100)},
        # How long the clients took to put every request on the wire.
        "sent_s": {q: percentile(sent, q) for q in (50, 99, 100)},
        "heartbeats_per_stream": sum(s["heartbeats"] for s in accepted) / n,
        "rss_before_kib": before["rss_kib"],
        "rss_held_kib": held["rss_kib"],
        "rss_peak_kib": max(s[1]["rss_kib"] for s in samples),
        "kib_per_stream": round((held["rss_kib"] - before["rss_kib"]) / n, 1),
        "threads_before": before["threads"],
        "threads_held": held["threads"],
        "threads_peak": max(s[1]["threads"] for s in samples),
        # When runs ended (seconds after the burst's start) and how late their streams
        # ended: {second: [runs, end lag p50, end lag max]}.
        "end_lag_by_second": lag_by_second(
            [
                (ends[s["run_id"]] - start_at, s["end"] - ends[s["run_id"]])
                for s in accepted
                if s["run_id"] in ends and s["end"]
            ]
        ),
        "client_loop_lag_max_s": max(r["loop_lag_max"] for r in reports),
        "client_loop_lag_p99_s": max(r["loop_lag_p99"] for r in reports),
    }


async def run_watchers(
    backend: str, pin: Pinning, args: argparse.Namespace, db: str | None
) -> dict[str, Any]:
    server, pid = await start_server(backend, pin, db, args)
    try:
        threads = await create_threads(server.port, args.streams + 20)
        await warm_up(pin, server.port, threads[-20:])
        await asyncio.sleep(args.settle)
        before = proc_status(pid)
        hold = 12.0
        start_at = time.time() + 1.0 + 0.2 * args.clients
        stop_at = start_at + hold
        jobs = [{"thread_id": t} for t in threads[: args.streams]]
        log(f"  {backend}: {args.streams} pure watchers held {hold:g} s")
        samples: list = []
        ticks0 = process_ticks(server.proc.pid)
        procs = spawn_clients(pin, server.port, jobs, args.clients, "watch", start_at, stop_at)
        reports = await collect(procs, pid, samples)
        cpu = (process_ticks(server.proc.pid) - ticks0) / CLK_TCK
        streams = [s for r in reports for s in r["streams"]]
        held = at_time(samples, stop_at - 1.0)
        opened = [s for s in streams if s["status"] == 200]
        return {
            "backend": backend,
            "watchers": len(streams),
            "opened": len(opened),
            "refused": len(streams) - len(opened),
            "rss_before_kib": before["rss_kib"],
            "rss_held_kib": held["rss_kib"],
            "kib_per_watcher": round(
                (held["rss_kib"] - before["rss_kib"]) / max(len(opened), 1), 1
            ),
            "threads_held": held["threads"],
            # Opening them, two heartbeats each, and their clients leaving.
            "server_cpu_s": round(cpu, 2),
        }
    finally:
        server.stop()


async def main(args: argparse.Namespace) -> int:
    pin = Pinning(not args.no_pin)
    results: dict[str, Any] = {"machine": machine_info(pin), "args": vars(args), "runs": []}
    results["watchers"] = []
    for backend in args.backends.split(","):
        db = create_database() if backend == "postgres" else None
        try:
            if not args.no_runs:
                result = await run_burst(backend, pin, args, db)
                results["runs"].append(result)
                log(
                    f"  {backend}: refused {result['refused']}, dropped {result['dropped']}, "
                    f"end lag p50/p99/max {result['end_lag_s']}, "
                    f"{result['kib_per_stream']} KiB/stream"
                )
            if not args.no_watchers:
                watch = await run_watchers(backend, pin, args, db)
                results["watchers"].append(watch)
                log(f"  {backend}: {watch['kib_per_watcher']} KiB per watcher")
        finally:
            if db:
                drop_database(db)
    stem = "streams-quick" if args.quick else "streams"
    save_results(stem, render(results), results)
    return 0


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--run-seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=10, help="SERVER_WORKERS")
    parser.add_argument("--clients", type=int, default=4, help="load-generator processes")
    parser.add_argument("--backends", default="memory,postgres")
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument("--no-watchers", action="store_true")
    parser.add_argument("--no-runs", action="store_true", help="only the watchers")
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument("--quick", action="store_true", help="600 streams of 3 s, no watchers")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server")
    args = parser.parse_args()
    if args.quick:
        args.streams, args.run_seconds, args.no_watchers = 600, 3.0, True
    return args


if __name__ == "__main__":
    run_cli(main(parse()))

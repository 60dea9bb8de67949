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
import contextlib
import datetime as dt
import json
import os
import platform
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import loadgen  # noqa: E402
from sysload import CLK_TCK, ForeignCpu, Quiet, marked_ticks, process_ticks  # noqa: E402

HOST = "127.0.0.1"
CONFIG = ROOT / "tests" / "fixtures" / "langgraph.json"
RESULTS = BENCH / "results"
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# Environment variables that would change the server's configuration under test.
SERVER_ENV_PREFIXES = (
    "DATABASE_",
    "SERVER_",
    "LANGGRAPH_",
    "LANGSERVE_",
    "CORS_",
    "HTTP_MAX_",
    "LOG_LEVEL",
    "ROBYN_",
)

REFERENCE = {
    "create_get_rps": 514.0,
    "thread_search_p50_1k_ms": 2.4,
    "thread_search_p50_10k_ms": 13.8,
}
GOALS = {
    "ok_pct_of_bare": 80.0,
    "create_get_rps": 3 * REFERENCE["create_get_rps"],
    "thread_search_growth": 1.5,
}


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

OK_CONNECTIONS = 64
CG_CONCURRENCY = 32
SEED_CONCURRENCY = 32


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------------------------------
# Processes and the database


class Pinning:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and (os.cpu_count() or 1) >= 2 and shutil.which("taskset")
        self.server_cpu, self.client_cpu = 1, 0

    def server_prefix(self) -> list[str]:
        return ["taskset", "-c", str(self.server_cpu)] if self.enabled else []

    def client_prefix(self) -> list[str]:
        return ["taskset", "-c", str(self.client_cpu)] if self.enabled else []

    def pin_self(self) -> None:
        if self.enabled:
            os.sched_setaffinity(0, {self.client_cpu})

    def describe(self) -> str:
        if not self.enabled:
            return "not pinned"
        return (
            f"server on CPU {self.server_cpu} (taskset -c {self.server_cpu}), load generator "
            f"on CPU {self.client_cpu}; PostgreSQL not pinned"
        )


class Server:
    """A server subprocess: started, polled on /ok until ready, stopped with SIGTERM."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int) -> None:
        self.name, self.argv, self.env, self.port = name, argv, env, port
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)

    def _spawn(self) -> None:
        log(f"starting {self.name} on port {self.port}")
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    async def start(self, ready_within: float = 90.0) -> None:
        self._spawn()
        assert self.proc is not None
        deadline = time.monotonic() + ready_within
        raw = loadgen.encode_request("GET", "/ok", f"{HOST}:{self.port}")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}\n{self.tail()}")
            conn = loadgen.Connection(HOST, self.port)
            try:
                status, _ = await conn.send(raw)
                if status == 200:
                    return
            except (OSError, asyncio.IncompleteReadError, loadgen.HttpError):
                pass
            finally:
                await conn.close()
            await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {ready_within:.0f}s\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        self.log.flush()
        text = Path(self.log.name).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                log(f"{self.name} ignored SIGTERM for 15 s; killing it")
                proc.kill()
                proc.wait(timeout=5)
        self.log.close()
        with contextlib.suppress(OSError):
            os.unlink(self.log.name)


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def server_env(database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SERVER_ENV_PREFIXES)}
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def our_server(name: str, pin: Pinning, database_url: str | None) -> Server:
    port = free_port()
    argv = [
        *pin.server_prefix(),
        sys.executable,
        "-m",
        "robyn_server",
        "--config",
        str(CONFIG),
        "--host",
        HOST,
        "--port",
        str(port),
        "--log-level",
        "WARNING",
        "--env-file",
        str(BENCH / ".no-such-env-file"),
    ]
    return Server(name, argv, server_env(database_url), port)


def bare_server(pin: Pinning) -> Server:
    port = free_port()
    argv = [*pin.server_prefix(), sys.executable, str(BENCH / "bare_robyn.py"), str(port)]
    return Server("bare-robyn", argv, server_env(None), port)


def pg_admin(statement: Any) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(statement)


def pg_version() -> str | None:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=5) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            return row[0] if row else None
    except psycopg.OperationalError:
        return None


def vacuum_analyze(name: str) -> None:
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(database_url(name), autocommit=True, connect_timeout=5) as conn:
        conn.execute("VACUUM ANALYZE")
    log(f"  VACUUM ANALYZE in {time.perf_counter() - started:.1f}s")


def database_url(name: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


def create_database() -> str:
    from psycopg import sql

    name = f"bench_{secrets.token_hex(4)}"
    pg_admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    log(f"created database {name}")
    return name


def drop_database(name: str) -> None:
    from psycopg import sql

    pg_admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    log(f"dropped database {name}")


# ---------------------------------------------------------------------------------------
# Scenarios


def wrk_version() -> str | None:
    path = shutil.which("wrk")
    if path is None:
        return None
    out = subprocess.run([path, "-v"], capture_output=True, text=True, check=False)
    match = re.search(r"wrk (\S+)", out.stdout + out.stderr)
    return match.group(1) if match else "unknown"


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


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


# ---------------------------------------------------------------------------------------
# Report


def machine_info(pin: Pinning) -> dict[str, Any]:
    from importlib.metadata import version

    cpu = platform.processor()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "robyn": version("robyn"),
        "postgres": pg_version(),
        "wrk": wrk_version(),
        "pinning": pin.describe(),
    }


def fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def fmt_lat(r: dict[str, Any] | None) -> str:
    if not r:
        return "-"
    err = f" ⚠ {r['errors']} errors" if r.get("errors") else ""
    return f"{fmt_ms(r['p50_ms'])} / {fmt_ms(r['p99_ms'])}{err}"


def verdict(ok: bool | None) -> str:
    return "" if ok is None else (" ✅" if ok else " ❌")


def render(meta: dict[str, Any], results: list[dict]) -> str:
    by = {r["backend"]: r for r in results}
    backends = [b for b in ("memory", "postgres") if b in by]
    heads = {"memory": "In memory", "postgres": "PostgreSQL"}

    def cell(backend: str, fn: Any) -> str:
        try:
            return fn(by[backend])
        except (KeyError, TypeError):
            return "-"

    def row(title: str, goal: str, fn: Any) -> str:
        return "| " + " | ".join([title, *(cell(b, fn) for b in backends), goal]) + " |"

    def ok_cell(r: dict) -> str:
        ok, pct = r["ok"], r["ok"]["pct_of_bare"]
        return (
            f"{ok['rps']:,.0f} = {pct:.0f}% of {ok['bare']['rps']:,.0f}"
            f"{verdict(pct >= GOALS['ok_pct_of_bare'])}"
        )

    def foreign(r: dict) -> list[tuple[float, str]]:
        found = [(r["ok"]["foreign_cpu_pct"], "/ok"), (r["create_get"]["foreign_cpu_pct"], "c+g")]
        found += [(v["foreign_cpu_pct"], f"a.search {k}") for k, v in r["assistant_search"].items()]
        for key, tag in (("thread_search", ""), ("thread_search_fresh", " fresh")):
            found += [
                (v["foreign_cpu_pct"], f"t.search {label}@{size}{tag}")
                for size, group in (r.get(key) or {}).items()
                for label, v in group.items()
            ]
        return found

    def foreign_cell(r: dict) -> str:
        worst = max(foreign(r))
        return f"{worst[0]:.0f}% ({worst[1]})"

    def cg_cell(r: dict) -> str:
        rps = r["create_get"]["rps"]
        err = f" ⚠ {r['create_get']['errors']} errors" if r["create_get"]["errors"] else ""
        times = rps / REFERENCE["create_get_rps"]
        return f"{rps:,.0f} ({times:.1f}x){verdict(rps >= GOALS['create_get_rps'])}{err}"

    def growth_cell(label: str) -> Any:
        def fn(r: dict) -> str:
            g = r["thread_search_growth"][label]
            ok = g < GOALS["thread_search_growth"] if r["backend"] == "postgres" else None
            return f"{g:.2f}x{verdict(ok)}" if g is not None else "-"

        return fn

    def fresh_cell(label: str) -> Any:
        def fn(r: dict) -> str:
            fresh = r["thread_search_fresh"]
            if not fresh:
                return "n/a"
            a, b = fresh["1k"][label]["p50_ms"], fresh["10k"][label]["p50_ms"]
            return f"{fmt_ms(a)} -> {fmt_ms(b)} ({r['thread_search_fresh_growth'][label]:.2f}x)"

        return fn

    ts = "thread_search"
    lines = [
        "# Foundation benchmark",
        "",
        f"- Date: {meta['date']}",
        f"- Machine: {meta['nproc']} CPUs ({meta['cpu']}), Linux {meta['kernel']}",
        f"- Python {meta['python']}, Robyn {meta['robyn']}, PostgreSQL {meta['postgres'] or '-'}",
        f"- Pinning: {meta['pinning']}",
        f"- Load: GET /ok with {meta['ok_client']}; everything else with the asyncio "
        "client in bench/loadgen.py (keep-alive HTTP/1.1)",
        f"- Mode: {meta['mode']}, {meta['total_seconds']:.0f} s in all; before each "
        f"measurement waited up to {meta['quiet_wait']['max_per_measurement_s']:.0f} s for "
        f"other processes to go idle, {meta['quiet_wait']['budget_s']:.0f} s in all (waited "
        f"{meta['quiet_wait']['waited_s']:.0f} s, gave up {meta['quiet_wait']['gave_up']} "
        "times)",
        "",
        "Latencies are p50 / p99 in milliseconds, measured sequentially on one keep-alive "
        "connection. Throughputs are requests per second. On Postgres the search figures "
        "are taken after a VACUUM ANALYZE (the state autovacuum reaches on its own within "
        "about a minute); the two 'just after seeding' rows are taken before it, while "
        "the new rows still sit in the GIN index's pending list and the planner has no "
        "statistics, and vary with autovacuum's timing.",
        "",
        "| Scenario | " + " | ".join(heads[b] for b in backends) + " | Goal |",
        "|---|" + "---|" * len(backends) + "---|",
        row("GET /ok req/s = % of bare Robyn req/s", "≥ 80% of bare", ok_cell),
        row(
            "GET /ok p50 / p99 (64 connections)",
            "",
            lambda r: f"{fmt_ms(r['ok']['p50_ms'])} / {fmt_ms(r['ok']['p99_ms'])}",
        ),
        row(
            f"Thread create + get req/s, {CG_CONCURRENCY} users (x reference 514)",
            f"≥ {GOALS['create_get_rps']:.0f}",
            cg_cell,
        ),
        row(
            "Thread create + get p50 / p99 per request",
            "",
            lambda r: fmt_lat(r["create_get"]),
        ),
        row(
            'Assistant search `{"limit":10}`, 1k assistants',
            "",
            lambda r: fmt_lat(r["assistant_search"]["limit"]),
        ),
        row(
            "Assistant search, metadata filter (2%), 1k assistants",
            "",
            lambda r: fmt_lat(r["assistant_search"]["metadata"]),
        ),
        row(
            'Thread search `{"limit":10}`, 1k threads',
            f"ref. p50 {REFERENCE['thread_search_p50_1k_ms']}",
            lambda r: fmt_lat(r[ts]["1k"]["limit"]),
        ),
        row(
            'Thread search `{"limit":10}`, 10k threads',
            f"ref. p50 {REFERENCE['thread_search_p50_10k_ms']}",
            lambda r: fmt_lat(r[ts]["10k"]["limit"]),
        ),
        row(
            "Thread search growth 10k/1k (p50)",
            "< 1.5x (Postgres)",
            growth_cell("limit"),
        ),
        row(
            "Thread search, metadata filter (1%), 1k threads",
            "",
            lambda r: fmt_lat(r[ts]["1k"]["metadata"]),
        ),
        row(
            "Thread search, metadata filter (1%), 10k threads",
            "",
            lambda r: fmt_lat(r[ts]["10k"]["metadata"]),
        ),
        row(
            "Thread search growth 10k/1k, metadata filter (p50)",
            "< 1.5x (Postgres)",
            growth_cell("metadata"),
        ),
        row(
            'Postgres just after seeding: thread search `{"limit":10}` p50 1k -> 10k',
            "see note",
            fresh_cell("limit"),
        ),
        row(
            "Postgres just after seeding: thread search, metadata filter, p50 1k -> 10k",
            "see note",
            fresh_cell("metadata"),
        ),
        row(
            "Seeding via HTTP (32 connections): 1k assistants / 9k threads, s",
            "",
            lambda r: f"{r['assistants_seed_s']:.1f} / {r['threads_seed_s']['10k']:.1f}",
        ),
        row(
            "CPU during create + get: server / load generator / Postgres backends",
            "",
            lambda r: " / ".join(
                "-" if v is None else f"{v:.0f}%"
                for v in (
                    r["create_get"]["server_cpu_pct"],
                    r["create_get"]["client_cpu_pct"],
                    r["create_get"]["postgres_cpu_pct"],
                )
            ),
        ),
        row("Other processes' CPU, worst measurement (% of one core)", "≈ 0", foreign_cell),
    ]
    notes = list(meta.get("notes") or [])
    busy = [
        (pct, f"{r['backend']} {what}") for r in results for pct, what in foreign(r) if pct >= 10
    ]
    if busy:
        notes.append(
            "Other processes used ≥ 10% of a core during: "
            + ", ".join(f"{what} ({pct:.0f}%)" for pct, what in busy)
            + ". Those figures are pessimistic; rerun on a quiet machine."
        )
    if notes:
        lines += ["", *[f"- {n}" for n in notes]]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------


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
    print()
    print(report)
    RESULTS.mkdir(exist_ok=True)
    stem = "foundation-quick" if args.quick else "foundation"
    payload = {"meta": meta, "results": results}
    (RESULTS / f"{stem}.md").write_text(report)
    (RESULTS / f"{stem}.json").write_text(json.dumps(payload, indent=2) + "\n")
    log(f"wrote {RESULTS / (stem + '.md')} and .json in {meta['total_seconds']}s")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs (about a minute)")
    parser.add_argument("--backends", default="memory,postgres", help="memory,postgres")
    parser.add_argument("--no-pin", action="store_true", help="do not pin CPUs")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=None,
        metavar="S",
        help="before each measurement wait up to S seconds for other processes to go "
        "(nearly) idle, 6*S in all (default 10, 3 with --quick; 0 disables)",
    )
    args = parser.parse_args()

    def on_sigterm(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        raise SystemExit(asyncio.run(main_async(args)))
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()

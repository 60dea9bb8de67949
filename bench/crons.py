"""Cron benchmark: 1,000 crons due in the same second, and the scheduler's CPU while
10,000 crons wait, on our server in memory (one server: the backend lives in one
process) and on PostgreSQL (one server, and three sharing one database).

    uv run python bench/crons.py [--quick] [--setups memory,postgres,postgres-3]

For each setup: the servers' CPU with no cron, then with the idle crons (created through
the API, next run months away), then the burst: crons whose one-field-per-unit schedule
(croniter's sixth field is the second) names one exact second T a few seconds after
they are all created, so each fires once at T and next a year later. Every tick's run
is kept (`on_run_completed: "keep"`) and counted: on PostgreSQL in the database
(`runs.kwargs -> config -> configurable -> cron_id`), in memory through the API (each
run's thread carries its cron's id in its metadata). Servers run pinned to CPU 1, this
process to CPU 0. Results: bench/results/crons.md and .json (`--quick`: crons-quick.*).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from crons_report import aggregate_burst, render  # noqa: E402
from report import machine_info  # noqa: E402
from servers import (  # noqa: E402
    PG_ADMIN_URL,
    Pinning,
    Server,
    add_quiet_wait,
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

GRAPHS_CONFIG = BENCH / "graphs" / "langgraph.json"
INPUT = {"messages": [{"role": "user", "content": "hi"}]}
SETUPS = {"memory": ("memory", 1), "postgres": ("postgres", 1), "postgres-3": ("postgres", 3)}
CONNECTIONS = 16  # concurrent requests while creating crons (over all servers)
RUN_CRON_ID = "kwargs -> 'config' -> 'configurable' ->> 'cron_id'"


@dataclass(frozen=True)
class Plan:
    burst: int
    idle: int
    cpu_seconds: float
    settle_seconds: float


FULL = Plan(burst=1000, idle=10_000, cpu_seconds=30.0, settle_seconds=20.0)
QUICK = Plan(burst=200, idle=1000, cpu_seconds=5.0, settle_seconds=5.0)


@dataclass
class Setup:
    key: str
    backend: str
    servers: list[Server]
    database: str | None = None
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def markers(self) -> tuple[str, ...]:
        return (self.database,) if self.database else ()

    def pids(self) -> list[int]:
        return [s.proc.pid for s in self.servers if s.proc is not None]


def server_ticks(setup: Setup) -> list[int]:
    return [process_ticks(pid) for pid in setup.pids()]


def new_setup(key: str, pin: Pinning, prefix: str) -> Setup:
    backend, count = SETUPS[key]
    database = create_database(prefix) if backend == "postgres" else None
    url = database_url(database) if database else None
    names = [key] if count == 1 else [f"{key}.{i + 1}" for i in range(count)]
    return Setup(key, backend, [our_server(n, pin, url, GRAPHS_CONFIG) for n in names], database)


async def start_setup(setup: Setup) -> None:
    for server in setup.servers:  # one at a time: the first one migrates the database
        await server.start()
        client = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{server.port}",
            timeout=httpx.Timeout(120.0, connect=30.0),
            limits=httpx.Limits(max_connections=CONNECTIONS),
        )
        setup.clients.append(client)
        for _ in range(3):  # warm-up: graph imported, the run paths taken once
            body = {"assistant_id": "trivial", "input": INPUT}
            response = await client.post("/runs/wait", json=body)
            response.raise_for_status()
    log(f"  {setup.key}: {len(setup.servers)} server(s) up, runs/wait on `trivial` works")


async def stop_setup(setup: Setup) -> None:
    for client in setup.clients:
        await client.aclose()
    for server in setup.servers:
        server.stop()
    if setup.database:
        drop_database(setup.database)


async def settle(setup: Setup, limit: float) -> float:
    """Wait (at most `limit` s) until the servers have used under 2% of a core in all
    for one second: the work of the previous step (runs, cron creation) is over."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        before = sum(server_ticks(setup))
        await asyncio.sleep(1.0)
        if 100 * (sum(server_ticks(setup)) - before) / CLK_TCK < 2.0:
            break
    return round(time.monotonic() - started, 1)


async def cpu_window(setup: Setup, seconds: float) -> dict[str, Any]:
    """Percent of one core used by each server (supervisor and its child, all threads),
    by the PostgreSQL backends of the setup's database, and by other processes."""
    await Quiet.wait()
    servers0, pg0 = server_ticks(setup), marked_ticks(setup.markers) if setup.markers else 0
    foreign, wall0 = ForeignCpu().start(), time.monotonic()
    await asyncio.sleep(seconds)
    servers1, pg1 = server_ticks(setup), marked_ticks(setup.markers) if setup.markers else 0
    wall = time.monotonic() - wall0

    def pct(ticks: int) -> float:
        return round(100 * ticks / CLK_TCK / wall, 3)

    per_server = [pct(b - a) for a, b in zip(servers0, servers1, strict=True)]
    return {
        "seconds": round(wall, 1),
        "server_cpu_pct": per_server,
        "server_cpu_pct_total": round(sum(per_server), 3),
        "postgres_cpu_pct": pct(pg1 - pg0) if setup.markers else None,
        "foreign_cpu_pct": foreign.stop(),
    }


async def create_crons(setup: Setup, bodies: list[dict[str, Any]]) -> dict[str, Any]:
    """POST /runs/crons for every body, CONNECTIONS at a time, spread over the servers."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    crons: list[dict[str, Any]] = []
    errors: list[str] = []

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            response = await client.post("/runs/crons", json=body)
            if response.status_code == 200:
                crons.append(response.json())
            else:
                errors.append(f"{response.status_code} {response.text[:200]}")

    started = time.perf_counter()
    clients = setup.clients
    await asyncio.gather(*(worker(clients[i % len(clients)]) for i in range(CONNECTIONS)))
    seconds = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} cron creations failed, first: {errors[0]}")
    return {"crons": crons, "seconds": seconds, "per_second": round(len(crons) / seconds, 1)}


def once_at(moment: datetime) -> str:
    """A croniter schedule firing at `moment` (a whole UTC second), then a year later."""
    return f"{moment.minute} {moment.hour} {moment.day} {moment.month} * {moment.second}"


def cron_body(schedule: str, tag: str, i: int) -> dict[str, Any]:
    return {
        "assistant_id": "trivial",
        "schedule": schedule,
        "input": INPUT,
        "on_run_completed": "keep",
        "metadata": {"bench": tag, "i": i},
    }


async def idle_scenario(setup: Setup, plan: Plan) -> dict[str, Any]:
    out: dict[str, Any] = {"settle_s": [await settle(setup, plan.settle_seconds)]}
    out["no_crons"] = await cpu_window(setup, plan.cpu_seconds)
    log(f"  {setup.key}: 0 crons: servers {out['no_crons']['server_cpu_pct_total']:.2f}% CPU")
    far = (datetime.now(UTC) + timedelta(days=180)).replace(day=15, microsecond=0)
    bodies = [cron_body(once_at(far), "idle", i) for i in range(plan.idle)]
    created = await create_crons(setup, bodies)
    out["create_seconds"] = round(created["seconds"], 1)
    out["create_per_second"] = created["per_second"]
    log(f"  {setup.key}: {plan.idle} idle crons created, {created['per_second']}/s")
    if setup.database:
        vacuum_analyze(setup.database)  # the steady state, not autovacuum's moment
    out["settle_s"].append(await settle(setup, plan.settle_seconds))
    out["idle_crons"] = await cpu_window(setup, plan.cpu_seconds)
    log(
        f"  {setup.key}: {plan.idle} crons: "
        f"servers {out['idle_crons']['server_cpu_pct_total']:.2f}% CPU"
    )
    return out


async def burst_runs_postgres(setup: Setup, cron_ids: set[str]) -> list[dict[str, Any]]:
    import psycopg

    assert setup.database
    query = (
        f"SELECT {RUN_CRON_ID} AS cron_id, created_at, status FROM langgraph_server.runs "
        f"WHERE {RUN_CRON_ID} IS NOT NULL"
    )
    with psycopg.connect(database_url(setup.database), connect_timeout=5) as conn:
        rows = conn.execute(query).fetchall()
    return [{"cron_id": c, "created_at": t, "status": s} for c, t, s in rows if c in cron_ids]


async def burst_runs_api(setup: Setup, cron_ids: set[str]) -> list[dict[str, Any]]:
    client = setup.clients[0]
    threads: list[dict[str, Any]] = []
    while True:
        body = {"metadata": {"bench": "burst"}, "limit": 1000, "offset": len(threads)}
        page = (await client.post("/threads/search", json=body)).raise_for_status().json()
        threads += page
        if len(page) < 1000:
            break
    gate = asyncio.Semaphore(CONNECTIONS)

    async def runs_of(thread: dict[str, Any]) -> list[dict[str, Any]]:
        async with gate:
            response = await client.get(f"/threads/{thread['thread_id']}/runs?limit=100")
        cron_id = thread["metadata"].get("cron_id")
        return [
            {
                "cron_id": cron_id,
                "created_at": datetime.fromisoformat(r["created_at"]),
                "status": r["status"],
            }
            for r in response.raise_for_status().json()
        ]

    found = await asyncio.gather(*(runs_of(t) for t in threads))
    return [r for runs in found for r in runs if r["cron_id"] in cron_ids]


def pg_transactions(setup: Setup) -> tuple[int, int] | None:
    """Transactions committed and rolled back so far in the setup's database: a claim
    lost to another server (or to a run in flight) rolls its transaction back."""
    if not setup.database:
        return None
    import psycopg

    query = "SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = %s"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute(query, (setup.database,)).fetchone()
    return None if row is None else (int(row[0]), int(row[1]))


async def burst_done(setup: Setup, cron_ids: set[str]) -> bool:
    """Has every cron a run, and every run finished? Cheap enough to ask once a second
    during the burst: one query, or two counts through the API."""
    if setup.database:
        import psycopg

        query = (
            f"SELECT count(DISTINCT {RUN_CRON_ID}), "
            "count(*) FILTER (WHERE status IN ('pending', 'running')) "
            f"FROM langgraph_server.runs WHERE {RUN_CRON_ID} = ANY(%s)"
        )
        with psycopg.connect(database_url(setup.database), connect_timeout=5) as conn:
            row = conn.execute(query, (list(cron_ids),)).fetchone()
        return row is not None and row[0] == len(cron_ids) and row[1] == 0
    client, counts = setup.clients[0], []
    for status in (None, "idle"):
        body: dict[str, Any] = {"metadata": {"bench": "burst"}}
        if status:
            body["status"] = status
        counts.append((await client.post("/threads/count", json=body)).raise_for_status().json())
    return counts[0] >= len(cron_ids) and counts[1] == counts[0]


async def burst_runs(setup: Setup, cron_ids: set[str]) -> list[dict[str, Any]]:
    if setup.database:
        return await burst_runs_postgres(setup, cron_ids)
    return await burst_runs_api(setup, cron_ids)


async def burst_scenario(setup: Setup, plan: Plan, create_rate: float) -> dict[str, Any]:
    await settle(setup, plan.settle_seconds)
    await Quiet.wait()
    # T: a whole second after the crons are all created, with room to spare.
    lead = max(3.0, 1.5 * plan.burst / create_rate + 2.0)
    due = datetime.now(UTC) + timedelta(seconds=lead)
    due = due.replace(microsecond=0) + timedelta(seconds=1)
    bodies = [cron_body(once_at(due), "burst", i) for i in range(plan.burst)]
    created = await create_crons(setup, bodies)
    cron_ids = {c["cron_id"] for c in created["crons"]}
    next_runs = {c["next_run_date"] for c in created["crons"]}
    spare = (due - datetime.now(UTC)).total_seconds()
    log(f"  {setup.key}: {plan.burst} crons due at {due:%H:%M:%S} created, {spare:.1f} s to spare")
    if spare <= 0 or next_runs != {due.isoformat()}:
        raise RuntimeError(f"the crons' next run should be {due.isoformat()}: {sorted(next_runs)}")
    out: dict[str, Any] = {
        "due": due.isoformat(),
        "schedule": once_at(due),
        "create_seconds": round(created["seconds"], 2),
        "spare_s": round(spare, 2),
        "next_run_dates_at_creation": sorted(next_runs),
    }
    # CPU from just before T until every run has been created and has finished.
    await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() - 0.5))
    servers0, pg0 = server_ticks(setup), marked_ticks(setup.markers) if setup.markers else 0
    foreign, xacts0 = ForeignCpu().start(), pg_transactions(setup)
    deadline = time.monotonic() + 120.0
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        if await burst_done(setup, cron_ids):
            break
    servers1, pg1 = server_ticks(setup), marked_ticks(setup.markers) if setup.markers else 0
    out["foreign_cpu_pct"] = foreign.stop()
    out["server_cpu_s"] = round((sum(servers1) - sum(servers0)) / CLK_TCK, 2)
    out["postgres_cpu_s"] = round((pg1 - pg0) / CLK_TCK, 2) if setup.markers else None
    # Any second run of a tick would have come by now: count again after a pause.
    await asyncio.sleep(3.0)
    runs = await burst_runs(setup, cron_ids)
    out.update(aggregate_burst(runs, cron_ids, due))
    xacts1 = pg_transactions(setup)
    if xacts0 and xacts1:  # the statistics reach pg_stat_database within a second
        out["pg_commits"] = xacts1[0] - xacts0[0]
        out["pg_rollbacks"] = xacts1[1] - xacts0[1]
    search = {"metadata": {"bench": "burst"}, "limit": 1000, "select": ["next_run_date"]}
    after = (await setup.clients[0].post("/runs/crons/search", json=search)).json()
    out["crons_not_advanced"] = sum(
        datetime.fromisoformat(c["next_run_date"]) <= due for c in after
    )
    out["next_run_dates_after"] = sorted({c["next_run_date"] for c in after})[:3]
    log(
        f"  {setup.key}: delay p50 {out['delay_ms']['p50']} ms, p99 {out['delay_ms']['p99']} ms,"
        f" max {out['delay_ms']['max']} ms; runs per cron {out['runs_per_cron']}"
    )
    if out["runs_per_cron"]["max"] > 1:
        log(f"  {setup.key}: DUPLICATE RUNS: {out['duplicates'][:5]}")
    return out


async def measure(setup: Setup, plan: Plan) -> dict[str, Any]:
    idle = await idle_scenario(setup, plan)
    burst = await burst_scenario(setup, plan, idle["create_per_second"])
    return {"servers": len(setup.servers), "backend": setup.backend, "idle": idle, "burst": burst}


async def main_async(args: argparse.Namespace) -> int:
    pin = Pinning(not args.no_pin)
    Quiet.max_wait = args.quiet_wait if args.quiet_wait is not None else (3 if args.quick else 10)
    Quiet.budget = 12 * Quiet.max_wait
    pin.pin_self()
    plan = QUICK if args.quick else FULL
    keys = [k.strip() for k in args.setups.split(",") if k.strip()]
    if unknown := set(keys) - set(SETUPS):
        raise SystemExit(f"unknown setups {sorted(unknown)}; choose from {list(SETUPS)}")
    meta = machine_info(pin)
    meta.update(
        mode="quick" if args.quick else "full",
        plan=plan.__dict__,
        command=" ".join(["uv run python bench/crons.py", *sys.argv[1:]]),
        notes=[],
    )
    if meta["postgres"] is None and any(SETUPS[k][0] == "postgres" for k in keys):
        meta["notes"].append(f"PostgreSQL unreachable at {PG_ADMIN_URL}: skipped")
        keys = [k for k in keys if SETUPS[k][0] != "postgres"]
    log(f"machine: {meta}")
    started = time.monotonic()
    results: dict[str, Any] = {}
    for key in keys:
        setup = new_setup(key, pin, args.db_prefix)
        try:
            await start_setup(setup)
            ForeignCpu.markers = setup.markers
            results[key] = await measure(setup, plan)
        finally:
            ForeignCpu.markers = ()
            await stop_setup(setup)
    meta["total_seconds"] = round(time.monotonic() - started, 1)
    meta["quiet_wait"] = {
        "max_per_measurement_s": Quiet.max_wait,
        "budget_s": Quiet.budget,
        "waited_s": round(Quiet.waited, 1),
        "gave_up": Quiet.gave_up,
    }
    report = render(meta, results)
    save_results(
        "crons-quick" if args.quick else "crons", report, {"meta": meta, "results": results}
    )
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 due, 1,000 idle, 5 s windows")
    parser.add_argument("--setups", default=",".join(SETUPS), help=",".join(SETUPS))
    parser.add_argument(
        "--db-prefix",
        default="bench_",
        help="name prefix of the throwaway PostgreSQL databases (default bench_)",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin CPUs")
    add_quiet_wait(parser, 12)
    run_cli(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()

"""Crons on Postgres across servers, restarts and crashes: every tick has exactly one run,
and a cron made on one server wakes the others, over the one listener each process has.

Crons are made due by moving `next_run_date` in the database, as an operator could:
the table's trigger wakes every scheduler, so nothing waits for a real minute.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from langgraph_sdk import get_client

from tests.support.cluster import CLUSTER_ENV
from tests.support.runs import eventually
from tests.support.server import ServerProcess

pytestmark = pytest.mark.postgres

YEARLY = "0 9 1 1 *"
RUNS_PER_CRON_SQL = """
SELECT c.cron_id::text AS cron_id, c.next_run_date, count(r.run_id) AS runs
FROM langgraph_server.crons c
LEFT JOIN langgraph_server.runs r
    ON r.kwargs -> 'config' -> 'configurable' ->> 'cron_id' = c.cron_id::text
GROUP BY c.cron_id, c.next_run_date
"""
FIRED = re.compile(r"Cron ([0-9a-f-]{36}): run ")


@pytest.fixture
def database(database_factory: Callable[[], str]) -> str:
    return database_factory()


def _server(url: str) -> ServerProcess:
    # INFO logs one line per tick fired, naming the cron: which server fired what.
    return ServerProcess(database_url=url, env={"LOG_LEVEL": "INFO"})


async def _make_crons(url: str, n: int, schedule: str = YEARLY) -> list[str]:
    client = get_client(url=url, api_key=None)
    created = await asyncio.gather(
        *(
            client.crons.create("echo_config", schedule=schedule, input={}, on_run_completed="keep")
            for _ in range(n)
        )
    )
    return [cron["cron_id"] for cron in created]


async def _sql(url: str, query: str, params: Any = None) -> list[dict[str, Any]]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = conn.cursor(row_factory=psycopg.rows.dict_row)
        await cur.execute(query, params)
        return await cur.fetchall() if cur.description else []


async def _runs_per_cron(url: str) -> dict[str, dict[str, Any]]:
    return {row["cron_id"]: row for row in await _sql(url, RUNS_PER_CRON_SQL)}


def _fired_by(server: ServerProcess) -> set[str]:
    return set(FIRED.findall(server.output()))


async def test_three_servers_fire_each_of_200_due_crons_exactly_once(database: str) -> None:
    servers = [_server(database).start() for _ in range(3)]
    try:
        ids = await _make_crons(servers[0].url, 200)
        # All due at the same instant, a moment from now: every scheduler wakes for it.
        await _sql(
            database,
            "UPDATE langgraph_server.crons SET next_run_date = date_trunc('second', now()) "
            "+ interval '2 seconds'",
        )

        async def all_fired() -> bool:
            rows = await _runs_per_cron(database)
            return all(rows[cron_id]["runs"] >= 1 for cron_id in ids)

        await eventually(all_fired, within=60, every=0.2)
        await asyncio.sleep(1.0)  # room for a duplicate to show up, if there were one
        rows = await _runs_per_cron(database)
        assert sorted(row["runs"] for row in rows.values()) == [1] * 200
        assert all(row["next_run_date"].year > datetime.now(UTC).year for row in rows.values())
        fired = [_fired_by(server) for server in servers]
        assert sum(len(f) for f in fired) == 200
        # The race happened: the burst was shared, so schedulers contended for it.
        assert sum(1 for f in fired if f) >= 2, [len(f) for f in fired]
    finally:
        for server in servers:
            server.kill()


async def test_ticks_missed_while_down_give_one_catch_up_run(database: str) -> None:
    server = _server(database).start()
    try:
        (cron_id,) = await _make_crons(server.url, 1, schedule="*/5 * * * *")
    finally:
        assert server.stop() == 0, "SIGTERM stops the scheduler with the rest, cleanly"
    # Down for an hour: twelve ticks missed.
    await _sql(
        database,
        "UPDATE langgraph_server.crons SET next_run_date = now() - interval '1 hour'",
    )
    restarted = _server(database).start()
    try:

        async def fired() -> dict[str, Any] | None:
            row = (await _runs_per_cron(database))[cron_id]
            return row if row["runs"] else None

        await eventually(fired, within=15)
        await asyncio.sleep(1.0)
        row = (await _runs_per_cron(database))[cron_id]
        assert row["runs"] == 1
        # The schedule continues from now: the next five-minute mark.
        now = datetime.now(UTC)
        assert now < row["next_run_date"] <= now + timedelta(minutes=5)
        assert row["next_run_date"].minute % 5 == 0 and row["next_run_date"].second == 0
    finally:
        restarted.stop()


async def test_a_crash_mid_burst_neither_loses_nor_doubles_a_tick(database: str) -> None:
    n = 300
    server = _server(database).start()
    try:
        ids = await _make_crons(server.url, n)
        await _sql(
            database,
            "UPDATE langgraph_server.crons SET next_run_date = date_trunc('second', now()) "
            "+ interval '1 second'",
        )

        async def started() -> bool:
            rows = await _sql(database, "SELECT count(*) AS n FROM langgraph_server.runs")
            return rows[0]["n"] > 0

        await eventually(started, within=15, every=0.01)
        server.kill()  # SIGKILL, in the middle of the burst
    finally:
        server.kill()

    rows = await _runs_per_cron(database)
    fired = {cron_id for cron_id, row in rows.items() if row["runs"]}
    assert 0 < len(fired) < n, "the crash landed mid-burst"
    now = datetime.now(UTC)
    for cron_id in ids:
        row = rows[cron_id]
        # A claimed tick has its run; a tick without a run is still due.
        if cron_id in fired:
            assert row["runs"] == 1 and row["next_run_date"] > now
        else:
            assert row["next_run_date"] < now

    restarted = _server(database).start()
    try:

        async def all_fired() -> bool:
            return all(row["runs"] for row in (await _runs_per_cron(database)).values())

        await eventually(all_fired, within=60, every=0.2)
        await asyncio.sleep(1.0)
        assert sorted(r["runs"] for r in (await _runs_per_cron(database)).values()) == [1] * n
    finally:
        restarted.stop()


LISTENERS_SQL = """
SELECT count(*) AS n FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN%'
"""


async def test_one_listener_per_process_wakes_the_schedulers_of_other_servers(
    database: str,
) -> None:
    """Each process LISTENs on one connection, which carries cron changes too: a cron
    made through one server wakes the scheduler of another, asleep for an hour."""
    quiet = {**CLUSTER_ENV, "CRON_SCHEDULER_ENABLED": "false"}
    maker = ServerProcess(database_url=database, env=quiet, processes=2)
    firing = {**CLUSTER_ENV, "LOG_LEVEL": "INFO", "CRON_SCHEDULER_MAX_SLEEP_SECONDS": "3600"}
    scheduler = ServerProcess(database_url=database, env=firing)
    with maker, scheduler:

        async def all_registered() -> bool:
            rows = await _sql(database, "SELECT count(*) AS n FROM langgraph_server.workers")
            return rows[0]["n"] == 3

        # A process registers as a worker after its listener is connected.
        await eventually(all_registered, within=30)
        await asyncio.sleep(0.5)  # room for a second listener to show up, if there were one
        # Only this test's database: other tests share the PostgreSQL server.
        assert (await _sql(database, LISTENERS_SQL))[0]["n"] == 3

        (cron_id,) = await _make_crons(maker.url, 1, schedule="* * * * * *")

        async def fired() -> bool:
            return cron_id in _fired_by(scheduler)

        await eventually(fired, within=10, every=0.2)

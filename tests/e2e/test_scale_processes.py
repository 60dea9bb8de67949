"""`--processes N`: N server processes on one port sharing the run queue. Memory mode
refuses it; a killed child is replaced and its runs re-run at once; SIGTERM drains."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable

import psycopg
import pytest
from langgraph_sdk import get_client

from tests.support.cluster import CLUSTER_ENV, child_pids, wait_run
from tests.support.graphs import HI
from tests.support.runs import TERMINAL
from tests.support.server import ServerProcess


def test_several_processes_need_a_database() -> None:
    server = ServerProcess(processes=2)
    assert server.run_to_exit() == 2
    assert "--processes 2 needs DATABASE_URL" in server.output()


@pytest.fixture
def database(database_factory: Callable[[], str]) -> str:
    return database_factory()


def _two_processes(database: str, **env: str) -> ServerProcess:
    # A long lease: the replaced child's runs must come back through the handover, not
    # through the lease running out.
    env = {**CLUSTER_ENV, "RUN_LEASE_SECONDS": "60", **env}
    return ServerProcess(database_url=database, env=env, processes=2)


def _executing_pids(database: str) -> dict[str, int]:
    """Which process executes each running run, as the workers table says."""
    with psycopg.connect(database) as conn:
        rows = conn.execute(
            "SELECT r.run_id::text, w.pid FROM langgraph_server.runs r "
            "JOIN langgraph_server.workers w USING (worker_id) WHERE r.status = 'running'"
        ).fetchall()
    return {run_id: pid for run_id, pid in rows}


async def _wait_children(
    server: ServerProcess, count: int, seconds: float = 30, gone: int | None = None
) -> list[int]:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        pids = child_pids(server)
        if len(pids) == count and gone not in pids:
            return pids
        assert asyncio.get_running_loop().time() < deadline, pids
        await asyncio.sleep(0.1)


@pytest.mark.postgres
async def test_two_processes_share_the_work_and_a_killed_one_is_replaced(database: str) -> None:
    with _two_processes(database) as server:
        client = get_client(url=server.url, api_key=None)
        before = await _wait_children(server, 2)
        runs = []
        for _ in range(10):
            thread_id = (await client.threads.create())["thread_id"]
            run = await client.runs.create(
                thread_id, "slow", input=HI, config={"configurable": {"delay": 3}}
            )
            runs.append((thread_id, run["run_id"]))
        for thread_id, run_id in runs:
            await wait_run(client, thread_id, run_id, {"running"})
        executing = _executing_pids(database)
        assert set(executing.values()) <= set(before)
        victim = next(iter(executing.values()))
        os.kill(victim, signal.SIGKILL)
        killed_at = asyncio.get_running_loop().time()
        after = await _wait_children(server, 2, gone=victim)
        assert victim not in after and len(set(before) & set(after)) == 1
        for thread_id, run_id in runs:
            done = await wait_run(client, thread_id, run_id, TERMINAL, seconds=30)
            assert done["status"] == "success"
        # Far sooner than the 60 s lease: the new child took the dead one's runs over.
        assert asyncio.get_running_loop().time() - killed_at < 20
        for thread_id, run_id in runs:
            attempt = (await client.threads.get_state(thread_id))["metadata"]["run_attempt"]
            assert attempt == (2 if executing[run_id] == victim else 1)


@pytest.mark.postgres
async def test_sigterm_to_the_parent_drains_every_process(database: str) -> None:
    server = _two_processes(database).start()
    try:
        client = get_client(url=server.url, api_key=None)
        thread_id = (await client.threads.create())["thread_id"]
        run = await client.runs.create(
            thread_id, "slow", input=HI, config={"configurable": {"delay": 30}}
        )
        await wait_run(client, thread_id, run["run_id"], {"running"})
        assert server.stop(signal.SIGTERM, timeout=30) == 0
    finally:
        server.kill()
    # The run went back to the queue, and the next server runs it.
    with _two_processes(database) as again:
        client = get_client(url=again.url, api_key=None)
        queued = await client.runs.get(thread_id, run["run_id"])
        assert queued["status"] in ("pending", "running")
        await client.runs.cancel(thread_id, run["run_id"], wait=True)

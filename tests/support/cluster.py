"""Several real servers on one PostgreSQL database, as a scaled-out deployment runs."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.server import ServerProcess

# Small pools: three servers of a test, the suite's own servers and the helpers' share
# PostgreSQL's 100 connections. A short lease makes failover take seconds.
CLUSTER_ENV = {
    "DATABASE_POOL_MAX_SIZE": "4",
    "DATABASE_POOL_MIN_SIZE": "1",
    "RUN_LEASE_SECONDS": "3",
}


@contextmanager
def cluster(database_url: str, count: int, **env: str) -> Iterator[list[ServerProcess]]:
    """`count` servers sharing `database_url`, killed when the block ends."""
    servers = [
        ServerProcess(database_url=database_url, env={**CLUSTER_ENV, **env}) for _ in range(count)
    ]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.kill()


def child_pids(server: ServerProcess) -> list[int]:
    """The server processes the supervisor forked (it serves from its children)."""
    assert server.proc is not None
    path = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children")
    return [int(pid) for pid in path.read_text().split()]


def pause(server: ServerProcess) -> Callable[[], None]:
    """SIGSTOP the server's children; returns what resumes them (SIGCONT)."""
    pids = child_pids(server)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)

    def resume() -> None:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)

    return resume


async def wait_run(
    client: Any, thread_id: str, run_id: str, wanted: Collection[str], seconds: float = 30.0
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        run = await client.runs.get(thread_id, run_id)
        if run["status"] in wanted:
            return run
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"run {run_id} stayed {run['status']}, wanted {wanted}")
        await asyncio.sleep(0.1)

"""`robyn-server` survives what kills a Robyn process: a supervisor restarts the server at
once, on the socket it keeps open, and runs that were executing go back to the queue.

The poison is a real one: Robyn 0.88 aborts the process on a chunked body with a bad
chunk size (docs/robyn-payload-panic.md).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client

from tests.support.graphs import HI
from tests.support.server import BACKENDS, ServerProcess

POISON = b"GET /ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"


def send_poison(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(POISON)
        try:
            return sock.recv(99)
        except OSError:
            return b""


def server_pid(proc: ServerProcess) -> int:
    """The forked server process under the supervisor."""
    assert proc.proc is not None
    pid = proc.proc.pid
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        if len(children) == 1:
            return int(children[0])
        time.sleep(0.05)
    raise AssertionError(f"supervisor {pid} has no single server process")


def wait_for_new_server(proc: ServerProcess, old: int, seconds: float = 10) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pid = server_pid(proc)
        if pid != old:
            return pid
        time.sleep(0.02)
    raise AssertionError("the supervisor did not start a new server process")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"


@pytest.fixture(params=BACKENDS)
def backend_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "postgres":
        factory: Callable[[], str] = request.getfixturevalue("database_factory")
        return factory()
    return None


def test_a_poisoned_request_costs_at_most_a_moment_of_service(backend_url):
    with ServerProcess(database_url=backend_url) as proc:
        first = server_pid(proc)
        send_poison(proc.port)
        # The very next request is not refused: it waits in the backlog of the socket the
        # supervisor holds, and the new server answers it.
        started = time.monotonic()
        response = httpx.get(f"{proc.url}/ok", timeout=5)
        elapsed = time.monotonic() - started
        assert response.status_code == 200
        assert elapsed < 2.0
        second = wait_for_new_server(proc, first)
        assert not pid_alive(first)
        # The old server really died of the poison (so the test exercised a restart).
        assert "Failed to read chunk from payload" in proc.output()
        assert "Server process died (killed by SIGABRT)" in proc.output()
        # Again, to show the supervisor keeps doing it.
        send_poison(proc.port)
        assert httpx.get(f"{proc.url}/ok", timeout=5).status_code == 200
        wait_for_new_server(proc, second)
        assert httpx.post(f"{proc.url}/threads", json={}, timeout=5).status_code == 200


@pytest.mark.postgres
async def test_runs_executing_when_the_server_dies_finish_after_the_restart(database_factory):
    with ServerProcess(database_url=database_factory()) as proc:
        client = get_client(url=proc.url, api_key=None)
        thread = await client.threads.create()
        run = await client.runs.create(
            thread["thread_id"], "slow", input=HI, config={"configurable": {"delay": 2}}
        )
        deadline = time.monotonic() + 10
        while (await client.runs.get(thread["thread_id"], run["run_id"]))["status"] != "running":
            assert time.monotonic() < deadline, "the run never started"
            await asyncio.sleep(0.05)
        old = server_pid(proc)
        send_poison(proc.port)
        wait_for_new_server(proc, old)
        joined = await asyncio.wait_for(client.runs.join(thread["thread_id"], run["run_id"]), 30)
        assert joined["messages"][-1]["content"] == "slept 2s"
        finished = await client.runs.get(thread["thread_id"], run["run_id"])
        assert finished["status"] == "success"
        assert (await client.threads.get(thread["thread_id"]))["status"] == "idle"
        assert "Recovered runs from a previous process: 1 re-queued" in proc.output()


def test_killing_the_supervisor_takes_the_server_with_it():
    proc = ServerProcess().start()
    try:
        child = server_pid(proc)
        proc.kill()  # SIGKILL: the supervisor cannot forward anything
        deadline = time.monotonic() + 5
        while pid_alive(child):
            assert time.monotonic() < deadline, "the server outlived its supervisor"
            time.sleep(0.02)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{proc.url}/ok", timeout=2)
    finally:
        proc.kill()


def test_sigterm_to_the_supervisor_stops_the_server_cleanly_without_a_restart():
    proc = ServerProcess(env={"LOG_LEVEL": "INFO"}).start()
    child = server_pid(proc)
    assert proc.stop(signal.SIGTERM, timeout=15) == 0
    assert not pid_alive(child)
    output = proc.output()
    assert "Shut down: persistence closed" in output
    assert "Server process died" not in output


def _time_wait_sockets(port: int) -> int:
    out = subprocess.run(
        ["ss", "-Htan", "state", "time-wait", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return len([line for line in out.splitlines() if line.strip()])


def test_a_restart_on_the_same_port_is_not_refused_for_time_wait_connections():
    """After a shutdown the server's side of its closed connections sits in TIME_WAIT
    for a minute; that must not make the port look taken."""
    first = ServerProcess().start()
    port = first.port
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"200 OK" in sock.recv(4096)
        assert first.stop(signal.SIGTERM, timeout=15) == 0
        # The server closed first; our side answers its FIN.
        sock.recv(4096)
    deadline = time.monotonic() + 5
    while _time_wait_sockets(port) == 0:
        assert time.monotonic() < deadline, "no TIME_WAIT connection: the test proves nothing"
        time.sleep(0.05)

    second = ServerProcess(port=port).start(timeout=30)
    try:
        assert _time_wait_sockets(port) > 0  # still there while the new server serves
        assert httpx.get(f"{second.url}/ok", timeout=5).status_code == 200
    finally:
        second.stop()

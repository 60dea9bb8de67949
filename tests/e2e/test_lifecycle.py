"""Starting, refusing to start, and stopping the real server process."""

from __future__ import annotations

import signal
import socket
import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import psycopg
import pytest
from langgraph_sdk import get_client

from tests.support.graphs import AGENT_ASSISTANT_ID, HELLO_STEPS
from tests.support.paths import BAD_CONFIGS, FIXTURES
from tests.support.postgres import admin_url
from tests.support.server import ServerProcess, checkpoint_counts

# config file -> what its error message must name
BAD_CONFIG_CASES = {
    "missing_file": "does_not_exist.py",
    "missing_variable": "'nope'",
    "missing_module": "no_such_package_xyz",
    "invalid_json": "invalid_json.json",
    "missing_env_file": ".env.missing",
    "no_graphs": "graphs",
    "not_a_graph": "value",
    "broken_module": "broken_module.py",
    "invalid_graph_spec": "'agent'",
    "no_graph_in_module": "no_graphs_module.py",
    "bad_embed": "not_a_graph.py:value",
}


def lines_without_route_noise(output: str) -> str:
    return "\n".join(line for line in output.splitlines() if "Added route" not in line)


# -- stopping -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "backend", ["memory", pytest.param("postgres", marks=pytest.mark.postgres)]
)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_cleanly(backend, sig, request):
    database_url = None
    if backend == "postgres":
        database_url = request.getfixturevalue("database_factory")()
    proc = ServerProcess(database_url=database_url, env={"LOG_LEVEL": "INFO"})
    proc.start()
    # Some traffic first, so shutdown has a used pool to close.
    assert httpx.post(f"{proc.url}/threads", json={}).status_code == 200

    started = time.monotonic()
    code = proc.stop(sig, timeout=15)
    elapsed = time.monotonic() - started
    output = proc.output()
    assert code == 0, lines_without_route_noise(output)
    assert elapsed < 10
    assert "Shut down: persistence closed" in output
    assert "panicked" not in output
    assert "Traceback" not in output
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{proc.url}/ok", timeout=2)


def test_repeated_sigterm_still_exits_cleanly():
    """SIGTERM may arrive more than once (a process-group kill plus `uv run` forwarding,
    or an impatient supervisor); the process must still shut down cleanly. The race is
    narrow, so it is tried a few times."""
    for _ in range(3):
        proc = ServerProcess(env={"LOG_LEVEL": "INFO"})
        proc.start()
        assert proc.proc is not None
        # An impatient supervisor: SIGTERM again and again until the process is gone.
        deadline = time.monotonic() + 10
        while proc.proc.poll() is None and time.monotonic() < deadline:
            try:
                proc.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                break
            time.sleep(0.0005)
        code = proc.wait_exit(15)
        assert code == 0, lines_without_route_noise(proc.output())
        assert "panicked" not in proc.output()


# -- refusing to start --------------------------------------------------------------------


def test_port_in_use_fails_fast_and_clearly():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = ServerProcess(port=port)
        started = time.monotonic()
        code = proc.run_to_exit(timeout=30)
        assert code != 0
        assert time.monotonic() - started < 30
        output = proc.output()
        assert "already in use" in output
        assert str(port) in output


def test_unreachable_database_fails_naming_host_and_port():
    proc = ServerProcess(database_url="postgresql://postgres:s3cret@127.0.0.1:1/app")
    started = time.monotonic()
    code = proc.run_to_exit(timeout=30)
    assert code != 0
    assert time.monotonic() - started < 30
    output = proc.output()
    assert "127.0.0.1:1" in output
    assert "s3cret" not in output
    assert "panicked" not in output


def test_silent_database_times_out_within_the_probe_timeout():
    """A port that accepts TCP but never speaks Postgres must not hang start-up."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        port = sock.getsockname()[1]
        proc = ServerProcess(
            database_url=f"postgresql://postgres@127.0.0.1:{port}/app",
            env={"DATABASE_PROBE_TIMEOUT": "2"},
        )
        started = time.monotonic()
        code = proc.run_to_exit(timeout=40)
        elapsed = time.monotonic() - started
    assert code != 0
    assert elapsed < 30
    assert f"127.0.0.1:{port}" in proc.output()


def test_unreachable_database_with_fallback_runs_in_memory():
    proc = ServerProcess(
        database_url="postgresql://postgres:s3cret@127.0.0.1:1/app",
        env={"DATABASE_FALLBACK_TO_MEMORY": "true"},
    )
    proc.start()
    try:
        health = httpx.get(f"{proc.url}/health").json()
        assert health["persistence"] == "in-memory (fallback)"
        assert "warning" in health
        assert "s3cret" not in str(health)
        # It really serves.
        created = httpx.post(f"{proc.url}/threads", json={"metadata": {"a": 1}}).json()
        got = httpx.get(f"{proc.url}/threads/{created['thread_id']}")
        assert got.json()["metadata"] == {"a": 1}
    finally:
        proc.stop()
    assert "127.0.0.1:1" in proc.output()
    assert "s3cret" not in proc.output()


@pytest.fixture(scope="module")
def bad_config_runs() -> Iterator[dict[str, tuple[int, str]]]:
    """Every bad config, started at once (each start pays for importing LangGraph)."""
    procs = {
        name: ServerProcess(config=BAD_CONFIGS / f"{name}.json").spawn()
        for name in BAD_CONFIG_CASES
    }
    results: dict[str, tuple[int, str]] = {}
    try:
        for name, proc in procs.items():
            results[name] = (proc.wait_exit(timeout=60), proc.output())
        yield results
    finally:
        for proc in procs.values():
            proc.kill()


@pytest.mark.parametrize("name", list(BAD_CONFIG_CASES))
def test_bad_config_exits_naming_the_problem(bad_config_runs, name):
    code, output = bad_config_runs[name]
    assert code != 0, output
    assert BAD_CONFIG_CASES[name] in output, output
    assert "panicked" not in output


def test_missing_config_file_is_named():
    missing = FIXTURES / "no_such_langgraph.json"
    proc = ServerProcess(config=missing)
    assert proc.run_to_exit(timeout=30) != 0
    assert "no_such_langgraph.json" in proc.output()


def test_invalid_settings_are_refused():
    proc = ServerProcess(env={"HTTP_MAX_REQUEST_BODY_BYTES": "lots"})
    assert proc.run_to_exit(timeout=30) != 0
    assert "HTTP_MAX_REQUEST_BODY_BYTES" in proc.output()


# -- command line -------------------------------------------------------------------------


def test_workers_and_log_level_flags_are_ours():
    """Robyn parses sys.argv on import; our flags must reach us and work."""
    proc = ServerProcess(
        env={"LOG_LEVEL": "DEBUG"}, extra_args=["--workers", "2", "--log-level", "WARNING"]
    )
    proc.start()
    try:
        # Several workers still share one store: every read sees every write.
        for _ in range(10):
            created = httpx.post(f"{proc.url}/threads", json={}).json()
            for _ in range(3):
                got = httpx.get(f"{proc.url}/threads/{created['thread_id']}")
                assert got.status_code == 200
    finally:
        proc.stop()
    output = proc.output()
    # --log-level WARNING beat LOG_LEVEL=DEBUG: no INFO lines of ours.
    assert "INFO robyn_server" not in output
    assert "unrecognized arguments" not in output


def test_log_level_flag_enables_info():
    proc = ServerProcess(extra_args=["--log-level", "info"])
    proc.start()
    proc.stop()
    assert "Ready: persistence=in-memory" in proc.output()


def test_unknown_flag_is_rejected():
    proc = ServerProcess(extra_args=["--no-such-flag"])
    assert proc.run_to_exit(timeout=30) != 0
    assert "--no-such-flag" in proc.output()


async def test_default_config_serves_the_tools_agent():
    proc = ServerProcess(config=None)
    proc.start()
    try:
        client = get_client(url=proc.url, api_key=None)
        agent = await client.assistants.get(AGENT_ASSISTANT_ID)
        assert agent["graph_id"] == "agent"
        assert [a["graph_id"] for a in await client.assistants.search(limit=100)] == ["agent"]
        graph = await client.assistants.get_graph("agent")
        assert graph["nodes"]
    finally:
        proc.stop()


# -- persistence across restarts ----------------------------------------------------------


@pytest.mark.postgres
async def test_postgres_data_survives_restart(database_factory: Callable[[], str]):
    database_url = database_factory()
    first = ServerProcess(database_url=database_url)
    first.start()
    try:
        client = get_client(url=first.url, api_key=None)
        assistant = await client.assistants.create(
            "agent",
            context={"model": "fake"},
            metadata={"owner": "me"},
            name="v1",
            assistant_id=str(uuid.uuid4()),
        )
        await client.assistants.update(assistant["assistant_id"], name="v2", metadata={"n": 2})
        await client.assistants.update(assistant["assistant_id"], name="v3")
        await client.assistants.set_latest(assistant["assistant_id"], 2)
        thread = await client.threads.create(
            graph_id="agent",
            metadata={"owner": "me"},
            ttl=60,
            supersteps=HELLO_STEPS,
        )
        plain = await client.threads.create(metadata={"owner": "me", "plain": True})
        await client.threads.update(plain["thread_id"], metadata={"touched": 1})
        await client.store.put_item(["users", "u1"], "prefs", {"theme": "dark"})
        await client.store.put_item(["users", "u2", "notes"], "n1", {"text": "x"})

        before = {
            "assistant": await client.assistants.get(assistant["assistant_id"]),
            "versions": await client.assistants.get_versions(assistant["assistant_id"]),
            "assistants": await client.assistants.search(limit=100, sort_by="assistant_id"),
            "thread": await client.threads.get(thread["thread_id"], include=["ttl"]),
            "plain": await client.threads.get(plain["thread_id"]),
            "threads": await client.threads.search(limit=100, sort_by="thread_id"),
            "item": await client.store.get_item(["users", "u1"], "prefs"),
            "items": await client.store.search_items(["users"]),
            "namespaces": await client.store.list_namespaces(),
        }
    finally:
        assert first.stop() == 0

    second = ServerProcess(database_url=database_url)
    second.start()
    try:
        client = get_client(url=second.url, api_key=None)
        after = {
            "assistant": await client.assistants.get(assistant["assistant_id"]),
            "versions": await client.assistants.get_versions(assistant["assistant_id"]),
            "assistants": await client.assistants.search(limit=100, sort_by="assistant_id"),
            "thread": await client.threads.get(thread["thread_id"], include=["ttl"]),
            "plain": await client.threads.get(plain["thread_id"]),
            "threads": await client.threads.search(limit=100, sort_by="thread_id"),
            "item": await client.store.get_item(["users", "u1"], "prefs"),
            "items": await client.store.search_items(["users"]),
            "namespaces": await client.store.list_namespaces(),
        }
        for key in before:
            assert after[key] == before[key], key
        assert after["assistant"]["version"] == 2
        assert after["thread"]["values"]["count"] == 1
        # System assistants are not duplicated by the second start-up.
        system = await client.assistants.search(metadata={"created_by": "system"}, limit=100)
        assert len(system) == len({a["graph_id"] for a in system})

        # Checkpoints survived too: a copy made now carries the same state.
        assert (await checkpoint_counts(second, thread["thread_id"]))[""] >= 2
        copy = await client.threads.copy(thread["thread_id"])
        assert copy["values"] == before["thread"]["values"]
        # And the restarted server keeps writing normally.
        v3 = await client.assistants.update(assistant["assistant_id"], name="v4")
        assert v3["version"] == 4
    finally:
        assert second.stop() == 0


def test_restart_on_the_same_port_in_memory():
    """The port is free again right after a stop; in memory the new process starts empty
    but brings back the system assistants."""
    first = ServerProcess()
    first.start()
    created = httpx.post(f"{first.url}/threads", json={}).json()
    first.stop()
    second = ServerProcess(port=first.port)
    second.start()
    try:
        assert httpx.get(f"{second.url}/threads/{created['thread_id']}").status_code == 404
        assert httpx.get(f"{second.url}/assistants/{AGENT_ASSISTANT_ID}").status_code == 200
    finally:
        second.stop()


@pytest.mark.postgres
def test_losing_the_database_while_serving_is_503_not_500(database_factory):
    """When Postgres goes away under a running server, clients get a retryable 503 and
    /health says so; the server itself stays up."""
    url = database_factory()
    dbname = url.rsplit("/", 1)[1]
    with ServerProcess(database_url=url, env={"DATABASE_POOL_TIMEOUT": "2"}) as proc:
        assert httpx.post(f"{proc.url}/threads", json={}).status_code == 200
        with psycopg.connect(admin_url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{dbname}" WITH (FORCE)')
        for _ in range(3):  # every pooled connection is broken, not just the first
            response = httpx.post(f"{proc.url}/threads/search", json={}, timeout=30)
            assert response.status_code == 503, response.text
            assert "Database unavailable" in response.json()["detail"]
        health = httpx.get(f"{proc.url}/health", timeout=30)
        assert health.status_code == 503
        assert health.json()["database"] == "unreachable"
        assert httpx.get(f"{proc.url}/ok").json()["ok"] is True

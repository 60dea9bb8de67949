"""End-to-end fixtures: one real server per backend, shared by the whole session.

Tests share each server, so every test tags what it creates with its own `tag` (a
unique metadata value / namespace label) and filters on it instead of assuming the
database is empty.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest
from langgraph_sdk import get_client

from tests.e2e.server import ServerProcess

AGENT_ASSISTANT_ID = "fe096781-5601-53d2-b2f6-0d3403f7e9ca"
SERVER_LOG_TAIL = 4000
FIXTURE_GRAPHS = [
    "agent",
    "parent",
    "factory",
    "afactory",
    "stategraph",
    "hitl",
    "errgraph",
    "slow",
    "stream_tools",
    "stream_loop",
    "stream_nested",
    "stream_approvals",
    "stream_config",
    "stream_subhitl",
    "echo_config",
    "echo_dataclass",
]


# The pattern the SDK documents for seeding a thread: input, __start__, then a node.
HELLO_STEPS = [
    {"updates": [{"values": {}, "as_node": "__input__"}]},
    {
        "updates": [
            {"values": {"messages": [{"role": "user", "content": "hi"}]}, "as_node": "__start__"}
        ]
    },
    {
        "updates": [
            {
                "values": {"messages": [{"role": "assistant", "content": "hello"}], "count": 1},
                "as_node": "chat",
            }
        ]
    },
]


async def checkpoint_counts(server: ServerProcess, thread_id: str) -> dict[str, int] | None:
    """Checkpoints per namespace of a thread, read from Postgres (None in memory mode)."""
    url = server.env.get("DATABASE_URL")
    if not url:
        return None
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(
            "SELECT checkpoint_ns, count(*) FROM checkpoints WHERE thread_id = %s "
            "GROUP BY checkpoint_ns",
            (thread_id,),
        )
        return {ns: n for ns, n in await cur.fetchall()}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Attach the tail of the server's log to a failing test's report."""
    report = yield
    server = getattr(item, "funcargs", {}).get("server")
    if report.failed and isinstance(server, ServerProcess):
        tail = server.output()[-SERVER_LOG_TAIL:]
        report.sections.append((f"server log ({server.url})", tail))
    return report


BACKENDS = ["memory", pytest.param("postgres", marks=pytest.mark.postgres)]


def serve_backend(request: pytest.FixtureRequest, **options: Any) -> Iterator[ServerProcess]:
    """Run a server on the backend named by `request.param` for a fixture's lifetime;
    Postgres servers get a throwaway database of their own."""
    database_url = None
    if request.param == "postgres":
        factory: Callable[[], str] = request.getfixturevalue("database_factory")
        database_url = factory()
    proc = ServerProcess(database_url=database_url, **options)
    proc.backend = request.param  # type: ignore[attr-defined]
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="session", params=BACKENDS)
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    yield from serve_backend(request)


@pytest.fixture
def backend(server: ServerProcess) -> str:
    return server.backend  # type: ignore[attr-defined]


@pytest.fixture
def client(server: ServerProcess):
    return get_client(url=server.url, api_key=None)


@pytest.fixture
async def http(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client, for what the SDK cannot send (bad bodies, raw headers)."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30.0) as session:
        yield session


@pytest.fixture
def tag() -> str:
    """A value unique to this test, to find only what the test itself created."""
    return f"t{uuid.uuid4().hex[:12]}"

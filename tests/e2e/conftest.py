"""End-to-end fixtures: one real server per backend, shared by the whole session.

Tests share each server, so every test tags what it creates with its own `tag` (a
unique metadata value / namespace label) and filters on it instead of assuming the
database is empty.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from langgraph_sdk import get_client

from tests.support.auth import AUTH_CONFIG, AliceWorld, build_world, tear_down
from tests.support.server import BACKENDS, E2E_SERVER_PROCESSES, ServerProcess, serve_backend

SERVER_LOG_TAIL = 4000


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Attach the tail of the server's log to a failing test's report."""
    report = yield
    for name in ("server", "auth_server"):
        server = getattr(item, "funcargs", {}).get(name)
        if report.failed and isinstance(server, ServerProcess):
            tail = server.output()[-SERVER_LOG_TAIL:]
            report.sections.append((f"server log ({server.url})", tail))
    return report


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With E2E_SERVER_PROCESSES > 1, only the tests served by a shared Postgres server
    (a fixture parametrized with the `postgres` backend) run, all of them: the others
    start servers of their own, which the option does not change. Tests of what is
    per process (the open-stream cap) scale it by `ServerProcess.processes`."""
    if E2E_SERVER_PROCESSES <= 1:
        return
    kept, dropped = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        (kept if "postgres" in params.values() else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session", params=BACKENDS)
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    yield from serve_backend(request)


@pytest.fixture(scope="session", params=BACKENDS)
def auth_server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """A server with custom auth (tests/fixtures/langgraph_auth.json), per backend."""
    yield from serve_backend(request, config=AUTH_CONFIG)


@pytest.fixture(scope="session")
async def alice_world(auth_server: ServerProcess) -> AsyncIterator[AliceWorld]:
    """One of each resource user A (Alice) can own on `auth_server`."""
    world = await build_world(auth_server.url)
    yield world
    await tear_down(auth_server.url, world)


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

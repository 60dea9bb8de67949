"""Store item TTLs over HTTP, on every backend.

Per-item TTLs need no configuration, so they run on the shared servers; the store.ttl
defaults (default TTL, refresh_on_read, sweep interval) get a server of their own.
TTLs are about a second: 0.02 minutes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from langgraph_sdk import get_client

from tests.support.paths import FIXTURES
from tests.support.server import BACKENDS, ServerProcess, serve_backend

TTL = 0.02
SECONDS = TTL * 60
TTL_CONFIG = FIXTURES / "langgraph_store_ttl.json"


async def keys(client, tag: str, **kw) -> list[str]:
    return sorted(i["key"] for i in (await client.store.search_items([tag], **kw))["items"])


async def test_item_disappears_at_its_ttl(client, http, tag):
    await client.store.put_item([tag, "short"], "k", {"v": 1}, ttl=TTL)
    await client.store.put_item([tag], "forever", {"v": 2})
    assert (await client.store.get_item([tag, "short"], "k", refresh_ttl=False))["value"]

    await asyncio.sleep(SECONDS + 0.3)
    assert await client.store.get_item([tag, "short"], "k") is None
    raw = await http.get("/store/items", params={"namespace": f"{tag}.short", "key": "k"})
    assert raw.status_code == 200 and raw.json() is None
    assert await keys(client, tag, refresh_ttl=True) == ["forever"]
    listed = await client.store.list_namespaces(prefix=[tag])
    assert listed["namespaces"] == [[tag]]


@pytest.mark.parametrize("how", ["get", "search"])
async def test_refresh_ttl_restarts_the_clock(client, http, tag, how):
    await client.store.put_item([tag], "kept", {"v": 1}, ttl=TTL)
    await client.store.put_item([tag], "lapsed", {"v": 2}, ttl=TTL)
    await asyncio.sleep(SECONDS * 2 / 3)
    if how == "get":
        # The raw query string, as other clients send it.
        for key, refresh in (("kept", "true"), ("lapsed", "false")):
            resp = await http.get(
                "/store/items", params={"namespace": tag, "key": key, "refresh_ttl": refresh}
            )
            assert resp.json()["key"] == key
    else:
        assert await keys(client, tag, filter={"v": 1}, refresh_ttl=True) == ["kept"]
        assert await keys(client, tag, filter={"v": 2}, refresh_ttl=False) == ["lapsed"]
    await asyncio.sleep(SECONDS * 2 / 3)
    assert await keys(client, tag, refresh_ttl=False) == ["kept"]
    await asyncio.sleep(SECONDS / 3 + 0.3)
    assert await keys(client, tag, refresh_ttl=False) == []


async def test_a_put_without_ttl_clears_it(client, tag):
    await client.store.put_item([tag], "k", {"v": 1}, ttl=TTL)
    await client.store.put_item([tag], "k", {"v": 2})
    await asyncio.sleep(SECONDS + 0.3)
    assert (await client.store.get_item([tag], "k"))["value"] == {"v": 2}


@pytest.mark.parametrize("ttl", [0, -5, "10", True, 1e-9, 1e12, [1]])
async def test_bad_ttl_is_422(http, client, tag, ttl):
    resp = await http.put(
        "/store/items", json={"namespace": [tag], "key": "k", "value": {"v": 1}, "ttl": ttl}
    )
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"]
    assert await keys(client, tag) == []


async def test_null_and_integer_ttls_are_accepted(http, client, tag):
    for key, ttl in (("none", None), ("int", 60), ("float", 0.5)):
        resp = await http.put(
            "/store/items", json={"namespace": [tag], "key": key, "value": {}, "ttl": ttl}
        )
        assert resp.status_code == 204, resp.text
    assert await keys(client, tag) == ["float", "int", "none"]


# -- store.ttl from langgraph.json: default 1.2 s TTL, no refresh on read, 0.3 s sweeps --


@pytest.fixture(scope="module", params=BACKENDS)
def ttl_server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    yield from serve_backend(request, config=TTL_CONFIG)


@pytest.fixture
def ttl_client(ttl_server: ServerProcess):
    return get_client(url=ttl_server.url, api_key=None)


async def test_default_ttl_applies_unless_the_put_overrides_it(ttl_client, ttl_server, tag):
    client = ttl_client
    await client.store.put_item([tag], "defaulted", {"v": 1})
    await client.store.put_item([tag], "longer", {"v": 2}, ttl=10)
    # The SDK leaves ttl=None out (so the default applies); an explicit null says "never".
    async with httpx.AsyncClient(base_url=ttl_server.url) as http:
        body = {"namespace": [tag], "key": "never", "value": {}, "ttl": None}
        assert (await http.put("/store/items", json=body)).status_code == 204
    await asyncio.sleep(SECONDS + 0.3)
    assert await keys(client, tag) == ["longer", "never"]


async def test_reads_do_not_refresh_when_configured_off(ttl_client, tag):
    client = ttl_client
    await client.store.put_item([tag], "plain", {"v": 1}, ttl=TTL)
    await client.store.put_item([tag], "asked", {"v": 2}, ttl=TTL)
    await asyncio.sleep(SECONDS * 2 / 3)
    assert await client.store.get_item([tag], "plain")  # store default: no refresh
    assert await keys(client, tag, filter={"v": 1}) == ["plain"]
    assert await client.store.get_item([tag], "asked", refresh_ttl=True)
    await asyncio.sleep(SECONDS * 2 / 3)
    assert await keys(client, tag) == ["asked"]


# Only Postgres lets a test see expired rows that nobody reads (tests/unit covers the
# in-memory sweeper), so this test runs on the Postgres server only.
@pytest.mark.parametrize(
    "ttl_server", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_sweeper_deletes_expired_rows(ttl_client, ttl_server, tag):
    url = ttl_server.env["DATABASE_URL"]
    await ttl_client.store.put_item([tag], "k", {"v": 1}, ttl=0.002)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        count = "SELECT count(*) FROM store WHERE prefix = %s"
        assert (await (await conn.execute(count, (tag,))).fetchone())[0] == 1
        # No reads in between: only the sweeper can delete the row.
        await asyncio.sleep(1.5)
        assert (await (await conn.execute(count, (tag,))).fetchone())[0] == 0

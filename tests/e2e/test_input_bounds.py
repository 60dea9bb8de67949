"""Numbers beyond what the storage or the clock can hold are a 422 at the edge, never a
500 deeper down: PostgreSQL's LIMIT/OFFSET are bigints, and dates end in year 9999."""

from __future__ import annotations

import httpx
import pytest

BIGINT_MAX = 2**63 - 1
TOO_BIG = 2**63


@pytest.fixture
async def thread_id(http: httpx.AsyncClient, tag: str) -> str:
    resp = await http.post("/threads", json={"metadata": {"tag": tag}})
    assert resp.status_code == 200
    return resp.json()["thread_id"]


def assert_422_naming(resp: httpx.Response, field: str) -> None:
    assert resp.status_code == 422, (resp.status_code, resp.text)
    assert field in resp.json()["detail"]


# (method, path, where the number goes, its name, the largest value that is accepted)
PAGED = [
    ("POST", "/threads/search", "body", "offset", BIGINT_MAX),
    ("POST", "/assistants/search", "body", "offset", BIGINT_MAX),
    ("POST", "/assistants/{assistant}/versions", "body", "offset", BIGINT_MAX),
    ("POST", "/store/items/search", "body", "offset", BIGINT_MAX),
    ("POST", "/store/namespaces", "body", "offset", BIGINT_MAX),
    ("POST", "/threads/{thread}/history", "body", "limit", 1000),
    ("GET", "/threads/{thread}/history", "query", "limit", BIGINT_MAX),
    ("GET", "/threads/{thread}/runs", "query", "limit", BIGINT_MAX),
    ("GET", "/threads/{thread}/runs", "query", "offset", BIGINT_MAX),
]


async def _page(http, thread_id, method, path, where, name, value) -> httpx.Response:
    assistants = await http.post("/assistants/search", json={"graph_id": "agent", "limit": 1})
    url = path.format(thread=thread_id, assistant=assistants.json()[0]["assistant_id"])
    if where == "body":
        return await http.request(method, url, json={name: value})
    return await http.request(method, url, params={name: str(value)})


@pytest.mark.parametrize(("method", "path", "where", "name", "largest"), PAGED)
async def test_paging_bounds(http, thread_id, method, path, where, name, largest):
    # The largest accepted value reaches the database and is answered, even there...
    resp = await _page(http, thread_id, method, path, where, name, largest)
    assert resp.status_code == 200, resp.text
    assert isinstance(resp.json(), list | dict)
    # ...and anything larger is refused before it gets there.
    for value in (largest + 1, TOO_BIG, 10**30):
        resp = await _page(http, thread_id, method, path, where, name, value)
        assert_422_naming(resp, name)


async def test_integral_floats_count_as_integers(http, thread_id, tag):
    # JSON has one number type; the reference (and JSON Schema) accept 2.0 as an integer.
    await http.post("/threads", json={"metadata": {"tag": tag}})
    resp = await http.post("/threads/search", json={"metadata": {"tag": tag}, "limit": 1.0})
    assert resp.status_code == 200
    assert len(resp.json()) == 1
    assert_422_naming(await http.post("/threads/search", json={"limit": 1.5}), "limit")


@pytest.mark.parametrize(
    ("path", "after"),
    [
        ("/runs", 3e11),
        ("/runs", 1e300),
        ("/runs/wait", 3e11),
        ("/runs/wait", 1e300),
        ("/threads/{thread}/runs", 3e11),
        # Just past the documented century: still a date, but refused like the rest.
        # (Not on /wait, which would wait for it where it is accepted.)
        ("/threads/{thread}/runs", 3.2e9),
    ],
)
async def test_after_seconds_past_the_calendar_is_422(http, thread_id, path, after):
    body = {"assistant_id": "agent", "after_seconds": after, "on_completion": "keep"}
    resp = await http.post(path.format(thread=thread_id), json=body)
    assert_422_naming(resp, "after_seconds")
    runs = await http.get(f"/threads/{thread_id}/runs")
    assert runs.json() == []


CENTURY_MINUTES = 100 * 365.25 * 24 * 60


async def test_thread_ttl_past_the_calendar_is_422(http, tag, thread_id):
    # A century, the ceiling store items share: its expiry is still a date...
    resp = await http.patch(f"/threads/{thread_id}", json={"ttl": CENTURY_MINUTES})
    assert resp.status_code == 200
    got = await http.get(f"/threads/{thread_id}", params={"include": "ttl"})
    assert got.status_code == 200
    assert got.json()["ttl"]["expires_at"] > got.json()["updated_at"]
    # ...beyond it, reading the thread's expiry back was a 500 (and the sweeper choked).
    for ttl in (CENTURY_MINUTES * 2, 1e12, 1e300):
        assert_422_naming(
            await http.post("/threads", json={"metadata": {"tag": tag}, "ttl": ttl}), "ttl"
        )
        assert_422_naming(await http.patch(f"/threads/{thread_id}", json={"ttl": ttl}), "ttl")
    count = await http.post("/threads/count", json={"metadata": {"tag": tag}})
    assert count.json() == 1

"""Bad input: every case is a 4xx with a clear `detail`, and stored data stays untouched."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.graphs import AGENT_ASSISTANT_ID
from tests.support.server import ServerProcess

JSON_BODY_ROUTES = [
    ("POST", "/threads"),
    ("POST", "/threads/search"),
    ("POST", "/threads/count"),
    ("POST", "/assistants"),
    ("POST", "/assistants/search"),
    ("PUT", "/store/items"),
    ("POST", "/store/items/search"),
    ("POST", "/store/namespaces"),
]


def nested(depth: int, leaf: object = 1) -> object:
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def assert_client_error(resp: httpx.Response, status: int | None = None) -> str:
    if status is None:
        assert 400 <= resp.status_code < 500, (resp.status_code, resp.text)
    else:
        assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["content-type"].startswith("application/json")
    detail = resp.json()["detail"]
    assert isinstance(detail, str) and detail
    return detail


@pytest.fixture
async def thread(client, tag):
    return await client.threads.create(metadata={"tag": tag, "v": 1})


@pytest.mark.parametrize(("method", "path"), JSON_BODY_ROUTES)
async def test_malformed_json_is_422(http, method, path):
    resp = await http.request(
        method, path, content=b'{"metadata": {', headers={"content-type": "application/json"}
    )
    assert assert_client_error(resp, 422) == "Invalid JSON in request body"


async def test_malformed_json_changes_nothing(http, client, thread):
    resp = await http.patch(
        f"/threads/{thread['thread_id']}",
        content=b'{"metadata": {"v": 2}',
        headers={"content-type": "application/json"},
    )
    assert_client_error(resp, 422)
    assert await client.threads.get(thread["thread_id"]) == thread


@pytest.mark.parametrize(("method", "path"), JSON_BODY_ROUTES)
@pytest.mark.parametrize("body", [[1, 2], "text", 42, None])
async def test_non_object_body_is_422(http, method, path, body):
    resp = await http.request(method, path, json=body)
    if body is None:
        # `null` is a body with nothing in it; it must never be a 500.
        assert resp.status_code < 500
        return
    assert_client_error(resp, 422)


async def test_non_utf8_and_form_bodies_are_422(http, client, tag):
    for content, ctype in (
        (b"\xff\xfe\x00garbage", "application/json"),
        (b"metadata=1&tag=2", "application/x-www-form-urlencoded"),
    ):
        resp = await http.post("/threads", content=content, headers={"content-type": ctype})
        assert_client_error(resp, 422)
    assert await client.threads.count(metadata={"tag": tag}) == 0


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/threads/search", {"limit": "abc"}),
        ("/threads/search", {"limit": 0}),
        ("/threads/search", {"offset": -1}),
        ("/threads/search", {"metadata": "x"}),
        ("/threads/search", {"ids": "not-a-list"}),
        ("/threads/search", {"sort_by": "color"}),
        ("/threads/search", {"sort_order": "sideways"}),
        ("/threads/count", {"status": 3}),
        ("/assistants/search", {"limit": "abc"}),
        ("/assistants/search", {"limit": 1.5}),
        ("/assistants/search", {"sort_by": "nope"}),
        ("/assistants/count", {"metadata": []}),
        ("/store/items/search", {"limit": "abc"}),
        ("/store/items/search", {"namespace_prefix": "a"}),
        ("/store/namespaces", {"max_depth": "deep"}),
        ("/store/namespaces", {"prefix": "a"}),
    ],
)
async def test_wrong_types_are_422(http, path, body):
    detail = assert_client_error(await http.post(path, json=body), 422)
    assert next(iter(body)) in detail  # the message names the offending field


async def test_wrong_types_on_writes_change_nothing(http, client, tag, thread):
    thread_id = thread["thread_id"]
    for body in (
        {"metadata": "not an object"},
        {"metadata": {"v": 2}, "ttl": "forever"},
        {"metadata": {"v": 2}, "ttl": {"ttl": -5}},
    ):
        assert_client_error(await http.patch(f"/threads/{thread_id}", json=body), 422)
    assert await client.threads.get(thread_id) == thread

    for body in (
        {"metadata": {"tag": tag}, "thread_id": 12},
        {"metadata": {"tag": tag}, "if_exists": "replace"},
        {"metadata": {"tag": tag}, "ttl": {"ttl": "soon"}},
        {"metadata": {"tag": tag}, "ttl": {"ttl": 5, "strategy": "explode"}},
    ):
        assert_client_error(await http.post("/threads", json=body), 422)
    assert await client.threads.count(metadata={"tag": tag}) == 1


@pytest.fixture(scope="module")
def small_body_server() -> Iterator[ServerProcess]:
    proc = ServerProcess(env={"HTTP_MAX_REQUEST_BODY_BYTES": "4096"})
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


async def test_body_over_limit_is_413(small_body_server, tag):
    async with httpx.AsyncClient(base_url=small_body_server.url, timeout=30) as http:
        big = {"metadata": {"tag": tag, "blob": "x" * 8192}}
        resp = await http.post("/threads", json=big)
        assert_client_error(resp, 413)
        resp = await http.put(
            "/store/items", json={"namespace": [tag], "key": "k", "value": {"b": "x" * 8192}}
        )
        assert_client_error(resp, 413)
        # Far over the limit (1 MiB): still a clean 413, and the server keeps serving.
        huge = await http.post("/threads", content=b"[" + b"1," * 500_000 + b"1]")
        assert_client_error(huge, 413)

        count = await http.post("/threads/count", json={"metadata": {"tag": tag}})
        assert count.json() == 0
        assert (await http.get(f"/store/items?namespace={tag}&key=k")).json() is None

        # Just under the limit is fine.
        ok = await http.post("/threads", json={"metadata": {"tag": tag, "blob": "x" * 3000}})
        assert ok.status_code == 200


def nested_json(template: str, depth: int) -> bytes:
    """`template` with `DEEP` replaced by `depth` nested objects, built as text (the
    stdlib encoder httpx uses cannot encode that much nesting itself)."""
    deep = '{"a":' * depth + "1" + "}" * depth
    return template.replace("DEEP", deep).encode()


@pytest.mark.parametrize("depth", [300, 1000, 5000])
async def test_deeply_nested_body_is_4xx_and_stores_nothing(http, client, tag, depth):
    json_headers = {"content-type": "application/json"}
    for method, path, template in [
        ("POST", "/threads", '{"metadata": {"tag": "TAG", "deep": DEEP}}'),
        ("POST", "/assistants", '{"graph_id": "agent", "metadata": {"tag": "TAG", "deep": DEEP}}'),
        ("PUT", "/store/items", '{"namespace": ["TAG"], "key": "deep", "value": DEEP}'),
        ("POST", "/threads/search", '{"metadata": DEEP}'),
        ("POST", "/store/items/search", '{"namespace_prefix": ["TAG"], "filter": DEEP}'),
    ]:
        body = nested_json(template.replace("TAG", tag), depth)
        resp = await http.request(method, path, content=body, headers=json_headers)
        assert_client_error(resp)

    assert await client.threads.count(metadata={"tag": tag}) == 0
    assert await client.assistants.count(metadata={"tag": tag}) == 0
    assert await client.store.get_item([tag], "deep") is None
    # Reading everything back still works: nothing unreadable was stored.
    assert (await http.post("/threads/search", json={"limit": 1000})).status_code == 200
    assert (await http.post("/assistants/search", json={"limit": 1000})).status_code == 200
    assert (await http.post("/store/items/search", json={"limit": 1000})).status_code == 200


async def test_moderately_nested_body_is_accepted(client, tag):
    thread = await client.threads.create(metadata={"tag": tag, "deep": nested(50)})
    assert (await client.threads.get(thread["thread_id"]))["metadata"]["deep"] == nested(50)


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("POST", "/copy"),
    ],
)
@pytest.mark.parametrize("bad_id", ["not-a-uuid", "1234", "%20", "00000000-0000-0000-0000"])
async def test_invalid_thread_id_in_path_is_422(http, method, suffix, bad_id):
    resp = await http.request(method, f"/threads/{bad_id}{suffix}", json={})
    detail = assert_client_error(resp, 422)
    assert detail == "Invalid thread ID: must be a UUID"


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"name": "x"}),
        ("DELETE", "", None),
        ("POST", "/versions", {}),
        ("POST", "/latest", {"version": 1}),
        ("GET", "/schemas", None),
        ("GET", "/subgraphs", None),
    ],
)
async def test_invalid_assistant_id_in_path_is_422(http, method, suffix, body):
    resp = await http.request(method, f"/assistants/not-a-uuid{suffix}", json=body)
    assert assert_client_error(resp, 422) == "Invalid assistant ID: must be a UUID"


async def test_invalid_uuids_in_bodies_are_422(http, client, tag):
    resp = await http.post("/threads", json={"thread_id": "nope", "metadata": {"tag": tag}})
    assert "UUID" in assert_client_error(resp, 422)
    resp = await http.post("/threads/search", json={"ids": ["nope"]})
    assert "UUID" in assert_client_error(resp, 422)
    resp = await http.post(
        "/assistants", json={"graph_id": "agent", "assistant_id": "x", "metadata": {"tag": tag}}
    )
    assert "UUID" in assert_client_error(resp, 422)
    assert await client.threads.count(metadata={"tag": tag}) == 0
    assert await client.assistants.count(metadata={"tag": tag}) == 0


async def test_unknown_graph_ids(http, client, tag):
    resp = await http.post("/assistants", json={"graph_id": "ghost", "metadata": {"tag": tag}})
    assert "Graph 'ghost' not found" in assert_client_error(resp, 404)
    resp = await http.post("/assistants/search", json={"graph_id": "ghost"})
    assert_client_error(resp, 404)
    resp = await http.post("/assistants/count", json={"graph_id": "ghost"})
    assert_client_error(resp, 404)
    resp = await http.post(
        "/threads",
        json={
            "metadata": {"tag": tag, "graph_id": "ghost"},
            "supersteps": [{"updates": [{"values": {}, "as_node": "__input__"}]}],
        },
    )
    assert_client_error(resp, 404)
    resp = await http.get("/assistants/ghost/graph")
    assert_client_error(resp, 422)
    assert await client.assistants.count(metadata={"tag": tag}) == 0
    assert await client.threads.count(metadata={"tag": tag}) == 0


async def test_percent_encoded_ids_in_path(http, client, thread):
    thread_id = thread["thread_id"]
    encoded = thread_id.replace("-", "%2D")
    got = await http.get(f"/threads/{encoded}")
    assert got.status_code == 200
    assert got.json() == thread

    patched = await http.patch(f"/threads/{encoded}", json={"metadata": {"v": 2}})
    assert patched.status_code == 200
    assert patched.json()["thread_id"] == thread_id
    assert (await client.threads.get(thread_id))["metadata"]["v"] == 2

    upper = await http.get(f"/threads/{thread_id.upper()}")
    assert upper.status_code == 200
    assert upper.json()["thread_id"] == thread_id

    copied = await http.post(f"/threads/{encoded}/copy")
    assert copied.status_code == 200
    assert copied.json()["metadata"] == {**thread["metadata"], "v": 2}

    deleted = await http.delete(f"/threads/{encoded}")
    assert deleted.status_code == 204
    assert (await http.get(f"/threads/{thread_id}")).status_code == 404


async def test_percent_encoded_assistant_and_graph_ids(http):
    encoded = AGENT_ASSISTANT_ID.replace("-", "%2d")
    got = await http.get(f"/assistants/{encoded}")
    assert got.status_code == 200
    assert got.json()["assistant_id"] == AGENT_ASSISTANT_ID
    graph = await http.get("/assistants/p%61rent/graph")
    assert graph.status_code == 200
    assert "child" in {n["id"] for n in graph.json()["nodes"]}


async def test_missing_required_fields(http, client, tag):
    assert "graph_id" in assert_client_error(await http.post("/assistants", json={}), 422)
    assert "thread_ids" in assert_client_error(await http.post("/threads/prune", json={}), 422)
    assert "version" in assert_client_error(
        await http.post(f"/assistants/{AGENT_ASSISTANT_ID}/latest", json={}), 422
    )
    resp = await http.request("DELETE", "/store/items", json={"namespace": [tag]})
    assert "key" in assert_client_error(resp, 422)


async def test_empty_body_where_one_is_optional(http, tag):
    # The SDK posts /threads/{id}/copy with no body at all; creates may be empty too.
    created = await http.post("/threads")
    assert created.status_code == 200
    thread_id = created.json()["thread_id"]
    assert (await http.post(f"/threads/{thread_id}/copy")).status_code == 200
    assert (await http.post("/assistants/search")).status_code == 200
    await http.delete(f"/threads/{thread_id}")


async def test_set_latest_bad_version(http, client, tag):
    created = await client.assistants.create("agent", metadata={"tag": tag})
    url = f"/assistants/{created['assistant_id']}/latest"
    assert_client_error(await http.post(url, json={"version": 0}), 422)
    assert_client_error(await http.post(url, json={"version": "1"}), 422)
    assert_client_error(await http.post(url, json={"version": 5}), 404)
    assert await client.assistants.get(created["assistant_id"]) == created


async def test_missing_resources_are_404_not_500(http):
    missing = str(uuid.uuid4())
    for method, path, body in [
        ("GET", f"/assistants/{missing}/schemas", None),
        ("GET", f"/assistants/{missing}/subgraphs", None),
        ("GET", f"/assistants/{missing}/graph", None),
        ("POST", f"/assistants/{missing}/versions", {}),
        ("POST", f"/assistants/{missing}/latest", {"version": 1}),
        ("DELETE", f"/assistants/{missing}", None),
        ("PATCH", f"/threads/{missing}", {"metadata": {}}),
        ("DELETE", f"/threads/{missing}", None),
    ]:
        resp = await http.request(method, path, json=body)
        assert_client_error(resp, 404)
    assert_client_error(await http.post(f"/threads/{missing}/copy"), 409)


async def test_nul_characters_are_422_on_every_backend(http, client, tag, thread):
    """PostgreSQL cannot store NUL; both backends refuse it the same way."""
    for method, path, body in [
        ("POST", "/threads", {"metadata": {"tag": tag, "s": "a\u0000b"}}),
        ("POST", "/threads", {"metadata": {"tag": tag, "k\u0000": 1}}),
        ("POST", "/assistants", {"graph_id": "agent", "name": "x\u0000", "metadata": {"tag": tag}}),
        ("PATCH", f"/threads/{thread['thread_id']}", {"metadata": {"s": "\u0000"}}),
        ("PUT", "/store/items", {"namespace": [tag], "key": "k\u0000", "value": {"v": 1}}),
        ("PUT", "/store/items", {"namespace": [tag, "a\u0000"], "key": "k", "value": {}}),
        ("PUT", "/store/items", {"namespace": [tag], "key": "k", "value": {"v": "\u0000"}}),
        ("POST", "/threads/search", {"metadata": {"s": "\u0000"}}),
        ("POST", "/assistants/search", {"name": "\u0000"}),
    ]:
        resp = await http.request(method, path, json=body)
        assert "NUL" in assert_client_error(resp, 422), (method, path, body)
    resp = await http.get(f"/store/items?namespace={tag}&key=k%00")
    assert_client_error(resp, 422)

    assert await client.threads.count(metadata={"tag": tag}) == 1
    assert await client.threads.get(thread["thread_id"]) == thread
    assert await client.assistants.count(metadata={"tag": tag}) == 0
    assert (await client.store.search_items([tag]))["items"] == []
    # An escaped backslash followed by "u0000" is ordinary text, not a NUL.
    ok = await http.post("/threads", json={"metadata": {"tag": tag, "s": "\\u0000"}})
    assert ok.status_code == 200
    assert ok.json()["metadata"]["s"] == "\\u0000"


async def test_extreme_numbers_round_trip(http, client, tag):
    resp = await http.post(
        "/threads",
        content=(
            '{"metadata": {"tag": "TAG", "big": 1.5e300, "u64": 18446744073709551615, '
            '"neg": -9223372036854775808, "tiny": 5e-324}}'
        )
        .replace("TAG", tag)
        .encode(),
        headers={"content-type": "application/json"},
    )
    assert resp.status_code == 200
    thread_id = resp.json()["thread_id"]
    for got in (
        (await client.threads.get(thread_id))["metadata"],
        (await client.threads.search(metadata={"tag": tag}))[0]["metadata"],
    ):
        assert float(got["big"]) == 1.5e300
        assert got["u64"] == 18446744073709551615
        assert got["neg"] == -9223372036854775808
        assert float(got["tiny"]) == 5e-324

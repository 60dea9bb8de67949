"""The /store API through the real SDK and raw HTTP, on every backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langgraph_sdk import get_client

from tests.support.paths import FIXTURES
from tests.support.server import ServerProcess


async def test_put_get_round_trip(client, tag):
    await client.store.put_item([tag, "users", "u1"], "prefs", {"theme": "dark", "n": [1, 2]})
    item = await client.store.get_item([tag, "users", "u1"], "prefs")
    assert item["namespace"] == [tag, "users", "u1"]
    assert item["key"] == "prefs"
    assert item["value"] == {"theme": "dark", "n": [1, 2]}
    assert item["created_at"] and item["updated_at"]


async def test_put_replaces_value(client, tag):
    await client.store.put_item([tag], "k", {"v": 1, "old": True})
    first = await client.store.get_item([tag], "k")
    await client.store.put_item([tag], "k", {"v": 2})
    second = await client.store.get_item([tag], "k")
    assert second["value"] == {"v": 2}
    assert second["updated_at"] >= first["updated_at"]
    found = await client.store.search_items([tag])
    assert [i["value"] for i in found["items"]] == [{"v": 2}]


async def test_get_missing_is_null(client, http, tag):
    assert await client.store.get_item([tag], "nope") is None
    resp = await http.get("/store/items", params={"namespace": tag, "key": "nope"})
    assert resp.status_code == 200
    assert resp.json() is None


async def test_get_without_key_is_400(http, tag):
    resp = await http.get("/store/items", params={"namespace": tag})
    assert resp.status_code == 400
    assert "key" in resp.json()["detail"].lower()


async def test_delete(client, http, tag):
    await client.store.put_item([tag, "a"], "k", {"v": 1})
    await client.store.put_item([tag, "a"], "other", {"v": 2})
    await client.store.delete_item([tag, "a"], "k")
    assert await client.store.get_item([tag, "a"], "k") is None
    assert (await client.store.get_item([tag, "a"], "other"))["value"] == {"v": 2}

    # Deleting what is not there is not an error.
    resp = await http.request("DELETE", "/store/items", json={"namespace": [tag], "key": "zz"})
    assert resp.status_code == 204


async def test_search_by_namespace_prefix(client, tag):
    await client.store.put_item([tag, "a"], "k1", {"n": 1})
    await client.store.put_item([tag, "a", "deep"], "k2", {"n": 2})
    await client.store.put_item([tag, "b"], "k3", {"n": 3})

    under_a = await client.store.search_items([tag, "a"])
    assert sorted(i["key"] for i in under_a["items"]) == ["k1", "k2"]
    everything = await client.store.search_items([tag])
    assert sorted(i["key"] for i in everything["items"]) == ["k1", "k2", "k3"]
    assert all("score" in i for i in everything["items"])
    assert (await client.store.search_items([tag, "zzz"]))["items"] == []


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"kind": "fruit"}, {"apple", "pear"}),
        ({"score": 5}, {"pear"}),
        ({"score": {"$eq": 5}}, {"pear"}),
        ({"score": {"$ne": 5}}, {"apple", "kale"}),
        ({"score": {"$gt": 5}}, {"kale"}),
        ({"score": {"$gte": 5}}, {"pear", "kale"}),
        ({"score": {"$lt": 5}}, {"apple"}),
        ({"score": {"$lte": 5}}, {"apple", "pear"}),
        ({"score": {"$gt": 1, "$lt": 9}}, {"pear"}),
        ({"kind": "fruit", "score": {"$gt": 3}}, {"pear"}),
        ({"kind": "rock"}, set()),
    ],
)
async def test_search_filters(client, tag, flt, expected):
    await client.store.put_item([tag], "apple", {"kind": "fruit", "score": 1})
    await client.store.put_item([tag], "pear", {"kind": "fruit", "score": 5})
    await client.store.put_item([tag], "kale", {"kind": "veg", "score": 9})
    found = await client.store.search_items([tag], filter=flt)
    assert {i["key"] for i in found["items"]} == expected


async def test_search_unknown_operator_is_422(http, tag):
    resp = await http.post(
        "/store/items/search",
        json={"namespace_prefix": [tag], "filter": {"score": {"$regex": "x"}}},
    )
    assert resp.status_code == 422
    assert "$regex" in resp.json()["detail"]


async def test_search_limit_offset(client, tag):
    for i in range(5):
        await client.store.put_item([tag], f"k{i}", {"i": i})
    first = await client.store.search_items([tag], limit=2)
    second = await client.store.search_items([tag], limit=2, offset=2)
    third = await client.store.search_items([tag], limit=2, offset=4)
    keys = [i["key"] for page in (first, second, third) for i in page["items"]]
    assert [len(p["items"]) for p in (first, second, third)] == [2, 2, 1]
    assert sorted(keys) == [f"k{i}" for i in range(5)]


async def test_list_namespaces(client, tag):
    await client.store.put_item([tag, "users", "u1", "prefs"], "k", {"v": 1})
    await client.store.put_item([tag, "users", "u2", "prefs"], "k", {"v": 1})
    await client.store.put_item([tag, "users", "u2", "notes"], "k", {"v": 1})
    await client.store.put_item([tag, "teams", "t1"], "k", {"v": 1})

    def as_set(resp):
        return {tuple(ns) for ns in resp["namespaces"]}

    everything = await client.store.list_namespaces(prefix=[tag])
    assert as_set(everything) == {
        (tag, "users", "u1", "prefs"),
        (tag, "users", "u2", "prefs"),
        (tag, "users", "u2", "notes"),
        (tag, "teams", "t1"),
    }
    users = await client.store.list_namespaces(prefix=[tag, "users"])
    assert len(users["namespaces"]) == 3

    prefs = await client.store.list_namespaces(prefix=[tag], suffix=["prefs"])
    assert as_set(prefs) == {(tag, "users", "u1", "prefs"), (tag, "users", "u2", "prefs")}

    shallow = await client.store.list_namespaces(prefix=[tag], max_depth=2)
    assert as_set(shallow) == {(tag, "users"), (tag, "teams")}
    assert len(shallow["namespaces"]) == 2  # truncated namespaces are deduplicated

    wildcard = await client.store.list_namespaces(prefix=[tag, "*", "u2"])
    assert as_set(wildcard) == {(tag, "users", "u2", "prefs"), (tag, "users", "u2", "notes")}
    wild_suffix = await client.store.list_namespaces(prefix=[tag], suffix=["*", "notes"])
    assert as_set(wild_suffix) == {(tag, "users", "u2", "notes")}

    limited = await client.store.list_namespaces(prefix=[tag], limit=1)
    assert len(limited["namespaces"]) == 1
    rest = await client.store.list_namespaces(prefix=[tag], limit=10, offset=1)
    assert len(rest["namespaces"]) == 3


@pytest.mark.parametrize("namespace", [["a.b"], ["ok", ""], ["ok", "x.y"]])
async def test_bad_namespace_label_is_422(http, client, tag, namespace):
    resp = await http.put(
        "/store/items", json={"namespace": [tag, *namespace], "key": "k", "value": {"v": 1}}
    )
    assert resp.status_code == 422
    assert (await client.store.search_items([tag]))["items"] == []


async def test_put_bad_bodies_are_422(http, client, tag):
    for body in (
        {"namespace": [tag], "key": "k"},  # no value
        {"namespace": [tag], "key": "k", "value": "not an object"},
        {"namespace": tag, "key": "k", "value": {}},  # namespace must be a list
        {"namespace": [tag], "key": 5, "value": {}},
        {"namespace": [], "key": "k", "value": {}},
    ):
        resp = await http.put("/store/items", json=body)
        assert resp.status_code == 422, body
        assert resp.json()["detail"]
    assert (await client.store.search_items([tag]))["items"] == []


async def test_percent_encoded_query_values(client, http, tag):
    await client.store.put_item([tag, "a b"], "my key", {"v": "spaces"})
    await client.store.put_item([tag, "ünï"], "clé/1?&=", {"v": "reserved"})

    raw = await http.get(f"/store/items?namespace={tag}.a%20b&key=my%20key")
    assert raw.status_code == 200
    assert raw.json()["value"] == {"v": "spaces"}
    plus = await http.get(f"/store/items?namespace={tag}.a+b&key=my+key")
    assert plus.json()["value"] == {"v": "spaces"}

    encoded = await http.get("/store/items", params={"namespace": f"{tag}.ünï", "key": "clé/1?&="})
    assert encoded.json()["value"] == {"v": "reserved"}
    assert (await client.store.get_item([tag, "ünï"], "clé/1?&="))["value"] == {"v": "reserved"}
    # An encoded dot separates labels like a plain one.
    dotted = await http.get(f"/store/items?namespace={tag}%2Ea%20b&key=my%20key")
    assert dotted.json()["value"] == {"v": "spaces"}


# -- semantic search: a server with a store index (fake embeddings, in memory) ----------


@pytest.fixture(scope="module")
def indexed_server() -> Iterator[ServerProcess]:
    proc = ServerProcess(config=FIXTURES / "langgraph_store.json")
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


async def test_semantic_search_returns_scored_items(indexed_server, tag):
    client = get_client(url=indexed_server.url, api_key=None)
    texts = ["apples and pears", "rust compilers", "deep sea fish"]
    for i, text in enumerate(texts):
        await client.store.put_item([tag, "docs"], f"d{i}", {"text": text}, index=["text"])

    found = await client.store.search_items([tag], query="rust compilers", limit=3)
    items = found["items"]
    assert len(items) == 3
    scores = [i["score"] for i in items]
    assert all(isinstance(s, float) for s in scores)
    assert scores == sorted(scores, reverse=True)
    # The fake embeddings are a hash of the text: the identical text scores highest.
    assert items[0]["key"] == "d1"
    assert items[0]["score"] == pytest.approx(1.0, abs=1e-6)

    # Without a query, listing still works and carries no score.
    listed = await client.store.search_items([tag])
    assert {i["key"] for i in listed["items"]} == {"d0", "d1", "d2"}


async def test_query_without_index_is_ignored(client, tag):
    await client.store.put_item([tag], "k", {"text": "hello"})
    found = await client.store.search_items([tag], query="hello")
    assert [i["key"] for i in found["items"]] == ["k"]

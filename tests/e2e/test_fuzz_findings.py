"""Requests the schemathesis run (.ci/fuzz.py) found mishandled: each was a 500, or
accepted what the document forbids. Every one is a clear 4xx now."""

from __future__ import annotations

import httpx
import pytest


def assert_4xx(resp: httpx.Response, status: int, words: str) -> None:
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert words in resp.json()["detail"]


@pytest.mark.parametrize("field", ["prefix", "suffix"])
@pytest.mark.parametrize("labels", [[""], ["a", ""], ["a.b"]])
async def test_namespace_listing_with_bad_labels_is_422(http, tag, field, labels):
    namespace = [tag, f"{tag}-leaf"]
    await http.put("/store/items", json={"namespace": namespace, "key": "k", "value": {}})
    resp = await http.post("/store/namespaces", json={field: labels})
    assert_4xx(resp, 422, "non-empty string without periods")
    # Good labels still find it.
    good = namespace[:1] if field == "prefix" else namespace[1:]
    found = await http.post("/store/namespaces", json={field: good})
    assert namespace in found.json()["namespaces"]


async def test_reserved_root_namespace_is_400(http, tag):
    # LangGraph keeps "langgraph" for itself; the reference answers 400.
    resp = await http.put(
        "/store/items", json={"namespace": ["langgraph", tag], "key": "k", "value": {}}
    )
    assert_4xx(resp, 400, "langgraph")
    assert (
        await http.get("/store/items", params={"namespace": f"langgraph.{tag}", "key": "k"})
    ).json() is None


@pytest.mark.parametrize("body", [b" ", b"\n", b"\t \r\n"])
async def test_whitespace_body_is_not_json(http, tag, body):
    headers = {"content-type": "application/json"}
    resp = await http.post("/threads", content=body, headers=headers)
    assert_4xx(resp, 422, "Invalid JSON")
    # No body at all still means {} (the SDK sends some requests that way).
    assert (await http.post("/threads/count", json={"metadata": {"tag": tag}})).json() == 0
    assert (await http.post("/threads/search")).status_code == 200


async def test_join_checks_its_query_before_looking_for_the_run(http, tag):
    thread_id = (await http.post("/threads", json={"metadata": {"tag": tag}})).json()["thread_id"]
    run = await http.post(f"/threads/{thread_id}/runs/wait", json={"assistant_id": "stategraph"})
    assert run.status_code == 200
    run_id = (await http.get(f"/threads/{thread_id}/runs")).json()[0]["run_id"]
    missing = "01a2493d-3f05-710d-88f9-4adf9d931fbd"
    for target in (run_id, missing):  # a finished run, and none at all
        for suffix in ("join", "stream"):
            url = f"/threads/{thread_id}/runs/{target}/{suffix}"
            resp = await http.get(url, params={"cancel_on_disconnect": "sometimes"})
            assert_4xx(resp, 422, "sometimes")
            assert (
                await http.get(url, params={"cancel_on_disconnect": "false"})
            ).status_code == 200


async def test_unknown_run_fields_in_select_are_422(http, tag):
    thread_id = (await http.post("/threads", json={"metadata": {"tag": tag}})).json()["thread_id"]
    resp = await http.get(f"/threads/{thread_id}/runs", params={"select": ["status", "colour"]})
    assert_4xx(resp, 422, "colour")
    ok = await http.get(f"/threads/{thread_id}/runs", params={"select": ["status", "run_id"]})
    assert ok.status_code == 200


@pytest.mark.parametrize("index", [0, 0.0, 1, "false"])
async def test_store_index_must_be_false_or_a_list(http, tag, index):
    # `Literal[False]` took 0 (0 == False in Python); the document says a boolean.
    body = {"namespace": [tag], "key": "k", "value": {"v": 1}, "index": index}
    assert_4xx(await http.put("/store/items", json=body), 422, "index")
    assert (await http.put("/store/items", json={**body, "index": False})).status_code == 204

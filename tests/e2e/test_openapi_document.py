"""/openapi.json tells the truth: what it calls valid is accepted, what it calls invalid
is refused, and every answer has a documented status and matches its documented shape.

(.ci/fuzz.py checks the same thing broadly with schemathesis; these pin the cases that
were wrong, on every backend.)
"""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema_rs
import pytest
import schemathesis

from tests.support.graphs import FIXTURE_GRAPHS


@pytest.fixture(scope="module")
def document(server) -> dict[str, Any]:
    return httpx.get(f"{server.url}/openapi.json").json()


def assert_documented(
    document: dict[str, Any], resp: httpx.Response, path: str, *, described: bool = False
) -> None:
    """The status is documented for this operation, and the body matches its schema
    (which must exist when `described`)."""
    method = resp.request.method
    operation = document["paths"][path][method.lower()]
    documented = operation["responses"].get(str(resp.status_code))
    assert documented is not None, (method, path, resp.status_code)
    if described:
        assert "application/json" in documented.get("content", {}), (method, path)
    schema = schemathesis.openapi.from_dict(document)
    schema[path][method].validate_response(resp)  # raises, naming the mismatch


def allows(document: dict[str, Any], schema: dict[str, Any], value: Any) -> bool:
    """Whether a value is valid for a schema of the document (its $refs resolved)."""
    root = {**schema, "components": document["components"]}
    return jsonschema_rs.validator_for(root, validate_formats=True).is_valid(value)


def param_schema(document: dict[str, Any], method: str, path: str, name: str) -> dict:
    params = document["paths"][path][method]["parameters"]
    return next(p["schema"] for p in params if p["name"] == name)


async def system_assistant(http: httpx.AsyncClient, graph_id: str) -> str:
    found = await http.post(
        "/assistants/search", json={"graph_id": graph_id, "metadata": {"created_by": "system"}}
    )
    return found.json()[0]["assistant_id"]


async def test_subgraphs_match_the_document(http, document):
    assistant_id = await system_assistant(http, "parent")
    for query in ({}, {"recurse": "true"}):
        resp = await http.get(f"/assistants/{assistant_id}/subgraphs", params=query)
        assert resp.status_code == 200
        assert "child" in resp.json()
        assert_documented(document, resp, "/assistants/{assistant_id}/subgraphs")


async def test_selected_fields_match_the_document(http, document, tag):
    thread_id = (await http.post("/threads", json={"metadata": {"tag": tag}})).json()["thread_id"]
    for body, path in [
        ({"metadata": {"tag": tag}, "select": ["metadata"]}, "/threads/search"),
        ({"select": ["name"], "graph_id": "agent"}, "/assistants/search"),
    ]:
        resp = await http.post(path, json=body)
        assert resp.status_code == 200
        assert resp.json() and all(set(item) == set(body["select"]) for item in resp.json())
        assert_documented(document, resp, path)

    # A thread with a state and a run, to read them back a field at a time.
    seeded = thread_id
    hello = {"messages": [{"role": "user", "content": "hi"}]}
    run = await http.post(
        f"/threads/{seeded}/runs/wait", json={"assistant_id": "stategraph", "input": hello}
    )
    assert run.status_code == 200, run.text
    for path, url, params in [
        ("/threads/{thread_id}/runs", f"/threads/{seeded}/runs", {"select": "status"}),
        ("/threads/{thread_id}/state", f"/threads/{seeded}/state", {"select": "next"}),
        ("/threads/{thread_id}/history", f"/threads/{seeded}/history", {"select": "values"}),
    ]:
        resp = await http.get(url, params=params)
        assert resp.status_code == 200, resp.text
        assert_documented(document, resp, path)
    resp = await http.post(f"/threads/{seeded}/history", json={"select": ["metadata"]})
    assert resp.status_code == 200 and resp.json()
    assert_documented(document, resp, "/threads/{thread_id}/history")
    # Unknown fields are refused, as the document's enum says.
    resp = await http.get(f"/threads/{seeded}/runs", params={"select": "colour"})
    assert resp.status_code == 422


async def test_statuses_are_documented(http, document, tag):
    key = {"namespace": [tag], "key": "k"}
    stored = await http.put("/store/items", json={**key, "value": {"v": 1}})
    assert stored.status_code == 204
    assert_documented(document, stored, "/store/items")
    deleted = await http.request("DELETE", "/store/items", json=key)
    assert deleted.status_code == 204
    assert_documented(document, deleted, "/store/items")

    created = await http.post("/assistants", json={"graph_id": "agent", "metadata": {"tag": tag}})
    again = {"graph_id": "agent", "assistant_id": created.json()["assistant_id"]}
    duplicate = await http.post("/assistants", json=again)
    assert duplicate.status_code == 409
    assert_documented(document, duplicate, "/assistants")

    nothing = await http.post("/runs/cancel", json={})
    assert nothing.status_code == 422
    assert_documented(document, nothing, "/runs/cancel")
    assert not allows(
        document,
        document["paths"]["/runs/cancel"]["post"]["requestBody"]["content"]["application/json"][
            "schema"
        ],
        {},
    )


async def test_run_answers_match_the_document(http, document, tag):
    thread_id = (await http.post("/threads", json={"metadata": {"tag": tag}})).json()["thread_id"]
    run = await http.post(f"/threads/{thread_id}/runs", json={"assistant_id": "stategraph"})
    assert run.status_code == 200
    assert_documented(document, run, "/threads/{thread_id}/runs", described=True)
    run_id = run.json()["run_id"]
    joined = await http.get(f"/threads/{thread_id}/runs/{run_id}/join")
    assert joined.status_code == 200
    assert_documented(document, joined, "/threads/{thread_id}/runs/{run_id}/join", described=True)
    got = await http.get(f"/threads/{thread_id}/runs/{run_id}")
    assert_documented(document, got, "/threads/{thread_id}/runs/{run_id}", described=True)
    batch = await http.post("/runs/batch", json=[{"assistant_id": "stategraph"}])
    assert batch.status_code == 200
    assert_documented(document, batch, "/runs/batch", described=True)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/threads/{thread_id}"),
        ("get", "/threads/{thread_id}/runs/{run_id}"),
        ("get", "/threads/{thread_id}/state/{checkpoint_id}"),
        ("get", "/assistants/{assistant_id}"),
        ("get", "/assistants/{assistant_id}/subgraphs"),
    ],
)
async def test_path_ids_are_uuids_as_documented(http, document, method, path):
    for name in ("thread_id", "run_id", "checkpoint_id", "assistant_id"):
        if "{" + name + "}" not in path:
            continue
        schema = param_schema(document, method, path, name)
        assert not allows(document, schema, "not-a-uuid")
        assert allows(document, schema, "9a4c8a6f-0b8e-4b8c-9d5e-2f6a1c3b7e10")
    url = path.format(
        thread_id="not-a-uuid", run_id="not-a-uuid", checkpoint_id="x", assistant_id="nope"
    )
    resp = await http.request(method, url)
    assert resp.status_code == 422


async def test_graph_ids_stand_for_assistants_where_documented(http, document):
    schema = param_schema(document, "get", "/assistants/{assistant_id}/graph", "assistant_id")
    for graph_id in FIXTURE_GRAPHS:
        assert allows(document, schema, graph_id)
    assert not allows(document, schema, "no-such-graph")
    assert (await http.get("/assistants/parent/graph")).status_code == 200
    assert (await http.get("/assistants/no-such-graph/graph")).status_code == 422

    run_schema = document["components"]["schemas"]["RunCreate"]["properties"]["assistant_id"]
    assert allows(document, run_schema, "agent")
    assert not allows(document, run_schema, "no-such-graph")
    refused = await http.post("/runs", json={"assistant_id": "no-such-graph"})
    assert refused.status_code == 422


OPTIONAL_BODIES = [
    "/threads",
    "/threads/search",
    "/threads/count",
    "/assistants/search",
    "/store/namespaces",
]
REQUIRED_BODIES = ["/runs", "/runs/batch", "/runs/cancel", "/threads/prune"]


async def test_request_bodies_are_required_exactly_when_the_server_needs_one(http, document):
    for path in OPTIONAL_BODIES:
        assert document["paths"][path]["post"]["requestBody"]["required"] is False, path
        resp = await http.post(path)  # the SDK sends some of these without a body
        assert resp.status_code == 200, path
        assert_documented(document, resp, path)
    for path in REQUIRED_BODIES:
        assert document["paths"][path]["post"]["requestBody"]["required"] is True, path
        assert (await http.post(path)).status_code == 422, path

"""Stateless runs (/runs, /runs/wait, /runs/stream, /runs/batch): each gets a temporary
thread, deleted when the run ends unless `on_completion` is "keep"."""

from __future__ import annotations

import uuid

import httpx
import orjson
from langgraph_sdk.errors import NotFoundError

from tests.support.graphs import AGENT_ASSISTANT_ID, REPLY, human
from tests.support.runs import eventually, run_id_of
from tests.support.sse import read_sse


async def thread_gone(http: httpx.AsyncClient, thread_id: str) -> None:
    async def probe() -> bool:
        return (await http.get(f"/threads/{thread_id}")).status_code == 404

    await eventually(probe)


async def test_wait_answers_with_the_values_and_deletes_its_thread(client, http) -> None:
    response = await http.post("/runs/wait", json={"assistant_id": "agent", "input": human("hi")})
    assert response.status_code == 200
    body = orjson.loads(response.content)
    assert [m["content"] for m in body["messages"]] == ["hi", REPLY]
    location = response.headers["content-location"]
    thread_id = location.split("/")[2]
    run_id = run_id_of(location)
    assert location == f"/threads/{thread_id}/runs/{run_id}"
    assert response.headers["location"] == f"{location}/join"
    await thread_gone(http, thread_id)
    assert (await http.get(location)).status_code == 404

    # The SDK way.
    waited = await client.runs.wait(None, "agent", input=human("again"))
    assert [m["content"] for m in waited["messages"]] == ["again", REPLY]


async def test_on_completion_keep_leaves_the_thread(client, http) -> None:
    response = await http.post(
        "/runs/wait",
        json={"assistant_id": "agent", "input": human("hi"), "on_completion": "keep"},
    )
    thread_id = response.headers["content-location"].split("/")[2]
    thread = await client.threads.get(thread_id)
    assert thread["status"] == "idle"
    assert thread["metadata"] == {"graph_id": "agent", "assistant_id": AGENT_ASSISTANT_ID}
    assert [m["content"] for m in thread["values"]["messages"]] == ["hi", REPLY]
    [run] = await client.runs.list(thread_id)
    assert run["status"] == "success"
    assert run["kwargs"]["temporary"] is False


async def test_a_failed_stateless_run_still_deletes_its_thread(http) -> None:
    response = await http.post("/runs/wait", json={"assistant_id": "errgraph", "input": {}})
    assert response.status_code == 200
    assert orjson.loads(response.content) == {
        "__error__": {"error": "ValueError", "message": "kaboom"}
    }
    await thread_gone(http, response.headers["content-location"].split("/")[2])


async def test_stream_then_the_thread_is_deleted(client, http) -> None:
    response, events = await read_sse(
        http,
        "POST",
        "/runs/stream",
        json={"assistant_id": "agent", "input": human("hi"), "stream_mode": ["values", "debug"]},
    )
    assert response.status_code == 200
    run_id = events[0]["data"]["run_id"]
    assert response.headers["content-location"] == f"/runs/{run_id}"
    assert response.headers["location"] == f"/runs/{run_id}/stream"
    assert [e["event"] for e in events if e["event"] != "debug"] == ["metadata", "values", "values"]
    final = [e for e in events if e["event"] == "values"][-1]
    assert [m["content"] for m in final["data"]["messages"]] == ["hi", REPLY]
    # The run's temporary thread is named in its checkpoints' config.
    checkpoint = next(e["data"] for e in events if e["event"] == "debug")
    thread_id = checkpoint["payload"]["config"]["configurable"]["thread_id"]
    await thread_gone(http, thread_id)

    parts = [p async for p in client.runs.stream(None, "agent", input=human("hi"))]
    assert [p.event for p in parts] == ["metadata", "values", "values"]


async def test_background_stateless_run(client, http) -> None:
    response = await http.post("/runs", json={"assistant_id": "agent", "input": human("hi")})
    assert response.status_code == 200
    run = response.json()
    assert response.headers["content-location"] == f"/runs/{run['run_id']}"
    assert run["status"] == "pending"
    assert run["kwargs"]["temporary"] is True
    assert run["kwargs"]["config"]["configurable"]["thread_id"] == run["thread_id"]
    # It runs without anyone waiting for it, then takes its thread (and itself) away.
    await thread_gone(http, run["thread_id"])
    try:
        await client.runs.get(run["thread_id"], run["run_id"])
    except NotFoundError:
        pass
    else:
        raise AssertionError("the run of a deleted temporary thread is still there")


async def test_background_stateless_run_with_keep_can_be_joined(client) -> None:
    run = await client.runs.create(None, "agent", input=human("hi"), on_completion="keep")
    joined = await client.runs.join(run["thread_id"], run["run_id"])
    assert [m["content"] for m in joined["messages"]] == ["hi", REPLY]
    assert (await client.runs.get(run["thread_id"], run["run_id"]))["status"] == "success"


async def test_batch_creates_one_run_per_item(client, http) -> None:
    runs = await client.runs.create_batch(
        [
            {"assistant_id": "agent", "input": human("one")},
            {"assistant_id": "agent", "input": human("two"), "on_completion": "keep"},
        ]
    )
    assert [r["status"] for r in runs] == ["pending", "pending"]
    assert len({r["thread_id"] for r in runs}) == 2
    assert [r["kwargs"]["input"] for r in runs] == [human("one"), human("two")]
    kept = await client.runs.join(runs[1]["thread_id"], runs[1]["run_id"])
    assert [m["content"] for m in kept["messages"]] == ["two", REPLY]
    await thread_gone(http, runs[0]["thread_id"])


async def test_batch_refuses_bad_bodies_and_creates_nothing(client, http) -> None:
    assistant = await client.assistants.create("agent")
    good = {"assistant_id": assistant["assistant_id"], "input": {}, "on_completion": "keep"}
    for body, status in (
        ([], 422),
        ({"assistant_id": "agent"}, 422),
        ([good, {"input": {}}], 422),
        ([good, {"assistant_id": "nope"}], 422),
        ([good, {"assistant_id": str(uuid.uuid4())}], 404),
        ([good, {"assistant_id": "hitl", "command": {"resume": 1}}], 400),
    ):
        response = await http.post("/runs/batch", json=body)
        assert response.status_code == status, body
    # Had the good item been created, its kept thread would be there by now.
    kept = await client.runs.create(None, assistant["assistant_id"], input={}, on_completion="keep")
    await client.runs.join(kept["thread_id"], kept["run_id"])
    threads = await client.threads.search(metadata={"assistant_id": assistant["assistant_id"]})
    assert [t["thread_id"] for t in threads] == [kept["thread_id"]]


async def test_resuming_without_a_thread_is_400(http) -> None:
    for path in ("/runs", "/runs/wait", "/runs/stream"):
        response = await http.post(
            path, json={"assistant_id": "hitl", "command": {"resume": "yes"}}
        )
        assert response.status_code == 400, path
        assert response.json() == {"detail": "You must provide a thread_id when resuming."}

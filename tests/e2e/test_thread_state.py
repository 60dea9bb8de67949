"""Thread state and history through the real SDK and raw HTTP, on every backend.

Threads are seeded with supersteps (no runs needed): HELLO_STEPS leaves three root
checkpoints, newest first: step 1 (values done, next []), step 0 (next ["chat"]) and
step -1 (the input checkpoint, next ["__start__"]).
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import datetime

import pytest
from langgraph_sdk.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
)

from robyn_server.schemas.state import ThreadState
from tests.support.graphs import HELLO_STEPS

EMPTY_STATE = {
    "values": {},
    "next": [],
    "tasks": [],
    "metadata": None,
    "created_at": None,
    "checkpoint": None,
    "parent_checkpoint": None,
    "interrupts": [],
    "checkpoint_id": None,
    "parent_checkpoint_id": None,
}
# The parent graph up to the point where its subgraph node "child" is due.
CHILD_DUE_STEPS = [
    {"updates": [{"values": {}, "as_node": "__input__"}]},
    {
        "updates": [
            {"values": {"messages": [{"role": "user", "content": "go"}]}, "as_node": "__start__"}
        ]
    },
]


async def hello_thread(client, tag: str) -> dict:
    return await client.threads.create(
        graph_id="agent", metadata={"tag": tag}, supersteps=HELLO_STEPS
    )


def message_texts(values: dict) -> list[tuple[str, str]]:
    return [(m["type"], m["content"]) for m in values["messages"]]


async def test_state_of_thread_without_graph_is_empty(client, http, tag):
    thread = await client.threads.create(metadata={"tag": tag})
    thread_id = thread["thread_id"]
    assert await client.threads.get_state(thread_id) == EMPTY_STATE
    assert await client.threads.get_history(thread_id) == []
    # A malformed checkpoint id is refused even where no checkpoint could be found.
    assert (await http.get(f"/threads/{thread_id}/state/nope")).status_code == 422

    with pytest.raises(BadRequestError) as err:
        await client.threads.update_state(thread_id, {"count": 5})
    assert "has no assigned graph ID" in err.value.response.json()["detail"]
    assert (await client.threads.get(thread_id))["values"] is None


async def test_state_of_graph_thread_without_checkpoints_is_empty(client, tag):
    thread = await client.threads.create(graph_id="agent", metadata={"tag": tag})
    assert await client.threads.get_state(thread["thread_id"]) == EMPTY_STATE
    assert await client.threads.get_history(thread["thread_id"]) == []


async def test_state_after_supersteps(client, tag):
    thread = await hello_thread(client, tag)
    thread_id = thread["thread_id"]
    state = await client.threads.get_state(thread_id)

    assert message_texts(state["values"]) == [("human", "hi"), ("ai", "hello")]
    assert state["values"]["count"] == 1
    assert state["next"] == []
    assert state["tasks"] == []
    assert state["interrupts"] == []
    assert state["metadata"]["source"] == "update"
    assert state["metadata"]["step"] == 1
    datetime.fromisoformat(state["created_at"])
    checkpoint = state["checkpoint"]
    assert checkpoint["thread_id"] == thread_id
    assert checkpoint["checkpoint_ns"] == ""
    assert state["checkpoint_id"] == checkpoint["checkpoint_id"]
    assert state["parent_checkpoint"]["thread_id"] == thread_id
    assert state["parent_checkpoint_id"] == state["parent_checkpoint"]["checkpoint_id"]
    ThreadState.model_validate(state)  # what /openapi.json documents


async def test_pending_task_is_listed(client, tag):
    thread = await hello_thread(client, tag)
    history = await client.threads.get_history(thread["thread_id"], limit=10)
    due = history[1]
    assert due["next"] == ["chat"]
    [task] = due["tasks"]
    assert task["name"] == "chat"
    assert task["path"] == ["__pregel_pull", "chat"]
    assert task["error"] is None
    assert task["interrupts"] == []
    assert task["checkpoint"] is None
    assert task["state"] is None
    # The later checkpoint holds what the task wrote.
    assert task["result"]["count"] == 1


async def test_history_is_newest_first_and_linked(client, http, tag):
    thread = await hello_thread(client, tag)
    thread_id = thread["thread_id"]
    history = await client.threads.get_history(thread_id, limit=10)

    assert [s["metadata"]["step"] for s in history] == [1, 0, -1]
    assert [s["next"] for s in history] == [[], ["chat"], ["__start__"]]
    assert [s["metadata"]["source"] for s in history] == ["update", "update", "input"]
    for newer, older in itertools.pairwise(history):
        assert newer["parent_checkpoint_id"] == older["checkpoint_id"]
    assert history[-1]["parent_checkpoint"] is None
    assert history[0] == await client.threads.get_state(thread_id)

    assert await client.threads.get_history(thread_id, limit=2) == history[:2]
    # Without a limit both forms return only the newest state, as the reference does.
    assert (await http.post(f"/threads/{thread_id}/history", json={})).json() == history[:1]
    assert (await http.get(f"/threads/{thread_id}/history")).json() == history[:1]
    got = await http.get(f"/threads/{thread_id}/history", params={"limit": 3})
    assert got.json() == history


async def test_history_before_in_every_form(client, http, tag):
    thread = await hello_thread(client, tag)
    thread_id = thread["thread_id"]
    history = await client.threads.get_history(thread_id, limit=10)
    newest = history[0]["checkpoint"]
    older = history[1:]

    # The SDK sends a checkpoint object as it is, and a string as it is.
    assert await client.threads.get_history(thread_id, limit=10, before=newest) == older
    assert (
        await client.threads.get_history(thread_id, limit=10, before=newest["checkpoint_id"])
        == older
    )
    as_config = {"configurable": {"checkpoint_id": newest["checkpoint_id"]}}
    resp = await http.post(f"/threads/{thread_id}/history", json={"limit": 10, "before": as_config})
    assert resp.json() == older
    resp = await http.get(
        f"/threads/{thread_id}/history", params={"limit": 10, "before": newest["checkpoint_id"]}
    )
    assert resp.json() == older
    oldest = history[-1]["checkpoint_id"]
    assert await client.threads.get_history(thread_id, limit=10, before=oldest) == []


async def test_history_metadata_and_checkpoint_filters(client, tag):
    thread = await hello_thread(client, tag)
    thread_id = thread["thread_id"]
    history = await client.threads.get_history(thread_id, limit=10)

    inputs = await client.threads.get_history(thread_id, limit=10, metadata={"source": "input"})
    assert inputs == history[2:]
    step0 = await client.threads.get_history(thread_id, limit=10, metadata={"step": 0})
    assert step0 == history[1:2]
    none = await client.threads.get_history(thread_id, limit=10, metadata={"source": "fork"})
    assert none == []
    root = await client.threads.get_history(thread_id, limit=10, checkpoint={"checkpoint_ns": ""})
    assert root == history


async def test_state_at_checkpoint(client, http, tag):
    thread = await hello_thread(client, tag)
    thread_id = thread["thread_id"]
    history = await client.threads.get_history(thread_id, limit=10)
    past = history[1]

    # GET /state/{checkpoint_id}
    assert await client.threads.get_state(thread_id, checkpoint_id=past["checkpoint_id"]) == past
    # POST /state/checkpoint
    assert await client.threads.get_state(thread_id, checkpoint=past["checkpoint"]) == past
    resp = await http.post(
        f"/threads/{thread_id}/state/checkpoint",
        json={"checkpoint": {"checkpoint_id": history[2]["checkpoint_id"]}},
    )
    assert resp.status_code == 200
    assert resp.json() == history[2]
    # Only the path's thread counts: a body cannot point into another thread.
    other = await hello_thread(client, tag)
    foreign = {**past["checkpoint"], "thread_id": other["thread_id"]}
    assert await client.threads.get_state(thread_id, checkpoint=foreign) == past
    with pytest.raises(NotFoundError):
        await client.threads.get_state(other["thread_id"], checkpoint=past["checkpoint"])


async def test_select_fields(client, http, tag):
    thread = await hello_thread(client, tag)
    thread_id = thread["thread_id"]
    full = await client.threads.get_state(thread_id)

    got = await client.threads.get_state(thread_id, select=["values.count", "next"])
    assert got == {"values": {"count": 1}, "next": []}
    history = await client.threads.get_history(thread_id, limit=10, select=["checkpoint_id"])
    assert history[0] == {"checkpoint_id": full["checkpoint_id"]}
    assert len(history) == 3
    resp = await http.get(f"/threads/{thread_id}/state", params={"select": "bogus"})
    assert resp.status_code == 422


async def test_update_state_as_node(client, tag):
    thread = await hello_thread(client, tag)
    thread_id = thread["thread_id"]
    before = await client.threads.get_state(thread_id)

    result = await client.threads.update_state(thread_id, {"count": 42}, as_node="chat")
    checkpoint_id = result["checkpoint_id"]
    assert result["checkpoint"] == {
        "thread_id": thread_id,
        "checkpoint_ns": "",
        "checkpoint_id": checkpoint_id,
    }
    assert result["configurable"] == result["checkpoint"]

    state = await client.threads.get_state(thread_id)
    assert state["checkpoint_id"] == checkpoint_id
    assert state["parent_checkpoint_id"] == before["checkpoint_id"]
    assert state["values"]["count"] == 42
    assert state["values"]["messages"] == before["values"]["messages"]
    assert state["metadata"]["source"] == "update"
    assert state["metadata"]["step"] == 2
    assert state["next"] == []

    # The thread row follows the new checkpoint.
    row = await client.threads.get(thread_id)
    assert row["values"] == state["values"]
    assert row["status"] == "idle"
    assert row["interrupts"] == {}
    assert row["error"] is None
    assert row["state_updated_at"] > thread["state_updated_at"]


async def test_update_state_is_published_on_the_thread_stream(client, tag):
    thread = await hello_thread(client, tag)
    thread_id = thread["thread_id"]
    result = await client.threads.update_state(thread_id, {"count": 5}, as_node="chat")

    # Thread-level events are kept for a while: "-" replays them from the start.
    stream = await client.threads.join_stream(
        thread_id, stream_mode="state_update", last_event_id="-"
    )
    try:
        # Seeding the thread with supersteps published its own state_update first.
        seeded = await asyncio.wait_for(anext(stream), timeout=10)
        part = await asyncio.wait_for(anext(stream), timeout=10)
    finally:
        await stream.aclose()
    assert seeded.event == "state_update"
    assert seeded.data["state"]["values"]["count"] == 1
    assert part.event == "state_update"
    assert part.data["thread_id"] == thread_id
    assert part.data["state"]["checkpoint_id"] == result["checkpoint_id"]
    assert part.data["state"] == await client.threads.get_state(thread_id)


async def test_update_state_applies_reducers_and_infers_node(client, tag):
    thread = await hello_thread(client, tag)
    thread_id = thread["thread_id"]
    # The agent graph has one node, so LangGraph infers as_node; messages append.
    await client.threads.update_state(
        thread_id, {"messages": [{"role": "user", "content": "again"}]}
    )
    state = await client.threads.get_state(thread_id)
    assert message_texts(state["values"]) == [("human", "hi"), ("ai", "hello"), ("human", "again")]
    assert state["values"]["count"] == 1


async def test_update_on_past_checkpoint_forks(client, tag):
    thread = await hello_thread(client, tag)
    thread_id = thread["thread_id"]
    history = await client.threads.get_history(thread_id, limit=10)
    due = history[1]  # before "chat" ran

    result = await client.threads.update_state(
        thread_id, {"count": 7}, as_node="__start__", checkpoint_id=due["checkpoint_id"]
    )
    fork = await client.threads.get_state(thread_id)
    assert fork["checkpoint_id"] == result["checkpoint_id"]
    assert fork["parent_checkpoint_id"] == due["checkpoint_id"]
    assert fork["values"]["count"] == 7
    assert message_texts(fork["values"]) == [("human", "hi")]
    assert fork["next"] == ["chat"]

    # Both branches stay in history, newest first.
    after = await client.threads.get_history(thread_id, limit=10)
    assert [s["checkpoint_id"] for s in after] == [fork["checkpoint_id"]] + [
        s["checkpoint_id"] for s in history
    ]
    # With a node still due, the thread waits: interrupted, but no interrupt() was raised.
    row = await client.threads.get(thread_id)
    assert row["status"] == "interrupted"
    assert row["interrupts"] == {}
    assert row["values"] == fork["values"]

    # The checkpoint object form addresses a past checkpoint too.
    again = await client.threads.update_state(
        thread_id, {"count": 8}, as_node="chat", checkpoint=due["checkpoint"]
    )
    state = await client.threads.get_state(thread_id)
    assert state["checkpoint_id"] == again["checkpoint_id"]
    assert state["parent_checkpoint_id"] == due["checkpoint_id"]
    assert state["next"] == []
    assert (await client.threads.get(thread_id))["status"] == "idle"


async def test_update_state_values_may_be_null(client, tag):
    thread = await hello_thread(client, tag)
    thread_id = thread["thread_id"]
    history = await client.threads.get_history(thread_id, limit=10)
    await client.threads.update_state(
        thread_id, {"count": 7}, as_node="__start__", checkpoint_id=history[1]["checkpoint_id"]
    )
    assert (await client.threads.get(thread_id))["status"] == "interrupted"

    # No values as __end__ drops what is still due: the thread no longer waits.
    await client.threads.update_state(thread_id, None, as_node="__end__")
    state = await client.threads.get_state(thread_id)
    assert state["next"] == []
    assert state["values"]["count"] == 7
    assert (await client.threads.get(thread_id))["status"] == "idle"


async def test_update_state_refusals(client, http, tag):
    thread = await hello_thread(client, tag)
    thread_id = thread["thread_id"]
    latest = (await client.threads.get_state(thread_id))["checkpoint_id"]

    with pytest.raises(BadRequestError) as err:
        await client.threads.update_state(thread_id, {"count": 1}, as_node="no_such_node")
    assert "no_such_node" in err.value.response.json()["detail"]
    with pytest.raises(NotFoundError):
        await client.threads.update_state(str(uuid.uuid4()), {"count": 1})
    with pytest.raises(NotFoundError):
        # A well-formed id of no checkpoint must not start a new history silently.
        await client.threads.update_state(thread_id, {"count": 1}, checkpoint_id=str(uuid.uuid4()))
    bad_values = await http.post(f"/threads/{thread_id}/state", json={"values": "text"})
    assert bad_values.status_code == 422
    bad_id = await http.post(
        f"/threads/{thread_id}/state", json={"values": {"count": 1}, "checkpoint_id": "nope"}
    )
    assert bad_id.status_code == 422
    assert bad_id.json() == {"detail": "Invalid checkpoint ID: must be a UUID"}
    # Nothing above wrote a checkpoint.
    assert (await client.threads.get_state(thread_id))["checkpoint_id"] == latest


async def test_missing_threads_and_checkpoints(client, http, tag):
    missing = str(uuid.uuid4())
    with pytest.raises(NotFoundError):
        await client.threads.get_state(missing)
    with pytest.raises(NotFoundError):
        await client.threads.get_history(missing)
    assert (await http.get(f"/threads/{missing}/history")).status_code == 404
    with pytest.raises(NotFoundError):
        await client.threads.get_state(missing, checkpoint={"checkpoint_id": str(uuid.uuid4())})

    thread = await hello_thread(client, tag)
    thread_id = thread["thread_id"]
    unknown = str(uuid.uuid4())
    with pytest.raises(NotFoundError) as err:
        await client.threads.get_state(thread_id, checkpoint_id=unknown)
    assert unknown in err.value.response.json()["detail"]
    with pytest.raises(NotFoundError):
        await client.threads.get_state(thread_id, checkpoint={"checkpoint_id": unknown})


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/threads/not-a-uuid/state", None),
        ("GET", "/threads/{tid}/state/not-a-checkpoint", None),
        ("POST", "/threads/{tid}/state/checkpoint", {"checkpoint": {"checkpoint_id": "x"}}),
        ("POST", "/threads/{tid}/state/checkpoint", {}),
        ("POST", "/threads/{tid}/history", {"before": "not-a-checkpoint"}),
        ("POST", "/threads/{tid}/history", {"before": {"configurable": {}}}),
        ("POST", "/threads/{tid}/history", {"limit": 0}),
        ("POST", "/threads/{tid}/history", {"limit": "10"}),
        ("GET", "/threads/{tid}/history?limit=ten", None),
        ("GET", "/threads/{tid}/history?before=%7Bbroken", None),
        ("GET", "/threads/{tid}/state?subgraphs=maybe", None),
    ],
)
async def test_malformed_requests_are_422(client, http, tag, method, path, body):
    thread = await hello_thread(client, tag)
    resp = await http.request(method, path.format(tid=thread["thread_id"]), json=body)
    assert resp.status_code == 422, resp.text
    assert isinstance(resp.json()["detail"], str)


async def test_subgraph_state(client, tag):
    thread = await client.threads.create(
        graph_id="parent", metadata={"tag": tag}, supersteps=CHILD_DUE_STEPS
    )
    thread_id = thread["thread_id"]
    state = await client.threads.get_state(thread_id)
    assert state["next"] == ["child"]
    [task] = state["tasks"]
    assert task["name"] == "child"
    assert task["state"] is None
    address = task["checkpoint"]
    assert address["thread_id"] == thread_id
    assert address["checkpoint_ns"] == f"child:{task['id']}"

    # Nothing ran inside the child yet: its expanded state is empty.
    expanded = await client.threads.get_state(thread_id, subgraphs=True)
    assert expanded["tasks"][0]["state"] == EMPTY_STATE

    # Write into the subgraph's own namespace, then read it every way.
    result = await client.threads.update_state(
        thread_id, {"steps": ["manual"]}, as_node="__start__", checkpoint=address
    )
    assert result["checkpoint"]["checkpoint_ns"] == address["checkpoint_ns"]
    expanded = await client.threads.get_state(thread_id, subgraphs=True)
    child = expanded["tasks"][0]["state"]
    assert child["values"] == {"messages": [], "steps": ["manual"]}
    assert child["next"] == ["inner_node"]
    assert child["checkpoint"]["checkpoint_ns"] == address["checkpoint_ns"]
    assert child["checkpoint_id"] == result["checkpoint_id"]
    ThreadState.model_validate(expanded)

    assert await client.threads.get_state(thread_id, checkpoint=address) == child
    child_history = await client.threads.get_history(
        thread_id, limit=10, checkpoint={"checkpoint_ns": address["checkpoint_ns"]}
    )
    assert child_history == [child]
    # The root is untouched, and so is the thread row's view of it.
    root = await client.threads.get_state(thread_id)
    assert root["checkpoint_id"] == state["checkpoint_id"]


async def test_update_refused_while_a_run_is_in_flight(client, tag):
    thread = await client.threads.create(graph_id="slow", metadata={"tag": tag})
    thread_id = thread["thread_id"]
    run = await client.runs.create(
        thread_id,
        "slow",
        input={"messages": [{"role": "user", "content": "wait"}]},
        config={"configurable": {"delay": 2}},
    )
    try:
        with pytest.raises(ConflictError) as err:
            await client.threads.update_state(thread_id, {"messages": []}, as_node="wait")
        assert "in-flight run" in err.value.response.json()["detail"]
    finally:
        await asyncio.wait_for(client.runs.join(thread_id, run["run_id"]), timeout=30)
    # Once the run is done, the same update goes through.
    await client.threads.update_state(
        thread_id, {"messages": [{"role": "user", "content": "after"}]}, as_node="wait"
    )
    state = await client.threads.get_state(thread_id)
    assert state["values"]["messages"][-1]["content"] == "after"

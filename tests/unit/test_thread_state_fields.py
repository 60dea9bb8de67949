"""What the run engine writes into a thread row at the end of a run, from real graphs.

`thread_fields` and `state_to_json` are pure functions of a LangGraph StateSnapshot, so
these tests run the fixture graphs on an in-memory checkpointer and look at the result.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.types import interrupt

from robyn_server.engine.snapshots import EMPTY_STATE, state_to_json, thread_fields
from robyn_server.serialization import dumps
from tests.support.graphs import HI, REPLY, fixture_graph


def new_thread() -> dict[str, Any]:
    return {"configurable": {"thread_id": str(uuid.uuid4())}}


def as_client_sees(data: Any) -> Any:
    return orjson.loads(dumps(data))


async def test_finished_run_is_idle_with_plain_values():
    graph = fixture_graph("agent")
    config = new_thread()
    await graph.ainvoke(HI, config)
    fields = thread_fields(await graph.aget_state(config))

    assert fields["status"] == "idle"
    assert fields["interrupts"] == {}
    assert fields["values"]["count"] == 1
    # Messages are stored as JSON, the way every backend can keep them.
    assert [(m["type"], m["content"]) for m in fields["values"]["messages"]] == [
        ("human", "hi"),
        ("ai", REPLY),
    ]
    assert fields == orjson.loads(orjson.dumps(fields))


async def test_interrupt_is_listed_under_its_task():
    graph = fixture_graph("hitl")
    config = new_thread()
    await graph.ainvoke(HI, config)
    snapshot = await graph.aget_state(config)
    fields = thread_fields(snapshot)

    assert fields["status"] == "interrupted"
    [(task_id, interrupts)] = fields["interrupts"].items()
    assert task_id == snapshot.tasks[0].id
    assert interrupts == [{"id": snapshot.interrupts[0].id, "value": {"question": "approve?"}}]

    state = as_client_sees(state_to_json(snapshot))
    assert state["next"] == ["ask"]
    assert state["interrupts"] == interrupts
    assert state["tasks"][0]["interrupts"] == interrupts


async def test_static_breakpoint_is_interrupted_without_interrupts():
    graph = fixture_graph("agent")
    config = new_thread()
    await graph.ainvoke(HI, config, interrupt_before=["chat"])
    fields = thread_fields(await graph.aget_state(config))
    assert fields["status"] == "interrupted"
    assert fields["interrupts"] == {}
    assert [m["content"] for m in fields["values"]["messages"]] == ["hi"]


async def test_interrupt_inside_a_subgraph_marks_the_parent_task():
    def ask(state: MessagesState) -> dict:
        interrupt("inner question")
        return {}

    child = StateGraph(MessagesState).add_node("ask", ask).add_edge(START, "ask").compile()
    parent = (
        StateGraph(MessagesState)
        .add_node("child", child)
        .add_edge(START, "child")
        .add_edge("child", END)
        .compile(checkpointer=InMemorySaver())
    )
    config = new_thread()
    await parent.ainvoke(HI, config)
    snapshot = await parent.aget_state(config, subgraphs=True)
    fields = thread_fields(snapshot)

    assert fields["status"] == "interrupted"
    assert [i["value"] for i in fields["interrupts"][snapshot.tasks[0].id]] == ["inner question"]
    body = dumps(state_to_json(snapshot))
    assert b"__pregel_checkpointer" not in body  # LangGraph's private config stays inside
    nested = orjson.loads(body)["tasks"][0]["state"]
    assert nested["next"] == ["ask"]
    assert nested["checkpoint"]["checkpoint_ns"].startswith("child:")


async def test_failed_task_reports_its_error():
    graph = fixture_graph("errgraph")
    config = new_thread()
    try:
        await graph.ainvoke(HI, config)
    except ValueError:
        pass
    state = as_client_sees(state_to_json(await graph.aget_state(config)))
    [task] = state["tasks"]
    assert task["name"] == "explode"
    assert task["error"] == "ValueError('kaboom')"


async def test_thread_without_checkpoints():
    graph = fixture_graph("agent")
    snapshot = await graph.aget_state(new_thread())
    assert state_to_json(snapshot) == EMPTY_STATE
    assert thread_fields(snapshot) == {"status": "idle", "values": None, "interrupts": {}}

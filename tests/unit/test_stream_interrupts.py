"""Interrupts, commands and errors as a run's stream shows them.

Dynamic `interrupt()` shows up in `updates` as `{"__interrupt__": [...]}` and in the last
`values` chunk; a static breakpoint as `{"__interrupt__": []}`. `RunStream.interrupts`
collects what the `/wait` result and the thread need.
"""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

from robyn_server.engine.graph_input import build_input
from robyn_server.engine.stream_modes import RunStream
from tests.support.graphs import HI, fixture_graph
from tests.support.runs import names
from tests.support.stream_graphs import collect, thread_config


class Answers(TypedDict, total=False):
    answers: Annotated[list[str], operator.add]


class Visits(TypedDict, total=False):
    # A plain channel on purpose: LangGraph 1.2 applies a Command's update twice to a
    # reducer channel on a thread without checkpoints.
    note: str
    visited: Annotated[list[str], operator.add]


def _two_questions():
    """Two nodes in the same step, each interrupting with its own question."""

    def a(state: Answers) -> dict:
        return {"answers": ["a:" + interrupt("A?")]}

    def b(state: Answers) -> dict:
        return {"answers": ["b:" + interrupt("B?")]}

    return (
        StateGraph(Answers)
        .add_node("a", a)
        .add_node("b", b)
        .add_edge(START, "a")
        .add_edge(START, "b")
        .compile(checkpointer=InMemorySaver())
    )


async def test_interrupt_shows_in_updates_and_in_the_last_values():
    hitl, config = fixture_graph("hitl"), thread_config()
    stream = RunStream(["values", "updates"], subgraphs=False)
    events = await collect(stream, hitl, HI, config)

    assert names(events) == ["values", "updates", "values"]
    (pending,) = events[1][1]["__interrupt__"]
    assert list(pending) == ["value", "id", "response_schema"]
    assert pending["value"] == {"question": "approve?"}
    assert pending["response_schema"] is None
    assert events[2][1]["__interrupt__"] == [pending]
    assert events[2][1]["messages"][0]["content"] == "hi"
    assert stream.interrupts == [pending]


async def test_interrupts_are_recorded_even_when_only_values_stream():
    stream = RunStream(["values"], subgraphs=False)
    events = await collect(stream, fixture_graph("hitl"), HI, thread_config())
    assert names(events) == ["values", "values"]
    assert stream.interrupts == events[-1][1]["__interrupt__"]


async def test_resume_continues_where_the_interrupt_stopped():
    hitl, config = fixture_graph("hitl"), thread_config()
    await collect(RunStream(["values"], subgraphs=False), hitl, HI, config)

    stream = RunStream(["updates"], subgraphs=False)
    events = await collect(stream, hitl, build_input(None, {"resume": "ok"}), config)

    assert events[0] == ("updates", {"ask": {"answer": "ok"}})
    assert events[1][1]["done"]["messages"][0]["content"] == "you said: ok"
    assert stream.interrupts == []
    assert stream.last_values["answer"] == "ok"


async def test_parallel_interrupts_are_all_collected_and_resumable_by_id():
    graph, config = _two_questions(), thread_config()
    stream = RunStream(["updates"], subgraphs=False)
    await collect(stream, graph, {"answers": []}, config)

    assert [pending["value"] for pending in stream.interrupts] == ["A?", "B?"]
    ids = [pending["id"] for pending in stream.interrupts]
    assert len(set(ids)) == 2

    resume = RunStream(["values"], subgraphs=False)
    events = await collect(
        resume, graph, build_input(None, {"resume": dict(zip(ids, "xy", strict=True))}), config
    )
    assert events[-1][1] == {"answers": ["a:x", "b:y"]}
    assert resume.interrupts == []


async def test_interrupt_inside_a_subgraph_is_a_top_level_interrupt_once():
    def ask(state: Answers) -> dict:
        return {"answers": [interrupt("inner?")]}

    child = StateGraph(Answers).add_node("ask", ask).add_edge(START, "ask").compile()
    parent = (
        StateGraph(Answers)
        .add_node("child", child)
        .add_edge(START, "child")
        .compile(checkpointer=InMemorySaver())
    )
    stream = RunStream(["updates"], subgraphs=True)
    events = await collect(stream, parent, {"answers": []}, thread_config())

    assert [name.split("|")[0] for name in names(events)] == ["updates", "updates"]
    assert "|" in events[0][0] and events[1][0] == "updates"
    assert [pending["value"] for pending in stream.interrupts] == ["inner?"]


async def test_static_breakpoint_streams_an_empty_interrupt_list():
    agent, config = fixture_graph("agent"), thread_config()
    stream = RunStream(["values", "updates"], subgraphs=False)
    events = await collect(stream, agent, HI, config, interrupt_before=["chat"])

    assert names(events) == ["values", "updates"]
    assert events[1][1] == {"__interrupt__": []}
    assert stream.interrupts == []
    assert [m.content for m in stream.last_values["messages"]] == ["hi"]

    # input null continues past the breakpoint.
    stream = RunStream(["updates"], subgraphs=False)
    events = await collect(stream, agent, build_input(None, None), config)
    assert names(events) == ["updates"]
    assert events[0][1]["chat"]["count"] == 1


async def test_interrupt_after_every_node():
    agent = fixture_graph("agent")
    stream = RunStream(["updates"], subgraphs=False)
    events = await collect(stream, agent, HI, thread_config(), interrupt_after="*")
    assert names(events) == ["updates", "updates"]
    assert list(events[0][1]) == ["chat"]
    assert events[1][1] == {"__interrupt__": []}


async def test_command_update_and_goto_on_an_empty_thread():
    # The reference capture: values {count: 100}, then chat runs on top of it.
    stream = RunStream(["updates", "values"], subgraphs=False)
    command = build_input(None, {"update": {"count": 100}, "goto": "chat"})
    events = await collect(stream, fixture_graph("agent"), command, thread_config())

    assert names(events) == ["values", "updates", "values"]
    assert events[0][1] == {"messages": [], "count": 100}
    assert events[1][1]["chat"]["count"] == 101
    assert events[2][1]["count"] == 101


async def test_command_update_as_pairs_and_goto_send():
    received = []

    def record(state: Visits) -> dict:
        received.append(state)
        return {"visited": ["record"]}

    graph = (
        StateGraph(Visits)
        .add_node("record", record)
        .add_edge(START, "record")
        .add_edge("record", END)
        .compile(checkpointer=InMemorySaver())
    )
    command = build_input(
        None,
        {
            "update": [["note", "given"]],
            "goto": [{"node": "record", "input": {"note": "sent"}}, "record"],
        },
    )
    stream = RunStream(["updates"], subgraphs=False)
    events = await collect(stream, graph, command, thread_config())

    assert events == [
        ("updates", {"record": {"visited": ["record"]}}),
        ("updates", {"record": {"visited": ["record"]}}),
    ]
    assert stream.last_values == {"note": "given", "visited": ["record", "record"]}
    # The Send ran the node on its own input; the plain goto on the updated state.
    assert {"note": "sent"} in received
    assert {"note": "given", "visited": []} in received


async def test_graph_errors_propagate_after_everything_streamed_before_them():
    class State(TypedDict, total=False):
        a: int

    async def ok(state: State) -> dict:
        return {"a": 1}

    async def fails(state: State) -> dict:
        get_stream_writer()({"before": "failing"})
        raise ValueError("kaboom")

    graph = (
        StateGraph(State)
        .add_node("ok", ok)
        .add_node("fails", fails)
        .add_edge(START, "ok")
        .add_edge(START, "fails")
        .compile()
    )
    stream = RunStream(["updates", "custom"], subgraphs=False)
    seen = []
    with pytest.raises(ValueError, match="kaboom"):
        async for event in stream.run(graph, {"a": 0}, {}):
            seen.append(event)
    assert ("custom", {"before": "failing"}) in seen
    assert ("updates", {"ok": {"a": 1}}) in seen


async def test_failing_first_node_yields_nothing_then_raises():
    stream = RunStream(["values"], subgraphs=False)
    with pytest.raises(ValueError, match="kaboom"):
        await collect(stream, fixture_graph("errgraph"), {"messages": []}, thread_config())

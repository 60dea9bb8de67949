"""Subgraph streaming: `mode|node:task_id` event names with stream_subgraphs, nothing from
inside subgraphs without it, and the run's result taken from the top level only."""

from __future__ import annotations

import re

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph

from robyn_server.engine.stream_modes import RunStream
from tests.support.runs import names
from tests.support.stream_graphs import collect, counting_parent, thread_config

TASK = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _chatting_parent():
    """parent → child subgraph whose node streams "from the child" from a chat model."""

    async def talk(state: MessagesState) -> dict:
        model = GenericFakeChatModel(messages=iter([AIMessage(content="from the child")]))
        return {"messages": [await model.ainvoke(state["messages"])]}

    child = StateGraph(MessagesState).add_node("talk", talk).add_edge(START, "talk").compile()
    return (
        StateGraph(MessagesState)
        .add_node("child", child)
        .add_edge(START, "child")
        .add_edge("child", END)
        .compile(checkpointer=InMemorySaver())
    )


async def test_subgraph_events_are_named_after_their_namespace_in_capture_order():
    stream = RunStream(["values", "updates", "custom", "messages-tuple"], subgraphs=True)
    events = await collect(stream, counting_parent(InMemorySaver()), {"count": 0}, thread_config())

    child = re.fullmatch(rf"values\|(child:{TASK})", events[1][0]).group(1)
    assert events == [
        ("values", {"messages": [], "count": 0}),
        (f"values|{child}", {"messages": [], "count": 0}),
        (f"custom|{child}", {"progress": 50}),
        (f"updates|{child}", {"inner_node": {"count": 10}}),
        (f"values|{child}", {"messages": [], "count": 10}),
        ("updates", {"child": {"messages": [], "count": 10}}),
        ("values", {"messages": [], "count": 10}),
        ("updates", {"after": {"count": 11}}),
        ("values", {"messages": [], "count": 11}),
    ]
    assert stream.last_values == {"messages": [], "count": 11}


async def test_without_subgraphs_the_subgraph_is_one_node_update():
    stream = RunStream(["custom", "updates"], subgraphs=False)
    events = await collect(stream, counting_parent(InMemorySaver()), {"count": 0}, thread_config())
    assert events == [
        ("updates", {"child": {"messages": [], "count": 10}}),
        ("updates", {"after": {"count": 11}}),
    ]


async def test_nested_subgraphs_join_every_namespace_level():
    inner = counting_parent()
    outer = (
        StateGraph(MessagesState)
        .add_node("outer", inner)
        .add_edge(START, "outer")
        .add_edge("outer", END)
        .compile(checkpointer=InMemorySaver())
    )
    stream = RunStream(["custom"], subgraphs=True)
    events = await collect(stream, outer, {"messages": []}, thread_config())

    assert len(events) == 1
    assert re.fullmatch(rf"custom\|outer:{TASK}\|child:{TASK}", events[0][0])
    assert events[0][1] == {"progress": 50}


async def test_messages_tuple_from_a_subgraph_carries_its_namespace():
    stream = RunStream(["messages-tuple"], subgraphs=True)
    events = await collect(stream, _chatting_parent(), {"messages": []}, thread_config())

    assert len(events) == 5
    assert all(re.fullmatch(rf"messages\|child:{TASK}", name) for name in names(events))
    assert "".join(data[0]["content"] for _, data in events) == "from the child"
    assert events[0][1][1]["langgraph_node"] == "talk"


async def test_legacy_messages_from_a_subgraph_carry_no_namespace():
    stream = RunStream(["messages"], subgraphs=True)
    events = await collect(stream, _chatting_parent(), {"messages": []}, thread_config())

    assert names(events) == ["messages/metadata", *["messages/partial"] * 5]
    assert events[-1][1][0]["content"] == "from the child"


async def test_debug_tasks_and_checkpoints_of_subgraphs_are_namespaced():
    stream = RunStream(["debug", "tasks", "checkpoints"], subgraphs=True)
    events = await collect(stream, counting_parent(InMemorySaver()), {"count": 0}, thread_config())

    child_events = [name for name in names(events) if "|" in name]
    assert {name.split("|")[0] for name in child_events} == {"debug", "tasks", "checkpoints"}
    for name, data in events:
        if name.startswith("debug|") and data["type"] == "checkpoint":
            configurable = data["payload"]["config"]["configurable"]
            ref = data["payload"]["checkpoint"]
            assert ref["checkpoint_ns"].startswith("child:")
            assert ref["checkpoint_id"] == configurable["checkpoint_id"]
            # Addressing a subgraph checkpoint needs the parents' ids too.
            assert ref["checkpoint_map"] == configurable["checkpoint_map"]


async def test_events_mode_with_subgraphs_keeps_namespaced_mode_events():
    stream = RunStream(["events", "custom"], subgraphs=True)
    events = await collect(stream, counting_parent(InMemorySaver()), {"count": 0}, thread_config())

    custom = [(name, data) for name, data in events if name != "events"]
    assert len(custom) == 1
    assert re.fullmatch(rf"custom\|child:{TASK}", custom[0][0])
    started = [data["name"] for name, data in events if data.get("event") == "on_chain_start"]
    assert {"child", "inner_node", "after"} <= set(started)
    assert stream.last_values == {"messages": [], "count": 11}

"""Event names and payloads of every stream mode, as the reference server sends them.

The expected shapes come from captures of the reference server running the same
`agent` fixture graph (one node, "chat", streaming "hello there friend").
"""

from __future__ import annotations

import re

import pytest

from robyn_server.engine.stream_modes import RunStream
from tests.support.graphs import (
    AI_MESSAGE_KEYS,
    CHUNK_KEYS,
    HI,
    HUMAN_MESSAGE_KEYS,
    REPLY,
    TOKENS,
    fixture_graph,
)
from tests.support.runs import names
from tests.support.stream_graphs import collect, counting_parent, thread_config


@pytest.fixture
def agent():
    return fixture_graph("agent")


async def test_values_streams_the_state_after_input_and_after_each_step(agent):
    stream = RunStream(["values"], subgraphs=False)
    events = await collect(stream, agent, HI, thread_config())

    assert names(events) == ["values", "values"]
    first, last = events[0][1], events[1][1]
    assert list(first) == ["messages"]
    assert list(first["messages"][0]) == HUMAN_MESSAGE_KEYS
    assert first["messages"][0]["type"] == "human"
    assert first["messages"][0]["content"] == "hi"
    assert last["count"] == 1
    assert list(last["messages"][1]) == AI_MESSAGE_KEYS
    assert last["messages"][1]["content"] == REPLY
    assert last["messages"][1]["type"] == "ai"


async def test_a_single_mode_string_is_accepted(agent):
    events = await collect(RunStream("values", subgraphs=False), agent, HI, thread_config())
    assert names(events) == ["values", "values"]


async def test_updates_streams_node_returns_and_still_records_the_final_values(agent):
    stream = RunStream(["updates"], subgraphs=False)
    events = await collect(stream, agent, HI, thread_config())

    assert names(events) == ["updates"]
    update = events[0][1]
    assert list(update) == ["chat"]
    assert update["chat"]["count"] == 1
    assert update["chat"]["messages"][0]["content"] == REPLY
    # /wait needs the final state even when values were not requested.
    assert stream.last_values["count"] == 1
    assert [m.content for m in stream.last_values["messages"]] == ["hi", REPLY]
    assert stream.interrupts == []


async def test_custom_mode_streams_what_nodes_write():
    stream = RunStream(["custom"], subgraphs=False)
    events = await collect(stream, counting_parent(), {"count": 0}, thread_config())
    # The only writer sits inside a subgraph: invisible without subgraphs, as captured.
    assert events == []

    stream = RunStream(["custom"], subgraphs=True)
    events = await collect(stream, counting_parent(), {"count": 0}, thread_config())
    assert [data for _, data in events] == [{"progress": 50}]


async def test_several_modes_interleave_in_execution_order(agent):
    stream = RunStream(["values", "messages-tuple", "updates"], subgraphs=False)
    events = await collect(stream, agent, HI, thread_config())
    assert names(events) == ["values", *["messages"] * 5, "updates", "values"]


async def test_modes_not_requested_are_not_emitted(agent):
    stream = RunStream(["messages-tuple"], subgraphs=False)
    events = await collect(stream, agent, HI, thread_config())
    assert set(names(events)) == {"messages"}
    assert stream.last_values["count"] == 1


async def test_checkpoints_mode_streams_each_checkpoint(agent):
    config = thread_config()
    stream = RunStream(["checkpoints"], subgraphs=False)
    events = await collect(stream, agent, HI, config)

    assert names(events) == ["checkpoints"] * 3
    payloads = [data for _, data in events]
    for payload in payloads:
        assert list(payload) == ["config", "parent_config", "values", "metadata", "next", "tasks"]
    assert [p["metadata"]["source"] for p in payloads] == ["input", "loop", "loop"]
    assert [p["metadata"]["step"] for p in payloads] == [-1, 0, 1]
    assert [p["next"] for p in payloads] == [["__start__"], ["chat"], []]
    assert payloads[0]["parent_config"] is None
    assert payloads[1]["parent_config"] == payloads[0]["config"]
    assert payloads[0]["config"]["configurable"]["thread_id"] == config["configurable"]["thread_id"]
    assert payloads[1]["tasks"] == [
        {"id": payloads[1]["tasks"][0]["id"], "name": "chat", "interrupts": [], "state": None}
    ]


async def test_tasks_mode_streams_task_start_then_result(agent):
    stream = RunStream(["tasks"], subgraphs=False)
    events = await collect(stream, agent, HI, thread_config(graph_id="agent"))

    assert names(events) == ["tasks", "tasks"]
    start, result = events[0][1], events[1][1]
    assert list(start) == ["id", "name", "input", "triggers", "metadata"]
    assert start["name"] == "chat"
    assert start["triggers"] == ["branch:to:chat"]
    assert start["input"]["messages"][0]["content"] == "hi"
    assert start["metadata"]["graph_id"] == "agent"
    assert list(result) == ["id", "name", "error", "result", "interrupts"]
    assert result["id"] == start["id"]
    assert result["error"] is None
    assert result["result"]["messages"][0]["content"] == REPLY
    assert result["interrupts"] == []


async def test_debug_checkpoints_gain_flat_checkpoint_references(agent):
    config = thread_config()
    thread_id = config["configurable"]["thread_id"]
    stream = RunStream(["debug"], subgraphs=False)
    events = await collect(stream, agent, HI, config)

    assert names(events) == ["debug"] * 5
    debug = [data for _, data in events]
    assert [d["type"] for d in debug] == [
        "checkpoint",
        "checkpoint",
        "task",
        "task_result",
        "checkpoint",
    ]
    assert [d["step"] for d in debug] == [-1, 0, 1, 1, 1]
    for event in debug:
        assert list(event) == ["step", "timestamp", "type", "payload"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", event["timestamp"])

    first, second = debug[0]["payload"], debug[1]["payload"]
    assert list(first) == [
        "config",
        "parent_config",
        "values",
        "metadata",
        "next",
        "tasks",
        "checkpoint",
        "parent_checkpoint",
    ]
    assert first["checkpoint"] == {
        "checkpoint_id": first["config"]["configurable"]["checkpoint_id"],
        "thread_id": thread_id,
        "checkpoint_ns": "",
    }
    assert first["parent_checkpoint"] is None
    assert second["parent_checkpoint"] == first["checkpoint"]
    assert list(debug[2]["payload"]) == ["id", "name", "input", "triggers"]
    assert list(debug[3]["payload"]) == ["id", "name", "error", "result", "interrupts"]


async def test_checkpoints_mode_keeps_its_shape_next_to_debug(agent):
    stream = RunStream(["checkpoints", "debug"], subgraphs=False)
    events = await collect(stream, agent, HI, thread_config())

    checkpoints = [data for name, data in events if name == "checkpoints"]
    debug_checkpoints = [
        data["payload"] for name, data in events if name == "debug" and data["type"] == "checkpoint"
    ]
    assert len(checkpoints) == len(debug_checkpoints) == 3
    assert all("checkpoint" not in payload for payload in checkpoints)
    assert all("checkpoint" in payload for payload in debug_checkpoints)


async def test_messages_tuple_streams_token_deltas_with_metadata(agent):
    stream = RunStream(["messages-tuple"], subgraphs=False)
    events = await collect(stream, agent, HI, thread_config(graph_id="agent"))

    assert names(events) == ["messages"] * 5
    for _, data in events:
        assert isinstance(data, list) and len(data) == 2
        chunk, metadata = data
        assert list(chunk) == CHUNK_KEYS
        assert chunk["type"] == "AIMessageChunk"
        assert chunk["id"] == events[0][1][0]["id"]
        assert metadata["graph_id"] == "agent"
        assert metadata["langgraph_node"] == "chat"
        assert metadata["langgraph_step"] == 1
        assert metadata["langgraph_triggers"] == ["branch:to:chat"]
        assert metadata["langgraph_path"] == ["__pregel_pull", "chat"]
        assert metadata["langgraph_checkpoint_ns"].startswith("chat:")
        assert metadata["ls_provider"] == "genericfakechatmodel"
    assert [data[0]["content"] for _, data in events] == TOKENS
    assert [data[0]["chunk_position"] for _, data in events] == [None] * 4 + ["last"]


async def test_legacy_messages_stream_metadata_once_then_growing_partials(agent):
    stream = RunStream(["messages"], subgraphs=False)
    events = await collect(stream, agent, HI, thread_config(graph_id="agent"))

    assert names(events) == ["messages/metadata", *["messages/partial"] * 5]
    announced = events[0][1]
    (message_id,) = announced
    assert list(announced[message_id]) == ["metadata"]
    assert announced[message_id]["metadata"]["langgraph_node"] == "chat"
    assert announced[message_id]["metadata"]["graph_id"] == "agent"

    partials = [data for _, data in events[1:]]
    assert all(len(partial) == 1 for partial in partials)
    assert [p[0]["content"] for p in partials] == [
        "hello",
        "hello ",
        "hello there",
        "hello there ",
        "hello there friend",
    ]
    for (message,) in partials:
        assert list(message) == AI_MESSAGE_KEYS
        assert message["type"] == "ai"
        assert message["id"] == message_id


async def test_tuple_format_wins_when_both_message_modes_are_requested(agent):
    stream = RunStream(["messages", "messages-tuple"], subgraphs=False)
    events = await collect(stream, agent, HI, thread_config())
    assert names(events) == ["messages"] * 5


async def test_events_mode_streams_langchain_events_without_the_graphs_own_stream(agent):
    stream = RunStream(["events"], subgraphs=False)
    events = await collect(stream, agent, HI, thread_config(graph_id="agent"))

    assert set(names(events)) == {"events"}
    kinds = [data["event"] for _, data in events]
    root = events[0][1]
    assert kinds[0] == "on_chain_start"
    assert list(root) == ["event", "data", "name", "tags", "run_id", "metadata", "parent_ids"]
    assert root["parent_ids"] == []
    assert root["data"] == {"input": HI}
    assert root["metadata"]["graph_id"] == "agent"
    assert events[1][1]["event"] == "on_chain_start"
    assert events[1][1]["name"] == "chat"
    assert events[1][1]["parent_ids"] == [root["run_id"]]
    assert kinds.count("on_chat_model_stream") == 5
    assert kinds[-1] == "on_chain_end"
    # The root run's on_chain_stream events are the graph's internal values/updates.
    assert not any(
        data["event"] == "on_chain_stream" and data["run_id"] == root["run_id"]
        for _, data in events
    )
    assert stream.last_values["count"] == 1


async def test_events_mode_mixes_with_other_modes(agent):
    stream = RunStream(["events", "values", "messages-tuple"], subgraphs=False)
    events = await collect(stream, agent, HI, thread_config())

    assert names(events).count("values") == 2
    assert names(events).count("messages") == 5
    assert names(events)[0] == "events"
    values = [data for name, data in events if name == "values"]
    assert values[-1]["messages"][-1]["content"] == REPLY

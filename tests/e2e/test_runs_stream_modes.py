"""Every stream mode through langgraph-sdk, compared with what the reference server
sends (captures/sse.txt), on both backends."""

from __future__ import annotations

import uuid

from tests.support.graphs import AGENT_ASSISTANT_ID, CHUNK_KEYS, HI, REPLY, TOKENS
from tests.support.runs import names, new_thread, of, stream


async def test_values(client, tag):
    thread_id = await new_thread(client, tag)
    events = await stream(client, thread_id, "agent", input=HI, stream_mode="values")
    assert names(events) == ["metadata", "values", "values"]
    first, last = of(events, "values")
    assert first == {"messages": [first["messages"][0]]}
    human = first["messages"][0]
    assert list(human) == CHUNK_KEYS[:6]
    assert (human["type"], human["content"]) == ("human", "hi")
    uuid.UUID(human["id"])
    assert last["messages"][0] == human
    ai = last["messages"][1]
    assert list(ai) == CHUNK_KEYS[:9]
    assert (ai["type"], ai["content"], ai["tool_calls"]) == ("ai", REPLY, [])
    assert last["count"] == 1
    state = await client.threads.get_state(thread_id)
    assert state["values"] == last


async def test_updates(client, tag):
    thread_id = await new_thread(client, tag)
    events = await stream(client, thread_id, "agent", input=HI, stream_mode="updates")
    assert names(events) == ["metadata", "updates"]
    (update,) = of(events, "updates")
    assert list(update) == ["chat"]
    assert update["chat"]["count"] == 1
    assert [m["content"] for m in update["chat"]["messages"]] == [REPLY]


async def test_messages_tuple(client, tag):
    thread_id = await new_thread(client, tag)
    events = await stream(client, thread_id, "agent", input=HI, stream_mode="messages-tuple")
    run_id = events[0][1]["run_id"]
    # The SSE event is `messages`, not `messages-tuple`.
    assert names(events) == ["metadata"] + ["messages"] * len(TOKENS)
    chunks = [chunk for chunk, _ in of(events, "messages")]
    assert [c["content"] for c in chunks] == TOKENS
    assert all(list(c) == CHUNK_KEYS for c in chunks)
    assert {c["type"] for c in chunks} == {"AIMessageChunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert [c["chunk_position"] for c in chunks] == [None] * 4 + ["last"]

    for _, metadata in of(events, "messages"):
        assert metadata["langgraph_node"] == "chat"
        assert metadata["langgraph_step"] == 1
        assert metadata["langgraph_triggers"] == ["branch:to:chat"]
        assert metadata["langgraph_path"] == ["__pregel_pull", "chat"]
        assert metadata["langgraph_checkpoint_ns"].startswith("chat:")
        assert metadata["checkpoint_ns"] == metadata["langgraph_checkpoint_ns"]
        assert metadata["run_id"] == run_id
        assert metadata["thread_id"] == thread_id
        assert metadata["graph_id"] == "agent"
        assert metadata["assistant_id"] == AGENT_ASSISTANT_ID
        assert metadata["ls_provider"] == "genericfakechatmodel"
    # The streamed message is the one the state keeps.
    state = await client.threads.get_state(thread_id)
    assert state["values"]["messages"][-1]["id"] == chunks[0]["id"]


async def test_legacy_messages(client, tag):
    thread_id = await new_thread(client, tag)
    events = await stream(client, thread_id, "agent", input=HI, stream_mode="messages")
    assert names(events) == ["metadata", "messages/metadata"] + ["messages/partial"] * 5
    (announced,) = of(events, "messages/metadata")
    (message_id,) = announced
    metadata = announced[message_id]["metadata"]
    assert metadata["langgraph_node"] == "chat"
    assert metadata["run_id"] == events[0][1]["run_id"]
    partials = of(events, "messages/partial")
    assert all(len(p) == 1 for p in partials)
    assert [p[0]["content"] for p in partials] == [
        "hello",
        "hello ",
        "hello there",
        "hello there ",
        REPLY,
    ]
    assert {p[0]["type"] for p in partials} == {"ai"}
    assert {p[0]["id"] for p in partials} == {message_id}
    assert list(partials[-1][0]) == CHUNK_KEYS[:9]


async def test_both_message_formats_give_tuples_only(client, tag):
    thread_id = await new_thread(client, tag)
    events = await stream(
        client, thread_id, "agent", input=HI, stream_mode=["messages", "messages-tuple"]
    )
    assert names(events) == ["metadata"] + ["messages"] * len(TOKENS)


async def test_custom(client, tag):
    thread_id = await new_thread(client, tag)
    events = await stream(
        client, thread_id, "stream_loop", input={"until": 3}, stream_mode="custom"
    )
    assert names(events) == ["metadata", "custom", "custom", "custom"]
    assert of(events, "custom") == [{"tick": 1}, {"tick": 2}, {"tick": 3}]
    # A graph that writes nothing custom streams nothing but metadata.
    quiet = await stream(client, thread_id, "agent", input=HI, stream_mode="custom")
    assert names(quiet) == ["metadata"]


async def test_debug(client, tag):
    thread_id = await new_thread(client, tag)
    events = await stream(client, thread_id, "agent", input=HI, stream_mode="debug")
    debug = of(events, "debug")
    assert [(d["type"], d["step"]) for d in debug] == [
        ("checkpoint", -1),
        ("checkpoint", 0),
        ("task", 1),
        ("task_result", 1),
        ("checkpoint", 1),
    ]
    checkpoints = [d["payload"] for d in debug if d["type"] == "checkpoint"]
    for payload in checkpoints:
        assert {
            "config",
            "parent_config",
            "values",
            "metadata",
            "next",
            "tasks",
            "checkpoint",
            "parent_checkpoint",
        } <= set(payload)
        conf = payload["config"]["configurable"]
        assert payload["checkpoint"] == {
            "checkpoint_id": conf["checkpoint_id"],
            "thread_id": thread_id,
            "checkpoint_ns": "",
        }
    assert checkpoints[0]["parent_checkpoint"] is None
    assert checkpoints[1]["parent_checkpoint"] == checkpoints[0]["checkpoint"]
    assert [p["next"] for p in checkpoints] == [["__start__"], ["chat"], []]
    assert [p["metadata"]["source"] for p in checkpoints] == ["input", "loop", "loop"]
    task, result = debug[2]["payload"], debug[3]["payload"]
    assert (task["name"], task["triggers"]) == ("chat", ["branch:to:chat"])
    assert result["id"] == task["id"]
    assert (result["error"], result["interrupts"]) == (None, [])
    assert result["result"]["count"] == 1
    # What debug announced is what the thread's history holds.
    history = await client.threads.get_history(thread_id)
    assert [h["checkpoint"]["checkpoint_id"] for h in history] == [
        p["checkpoint"]["checkpoint_id"] for p in reversed(checkpoints)
    ]


async def test_tasks(client, tag):
    thread_id = await new_thread(client, tag)
    events = await stream(client, thread_id, "agent", input=HI, stream_mode="tasks")
    assert names(events) == ["metadata", "tasks", "tasks"]
    start, end = of(events, "tasks")
    assert start["name"] == "chat"
    assert start["triggers"] == ["branch:to:chat"]
    assert [m["content"] for m in start["input"]["messages"]] == ["hi"]
    assert end["id"] == start["id"]
    assert (end["name"], end["error"], end["interrupts"]) == ("chat", None, [])
    assert end["result"]["count"] == 1
    assert [m["content"] for m in end["result"]["messages"]] == [REPLY]


async def test_checkpoints(client, tag):
    thread_id = await new_thread(client, tag)
    events = await stream(client, thread_id, "agent", input=HI, stream_mode="checkpoints")
    assert names(events) == ["metadata", "checkpoints", "checkpoints", "checkpoints"]
    checkpoints = of(events, "checkpoints")
    for item in checkpoints:
        assert set(item) == {"config", "parent_config", "values", "metadata", "next", "tasks"}
    assert [c["metadata"]["source"] for c in checkpoints] == ["input", "loop", "loop"]
    assert [c["metadata"]["step"] for c in checkpoints] == [-1, 0, 1]
    assert [c["next"] for c in checkpoints] == [["__start__"], ["chat"], []]
    assert checkpoints[0]["parent_config"] is None
    ids = [c["config"]["configurable"]["checkpoint_id"] for c in checkpoints]
    assert [c["parent_config"]["configurable"]["checkpoint_id"] for c in checkpoints[1:]] == ids[
        :-1
    ]
    assert checkpoints[-1]["values"]["count"] == 1
    state = await client.threads.get_state(thread_id)
    assert state["checkpoint"]["checkpoint_id"] == ids[-1]


async def test_events(client, tag):
    thread_id = await new_thread(client, tag)
    events = await stream(client, thread_id, "agent", input=HI, stream_mode="events")
    run_id = events[0][1]["run_id"]
    assert set(names(events)) == {"metadata", "events"}
    lc = of(events, "events")
    assert lc[0]["event"] == "on_chain_start"
    assert lc[0]["name"] == "agent"
    assert lc[0]["data"]["input"] == HI
    assert lc[0]["metadata"]["run_id"] == run_id
    # The graph's own LangChain run is the server's run, as in the reference.
    assert lc[0]["run_id"] == run_id
    assert lc[0]["parent_ids"] == []
    assert lc[-1]["event"] == "on_chain_end"
    for event in lc:
        assert {"event", "data", "name", "tags", "run_id", "metadata", "parent_ids"} <= set(event)
    tokens = [e["data"]["chunk"]["content"] for e in lc if e["event"] == "on_chat_model_stream"]
    assert tokens == TOKENS
    node = next(e for e in lc if e["event"] == "on_chain_start" and e["name"] == "chat")
    assert node["metadata"]["langgraph_node"] == "chat"


async def test_mixed_modes_interleave_in_execution_order(client, tag):
    thread_id = await new_thread(client, tag)
    events = await stream(
        client,
        thread_id,
        "agent",
        input=HI,
        stream_mode=["values", "messages-tuple", "updates"],
    )
    assert names(events) == ["metadata", "values"] + ["messages"] * 5 + ["updates", "values"]
    update = of(events, "updates")[0]["chat"]
    final = of(events, "values")[-1]
    assert final["messages"][-1] == update["messages"][0]


async def test_every_mode_at_once(client, tag):
    thread_id = await new_thread(client, tag)
    modes = ["values", "updates", "custom", "debug", "tasks", "checkpoints", "messages-tuple"]
    events = await stream(client, thread_id, "stream_tools", input=HI, stream_mode=modes)
    assert names(events)[0] == "metadata"
    assert set(names(events)) == {"metadata", "messages", *modes} - {"messages-tuple"}
    assert len(of(events, "checkpoints")) == 4
    assert len(of(events, "tasks")) == 4
    assert of(events, "custom") == [
        {"tool": "get_weather", "status": "running"},
        {"tool": "get_weather", "status": "done"},
    ]

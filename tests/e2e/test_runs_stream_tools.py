"""Tool calls and content blocks as chat UIs receive them: tool-call chunks and
list-typed content in messages-tuple, assembled tool calls in the legacy mode."""

from __future__ import annotations

from tests.support.runs import names, new_thread, of, stream

CALL_ID = "call_weather_1"
ASK = {"messages": [{"role": "user", "content": "weather in Paris?"}]}


async def test_messages_tuple_carries_tool_call_chunks_and_content_blocks(client, tag):
    thread_id = await new_thread(client, tag)
    events = await stream(
        client, thread_id, "stream_tools", input=ASK, stream_mode="messages-tuple"
    )
    messages = of(events, "messages")
    model = [(chunk, meta) for chunk, meta in messages if meta["langgraph_node"] == "model"]
    chunks = [chunk for chunk, _ in model]
    assert {c["type"] for c in chunks} == {"AIMessageChunk"}
    assert len({c["id"] for c in chunks}) == 1

    # Content blocks arrive as lists, in order.
    assert chunks[0]["content"] == [{"type": "text", "text": "Let me ", "index": 0}]
    assert chunks[1]["content"] == [{"type": "text", "text": "check.", "index": 0}]
    # The tool call arrives in argument fragments.
    fragments = [c["tool_call_chunks"] for c in chunks if c["tool_call_chunks"]]
    assert fragments == [
        [
            {
                "name": "get_weather",
                "args": '{"city": ',
                "id": CALL_ID,
                "index": 1,
                "type": "tool_call_chunk",
            }
        ],
        [{"name": None, "args": '"Paris"}', "id": None, "index": 1, "type": "tool_call_chunk"}],
    ]
    assert chunks[-1]["chunk_position"] == "last"

    # The tool's answer is a whole message, streamed once, from the tools node.
    tool = [(chunk, meta) for chunk, meta in messages if meta["langgraph_node"] == "tools"]
    assert len(tool) == 1
    answer, _ = tool[0]
    assert answer["type"] == "tool"
    assert (answer["content"], answer["tool_call_id"]) == ("sunny in Paris", CALL_ID)
    assert names(events) == ["metadata"] + ["messages"] * (len(model) + 1)


async def test_final_state_has_the_assembled_tool_call(client, tag):
    thread_id = await new_thread(client, tag)
    events = await stream(client, thread_id, "stream_tools", input=ASK, stream_mode="values")
    final = of(events, "values")[-1]
    _, ai, tool = final["messages"]
    assert ai["type"] == "ai"
    assert ai["content"] == [{"type": "text", "text": "Let me check.", "index": 0}]
    assert [(c["name"], c["args"], c["id"]) for c in ai["tool_calls"]] == [
        ("get_weather", {"city": "Paris"}, CALL_ID)
    ]
    assert tool["tool_call_id"] == CALL_ID
    thread = await client.threads.get(thread_id)
    assert thread["values"] == final


async def test_legacy_messages_assemble_tool_calls(client, tag):
    thread_id = await new_thread(client, tag)
    events = await stream(client, thread_id, "stream_tools", input=ASK, stream_mode="messages")
    announced = of(events, "messages/metadata")
    assert len(announced) == 2  # the model's message and the tool's
    partials = of(events, "messages/partial")
    last = partials[-1][0]
    assert last["type"] == "ai"
    assert last["content"] == [{"type": "text", "text": "Let me check.", "index": 0}]
    assert [(c["name"], c["args"]) for c in last["tool_calls"]] == [
        ("get_weather", {"city": "Paris"})
    ]
    (complete,) = of(events, "messages/complete")
    assert complete[0]["type"] == "tool"
    assert complete[0]["content"] == "sunny in Paris"
    assert names(events).index("messages/complete") > names(events).index("messages/partial")

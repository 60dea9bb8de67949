"""Message streaming beyond plain text: tool-call chunks, content blocks, and messages that
arrive whole, in both the tuple format and the legacy accumulated format."""

from __future__ import annotations

from langchain_core.messages import AIMessage, AIMessageChunk, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph

from robyn_server.engine.stream_messages import LegacyMessages
from robyn_server.engine.stream_modes import RunStream
from tests.support.graphs import AI_MESSAGE_KEYS, CHUNK_KEYS, HI
from tests.support.runs import names
from tests.support.stream_graphs import collect, model_graph, thread_config

TOOL_CALL = [
    AIMessageChunk(
        content="",
        tool_call_chunks=[{"name": "search", "args": '{"query": ', "id": "call_1", "index": 0}],
    ),
    AIMessageChunk(
        content="",
        tool_call_chunks=[{"name": None, "args": '"weather"}', "id": None, "index": 0}],
        chunk_position="last",
    ),
]
CONTENT_BLOCKS = [
    AIMessageChunk(content=[{"type": "text", "text": "Hel", "index": 0}]),
    AIMessageChunk(content=[{"type": "text", "text": "lo", "index": 0}], chunk_position="last"),
]


async def test_tool_call_chunks_reach_the_tuple_format_as_streamed():
    stream = RunStream(["messages-tuple"], subgraphs=False)
    events = await collect(stream, model_graph(TOOL_CALL), HI, thread_config())

    assert names(events) == ["messages", "messages"]
    chunks = [data[0] for _, data in events]
    assert all(list(chunk) == CHUNK_KEYS for chunk in chunks)
    assert chunks[0]["tool_call_chunks"] == [
        {
            "name": "search",
            "args": '{"query": ',
            "id": "call_1",
            "index": 0,
            "type": "tool_call_chunk",
        }
    ]
    assert chunks[1]["tool_call_chunks"][0]["args"] == '"weather"}'
    assert chunks[1]["chunk_position"] == "last"


async def test_legacy_partials_accumulate_tool_calls():
    stream = RunStream(["messages"], subgraphs=False)
    events = await collect(stream, model_graph(TOOL_CALL), HI, thread_config())

    assert names(events) == ["messages/metadata", "messages/partial", "messages/partial"]
    first, last = events[1][1][0], events[2][1][0]
    assert list(last) == AI_MESSAGE_KEYS
    assert first["tool_calls"][0]["name"] == "search"
    assert first["tool_calls"][0]["id"] == "call_1"
    assert last["tool_calls"] == [
        {"name": "search", "args": {"query": "weather"}, "id": "call_1", "type": "tool_call"}
    ]


async def test_content_blocks_are_carried_and_merged():
    stream = RunStream(["messages-tuple"], subgraphs=False)
    events = await collect(stream, model_graph(CONTENT_BLOCKS), HI, thread_config())
    assert [data[0]["content"] for _, data in events] == [
        [{"type": "text", "text": "Hel", "index": 0}],
        [{"type": "text", "text": "lo", "index": 0}],
    ]

    stream = RunStream(["messages"], subgraphs=False)
    events = await collect(stream, model_graph(CONTENT_BLOCKS), HI, thread_config())
    assert events[-1][1][0]["content"] == [{"type": "text", "text": "Hello", "index": 0}]


async def test_messages_that_arrive_whole_are_complete_in_legacy_mode():
    def answer(state: MessagesState) -> dict:
        return {
            "messages": [
                AIMessage(
                    content="", id="ai-1", tool_calls=[{"name": "t", "args": {}, "id": "c1"}]
                ),
                ToolMessage(content="done", tool_call_id="c1", id="tool-1"),
            ]
        }

    graph = (
        StateGraph(MessagesState)
        .add_node("answer", answer)
        .add_edge(START, "answer")
        .add_edge("answer", END)
        .compile(checkpointer=InMemorySaver())
    )
    stream = RunStream(["messages"], subgraphs=False)
    events = await collect(stream, graph, HI, thread_config())

    assert names(events) == [
        "messages/metadata",
        "messages/complete",
        "messages/metadata",
        "messages/complete",
    ]
    assert list(events[0][1]) == ["ai-1"]
    assert events[0][1]["ai-1"]["metadata"]["langgraph_node"] == "answer"
    assert events[1][1][0]["type"] == "ai"
    assert events[1][1][0]["tool_calls"][0]["id"] == "c1"
    assert events[3][1][0]["type"] == "tool"
    assert events[3][1][0]["tool_call_id"] == "c1"

    # The tuple format sends the same whole messages, each as one event.
    stream = RunStream(["messages-tuple"], subgraphs=False)
    events = await collect(stream, graph, HI, thread_config())
    assert [data[0]["id"] for _, data in events] == ["ai-1", "tool-1"]


def test_interleaved_messages_accumulate_separately():
    legacy = LegacyMessages()
    metadata = {"langgraph_node": "n"}
    events = [
        *legacy.events(AIMessageChunk(content="a", id="one"), metadata),
        *legacy.events(AIMessageChunk(content="x", id="two"), metadata),
        *legacy.events(AIMessageChunk(content="b", id="one"), metadata),
        *legacy.events(AIMessageChunk(content="y", id="two"), metadata),
    ]
    partials = [
        (data[0]["id"], data[0]["content"]) for name, data in events if name == "messages/partial"
    ]
    assert partials == [("one", "a"), ("two", "x"), ("one", "ab"), ("two", "xy")]
    assert [name for name, _ in events].count("messages/metadata") == 2

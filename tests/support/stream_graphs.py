"""Graphs and helpers for the stream-mode unit tests, which drive `RunStream` in process.

`collect` encodes every event the moment it is yielded, with the server's own encoder, and
decodes it again: the tests see exactly what a client would parse.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, MessagesState, StateGraph

from robyn_server.engine.stream_modes import RunStream
from robyn_server.serialization import dumps


def thread_config(**metadata: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": str(uuid.uuid4())}, "metadata": metadata}


async def collect(
    stream: RunStream, graph: Any, input: Any, config: dict[str, Any], **options: Any
) -> list[tuple[str, Any]]:
    events = []
    async for name, data in stream.run(graph, input, config, **options):
        events.append((name, orjson.loads(dumps(data))))
    return events


class CountState(MessagesState):
    count: int


def counting_parent(checkpointer: Any = None) -> Any:
    """The reference capture's `parent` graph: a subgraph node `child` (one node that
    writes `{"progress": 50}` to the custom stream and sets count 10), then `after`."""

    def inner_node(state: CountState) -> dict:
        get_stream_writer()({"progress": 50})
        return {"count": 10}

    def after(state: CountState) -> dict:
        return {"count": state["count"] + 1}

    child = (
        StateGraph(CountState)
        .add_node("inner_node", inner_node)
        .add_edge(START, "inner_node")
        .add_edge("inner_node", END)
        .compile()
    )
    return (
        StateGraph(CountState)
        .add_node("child", child)
        .add_node("after", after)
        .add_edge(START, "child")
        .add_edge("child", "after")
        .add_edge("after", END)
        .compile(checkpointer=checkpointer)
    )


class ScriptedChatModel(BaseChatModel):
    """Streams the given chunks as they are, the way a provider streams tool calls and
    content blocks (GenericFakeChatModel can only split a string)."""

    chunks: list[AIMessageChunk]

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs):
        whole = self.chunks[0]
        for chunk in self.chunks[1:]:
            whole = whole + chunk
        return ChatResult(generations=[ChatGeneration(message=whole)])

    def _stream(
        self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in self.chunks:
            generation = ChatGenerationChunk(message=chunk.model_copy())
            if run_manager:
                run_manager.on_llm_new_token(generation.text, chunk=generation)
            yield generation

    async def _astream(
        self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs
    ) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in self.chunks:
            generation = ChatGenerationChunk(message=chunk.model_copy())
            if run_manager:
                await run_manager.on_llm_new_token(generation.text, chunk=generation)
            yield generation


def model_graph(chunks: list[AIMessageChunk]) -> Any:
    """One node, "model", answering with a ScriptedChatModel streaming `chunks`."""

    async def model(state: MessagesState) -> dict:
        reply = await ScriptedChatModel(chunks=chunks).ainvoke(state["messages"])
        return {"messages": [reply]}

    return (
        StateGraph(MessagesState)
        .add_node("model", model)
        .add_edge(START, "model")
        .add_edge("model", END)
        .compile(checkpointer=InMemorySaver())
    )

"""The graphs of the run benchmarks, served unchanged by our server and by the reference.

`trivial`: one node asking a fake chat model, which answers "hello there friend" at once;
what a run costs besides the model. `sleepy`: one node that waits 2 s without using the
CPU, like a slow model or tool; what many concurrent runs cost. `slow`: the same, for
`configurable.delay` seconds (default 10); what holding many streams open costs
(bench/streams.py).
"""

import asyncio

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, MessagesState, StateGraph

REPLY = "hello there friend"
SLEEP_SECONDS = 2
SLOW_DEFAULT_SECONDS = 10.0


async def answer(state: MessagesState) -> dict:
    # A fresh model per call: the fake consumes its iterator of canned replies.
    model = GenericFakeChatModel(messages=iter([AIMessage(content=REPLY)]))
    return {"messages": [await model.ainvoke(state["messages"])]}


async def sleep(state: MessagesState) -> dict:
    await asyncio.sleep(SLEEP_SECONDS)
    return {"messages": [AIMessage(content=f"slept {SLEEP_SECONDS}s")]}


async def wait(state: MessagesState, config: RunnableConfig) -> dict:
    delay = float((config.get("configurable") or {}).get("delay", SLOW_DEFAULT_SECONDS))
    await asyncio.sleep(delay)
    return {"messages": [AIMessage(content=f"slept {delay:g}s")]}


trivial = (
    StateGraph(MessagesState)
    .add_node("answer", answer)
    .add_edge(START, "answer")
    .add_edge("answer", END)
    .compile(name="trivial")
)

sleepy = (
    StateGraph(MessagesState)
    .add_node("sleep", sleep)
    .add_edge(START, "sleep")
    .add_edge("sleep", END)
    .compile(name="sleepy")
)

slow = (
    StateGraph(MessagesState)
    .add_node("wait", wait)
    .add_edge(START, "wait")
    .add_edge("wait", END)
    .compile(name="slow")
)

"""The tools agent: a configurable chat agent served as graph "agent".

The model is built inside the node, per run, from the run's context. That keeps module
import free of provider packages and API keys, and lets every assistant pick its own
model. Tools, MCP servers and the tool loop will hang off this same node later.
"""

from __future__ import annotations

from typing import Any

from langchain.chat_models import init_chat_model
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.runtime import Runtime

from tools_agent.context import AgentContext

__all__ = ["AgentContext", "build_model", "graph"]


def build_model(settings: AgentContext) -> BaseChatModel:
    kwargs: dict[str, Any] = {
        key: value
        for key in ("temperature", "max_tokens", "base_url", "api_key")
        if (value := getattr(settings, key)) is not None
    }
    return init_chat_model(settings.model_name, **kwargs)


async def call_model(
    state: MessagesState, config: RunnableConfig, runtime: Runtime[AgentContext]
) -> dict[str, Any]:
    settings = AgentContext.resolve(runtime.context, config.get("configurable"))
    model = build_model(settings)
    messages = list(state["messages"])
    if settings.system_prompt:
        messages = [SystemMessage(content=settings.system_prompt), *messages]
    response = await model.ainvoke(messages, config)
    return {"messages": [response]}


graph = (
    StateGraph(MessagesState, context_schema=AgentContext)
    .add_node("call_model", call_model)
    .add_edge(START, "call_model")
    .add_edge("call_model", END)
    .compile(name="agent")
)

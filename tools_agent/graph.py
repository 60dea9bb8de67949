"""The tools agent: a configurable tool-calling agent, served as graph "agent".

    START -> agent -> (tool calls?) -> tools -> agent ... -> END

Everything is decided per run from the run's settings (`AgentContext`): the model is
built inside the node, so importing this module needs no provider package or key, and
every assistant can pick its own model, MCP servers, memory and approvals. The model
streams its tokens through LangGraph's `messages` stream mode like any chat model call.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal, cast

from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage, SystemMessage, ToolCall, ToolMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from tools_agent.approval import Decision, parse_decisions, review_request
from tools_agent.context import AgentContext
from tools_agent.models import AgentConfigurationError, build_model
from tools_agent.toolbox import load_toolbox

__all__ = ["AgentConfigurationError", "AgentContext", "build_model", "graph"]


def _settings(config: RunnableConfig, runtime: Runtime[AgentContext]) -> AgentContext:
    return AgentContext.resolve(runtime.context, config.get("configurable"))


async def call_model(
    state: MessagesState, config: RunnableConfig, runtime: Runtime[AgentContext]
) -> dict[str, Any]:
    settings = _settings(config, runtime)
    chat_model = build_model(settings)
    toolbox = await load_toolbox(settings, config.get("configurable") or {}, runtime.store)
    model: Runnable[LanguageModelInput, AIMessage] = chat_model
    if toolbox.tools:
        model = chat_model.bind_tools(toolbox.tools)
    prompt = settings.system_prompt + toolbox.system_note()
    messages = [SystemMessage(content=prompt), *state["messages"]] if prompt else state["messages"]
    response = await model.ainvoke(messages, config)
    return {"messages": [response]}


def route_after_model(state: MessagesState) -> Literal["tools", "__end__"]:
    last = state["messages"][-1]
    # "__end__" is END, spelt out because END is typed as a plain str.
    return "tools" if isinstance(last, AIMessage) and last.tool_calls else "__end__"


async def run_tools(
    state: MessagesState, config: RunnableConfig, runtime: Runtime[AgentContext]
) -> dict[str, Any]:
    settings = _settings(config, runtime)
    # route_after_model sends only an AIMessage with tool calls here.
    request = cast(AIMessage, state["messages"][-1])
    calls: list[ToolCall] = [ToolCall(**c) for c in request.tool_calls]  # edits stay local
    answers: dict[str | None, ToolMessage] = {}  # by call id, which may be missing
    outputs: list[Any] = []

    reviewed = [c for c in calls if c["name"] in settings.interrupt_before_tools]
    if reviewed:
        # Runs again from the top when resumed; `interrupt` then returns the answer.
        decisions = parse_decisions(interrupt(review_request(reviewed)), len(reviewed))
        edited = False
        for call, decision in zip(reviewed, decisions, strict=True):
            if decision.kind == "reject":
                answers[call["id"]] = _rejection(call, decision)
            elif decision.kind == "edit":
                _apply_edit(call, decision)
                edited = True
        if edited:
            # The conversation records the call that actually ran.
            kwargs = {k: v for k, v in request.additional_kwargs.items() if k != "tool_calls"}
            outputs.append(
                request.model_copy(update={"tool_calls": calls, "additional_kwargs": kwargs})
            )

    toolbox = await load_toolbox(settings, config.get("configurable") or {}, runtime.store)
    pending = [c for c in calls if c["id"] not in answers]
    results = await asyncio.gather(*(toolbox.execute(c, config) for c in pending))
    answers.update({call["id"]: result for call, result in zip(pending, results, strict=True)})
    outputs.extend(answers[c["id"]] for c in calls)
    return {"messages": outputs}


def _apply_edit(call: ToolCall, decision: Decision) -> None:
    call["args"] = dict(decision.args or {})
    if decision.name:
        call["name"] = decision.name


def _rejection(call: ToolCall, decision: Decision) -> ToolMessage:
    reason = f" They said: {decision.message}" if decision.message else ""
    return ToolMessage(
        content=f"The user rejected this call to '{call['name']}'; it did not run.{reason}",
        name=call["name"],
        tool_call_id=call["id"],
        status="error",
    )


# LangGraph passes `config` and `runtime` by parameter name, but its add_node overloads
# have no protocol for a node taking both, hence the ignore (the rest of the chain is
# then Any to mypy, so "tools" needs none).
graph = (
    StateGraph(MessagesState, context_schema=AgentContext)
    .add_node("agent", call_model)  # type: ignore[call-overload]
    .add_node("tools", run_tools)
    .add_edge(START, "agent")
    .add_conditional_edges("agent", route_after_model, ["tools", END])
    .add_edge("tools", "agent")
    .compile(name="agent")
)

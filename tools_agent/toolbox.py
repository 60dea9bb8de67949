"""The tools of one run, and running the calls a model makes.

A tool that fails, times out, is unknown or is not allowed never fails the run: it
answers with an error `ToolMessage` the model can read and react to.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import ToolCall, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.errors import GraphBubbleUp
from langgraph.store.base import BaseStore

from tools_agent.context import AgentContext
from tools_agent.mcp_tools import describe_error, mcp_cache
from tools_agent.memory import memory_namespace, memory_tools

__all__ = ["Toolbox", "load_toolbox"]

logger = logging.getLogger(__name__)

# Tools that are not MCP tools (memory) get this long.
LOCAL_TOOL_TIMEOUT = 60.0


@dataclass
class _Origin:
    """Where a tool comes from: its MCP server (cache key) and time limit."""

    timeout: float
    mcp_key: str | None = None


@dataclass
class Toolbox:
    tools: list[BaseTool] = field(default_factory=list)
    origins: dict[str, _Origin] = field(default_factory=dict)
    # Servers whose tools could not be loaded: label -> reason.
    unavailable: dict[str, str] = field(default_factory=dict)

    def add(self, tool: BaseTool, origin: _Origin) -> None:
        if tool.name in self.origins:
            logger.warning("Tool %r is offered twice; the first one is used", tool.name)
            return
        self.tools.append(tool)
        self.origins[tool.name] = origin

    def system_note(self) -> str:
        """Tells the model which tool servers are down, so it can tell the user."""
        if not self.unavailable:
            return ""
        servers = "; ".join(f"{label} ({reason})" for label, reason in self.unavailable.items())
        return f"\n\nSome tool servers are unavailable right now: {servers}."

    async def execute(self, call: ToolCall, config: RunnableConfig) -> ToolMessage:
        tool = next((t for t in self.tools if t.name == call["name"]), None)
        if tool is None:
            return _error(call, self._unknown(call["name"]))
        origin = self.origins[tool.name]
        try:
            async with asyncio.timeout(origin.timeout):
                result = await tool.ainvoke({**call, "type": "tool_call"}, config)
        except GraphBubbleUp:
            raise
        except TimeoutError:
            self._drop_session(origin)
            return _error(call, f"tool '{call['name']}' did not answer within {origin.timeout:g} s")
        except Exception as exc:
            self._drop_session(origin)
            return _error(call, f"tool '{call['name']}' failed: {describe_error(exc)}")
        if isinstance(result, ToolMessage):
            return result
        return ToolMessage(content=str(result), name=call["name"], tool_call_id=call["id"])

    def _unknown(self, name: str) -> str:
        text = f"tool '{name}' is not available."
        if self.unavailable:
            text += " Unavailable tool servers: " + "; ".join(
                f"{label} ({reason})" for label, reason in self.unavailable.items()
            )
        return text

    def _drop_session(self, origin: _Origin) -> None:
        if origin.mcp_key is not None:
            mcp_cache().invalidate(origin.mcp_key)


def _error(call: ToolCall, text: str) -> ToolMessage:
    return ToolMessage(
        content=f"Error: {text}", name=call["name"], tool_call_id=call["id"], status="error"
    )


async def load_toolbox(
    settings: AgentContext, configurable: Mapping[str, Any], store: BaseStore | None
) -> Toolbox:
    toolbox = Toolbox()
    if settings.memory and store is not None:
        namespace = memory_namespace(settings.memory_namespace, configurable)
        for tool in memory_tools(store, namespace):
            toolbox.add(tool, _Origin(LOCAL_TOOL_TIMEOUT))
    if settings.mcp_config:
        cache = mcp_cache()
        loaded = await asyncio.gather(*(cache.tools_for(s) for s in settings.mcp_config))
        for server_tools in loaded:
            if server_tools.error is not None:
                toolbox.unavailable[server_tools.server.label] = server_tools.error
            for tool in server_tools.tools:
                toolbox.add(tool, _Origin(server_tools.server.timeout, server_tools.key))
    return toolbox

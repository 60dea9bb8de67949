"""Shapes of the A2A and MCP endpoints, for /openapi.json only (the protocols' own
specifications define them in full)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from robyn_server.schemas.requests import ASSISTANT_OR_GRAPH as ASSISTANT_OR_GRAPH


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class AgentSkill(_Open):
    id: str
    name: str
    description: str
    tags: list[str]


class AgentCard(_Open):
    """An A2A agent card (v0.3 fields; `supportedInterfaces` for v1.0 clients)."""

    protocolVersion: str
    name: str
    description: str
    url: str
    version: str
    capabilities: dict[str, Any]
    defaultInputModes: list[str]
    defaultOutputModes: list[str]
    skills: list[AgentSkill]
    supportedInterfaces: list[dict[str, Any]]


class JsonRpcError(_Open):
    code: int
    message: str
    data: Any = None


class JsonRpcAnswer(_Open):
    """A JSON-RPC 2.0 response: `result`, or `error`."""

    jsonrpc: Literal["2.0"]
    id: str | int | None
    result: Any = None
    error: JsonRpcError | None = None


class JsonRpcMessage(_Open):
    """A JSON-RPC 2.0 request or notification (no `id`)."""

    jsonrpc: Literal["2.0"]
    method: str
    id: str | int | None = None
    params: Any = None

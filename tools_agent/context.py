"""Settings of the tools agent: one typed model, read from `context` and `configurable`.

Its JSON Schema is the graph's context (and config) schema, which `GET
/assistants/{id}/schemas` serves. Every field carries an `x_oap_ui_config` hint so Open
Agent Platform can render the assistant's settings form.
"""

from __future__ import annotations

import string
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from langchain_mcp_adapters.sessions import SSEConnection, StreamableHttpConnection
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_MODEL = "openai:gpt-4o-mini"
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
DEFAULT_MEMORY_NAMESPACE = "memories/{user_id}"
NAMESPACE_FIELDS = frozenset({"user_id", "assistant_id", "graph_id"})
# A server hands configurable-held secrets over in this object (see `resolve`).
SECRETS_KEY = "__secrets__"
REDACTED = "***"

MODEL_OPTIONS = [
    "openai:gpt-4o-mini",
    "openai:gpt-4.1",
    "openai:gpt-4.1-mini",
    "anthropic:claude-sonnet-4-5",
    "anthropic:claude-haiku-4-5",
    "google_genai:gemini-2.5-flash",
    "mistralai:mistral-large-latest",
    "groq:llama-3.3-70b-versatile",
    "ollama:llama3.1",
]


def _ui(kind: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"x_oap_ui_config": {"type": kind, "description": description, **extra}}


class McpServer(BaseModel):
    """One MCP server whose tools the agent may use."""

    # Settings hold tokens and headers: errors name the field, never echo its value.
    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)

    url: str = Field(description="Endpoint of the MCP server, e.g. http://localhost:8000/mcp.")
    name: str | None = Field(default=None, description="Label used in messages about it.")
    transport: Literal["streamable_http", "sse"] | None = Field(
        default=None,
        description="'streamable_http' or 'sse'; default: 'sse' if the URL ends in /sse.",
    )
    tools: list[str] | None = Field(
        default=None, description="Allowlist of tool names; all tools when unset."
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="HTTP headers sent with every request."
    )
    auth_token: str | None = Field(
        default=None, description="Sent as 'Authorization: Bearer <token>'."
    )
    timeout: float = Field(
        default=30.0, gt=0, description="Seconds allowed to connect, and for each tool call."
    )

    @field_validator("transport", mode="before")
    @classmethod
    def _transport_alias(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.replace("-", "_").lower()
            return "streamable_http" if value == "http" else value
        return value

    @property
    def label(self) -> str:
        return self.name or self.url

    def connection(self) -> SSEConnection | StreamableHttpConnection:
        """The `langchain-mcp-adapters` connection for this server."""
        transport = self.transport
        url = self.url
        path = urlsplit(url).path.rstrip("/")
        if transport is None:
            transport = "sse" if path.endswith("/sse") else "streamable_http"
        if transport == "streamable_http" and not path:
            # Open Agent Platform stores the server's base URL and appends /mcp.
            url = urlunsplit(urlsplit(url)._replace(path="/mcp"))
        headers = {k: v for k, v in self.headers.items() if v and v != REDACTED}
        if self.auth_token and self.auth_token != REDACTED:
            headers["Authorization"] = f"Bearer {self.auth_token}"
        if transport == "sse":
            return {"transport": "sse", "url": url, "headers": headers, "timeout": self.timeout}
        return {
            "transport": "streamable_http",
            "url": url,
            "headers": headers,
            "timeout": self.timeout,
        }


# Open Agent Platform's single-server object; without a url it means "no MCP server".
OAP_MCP_KEYS = frozenset({"url", "tools", "auth_required"})
MCP_CONFIG_SHAPES = (
    'a list of servers [{"url": ...}, ...], {"servers": [...]}, or one server {"url": ...}'
)


def mcp_server_list(value: Any) -> list[Any]:
    """The servers of an `mcp_config` in any of its accepted shapes, as a list.

    Raises ValueError (naming `mcp_config`) for a shape the agent cannot read, rather than
    running the agent without the tools its user configured.
    """
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if not isinstance(value, dict):
        raise ValueError(f"mcp_config must be {MCP_CONFIG_SHAPES}; got {type(value).__name__}")
    if "servers" in value:
        if others := sorted(set(value) - {"servers"}):
            raise ValueError(f"mcp_config: 'servers' cannot be combined with {others}")
        servers = value["servers"]
        if servers is None:
            return []
        if not isinstance(servers, list):
            raise ValueError(
                f"mcp_config.servers must be a list of servers; got {type(servers).__name__}"
            )
        return servers
    if value.get("url"):
        return [value]
    if set(value) <= OAP_MCP_KEYS:
        return []  # OAP without an MCP server configured: {"url": null, "tools": []}
    keys = ", ".join(sorted(map(str, value)))
    raise ValueError(
        f"mcp_config must be {MCP_CONFIG_SHAPES}; got an object without a url (keys: {keys})"
    )


class AgentContext(BaseModel):
    """Per-assistant settings of the tools agent (overridable per run)."""

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)

    model_name: str = Field(
        default=DEFAULT_MODEL,
        description="Chat model as 'provider:model', e.g. 'openai:gpt-4o-mini'.",
        json_schema_extra=_ui(
            "select",
            "The chat model, as 'provider:model'. Its key comes from the provider's usual "
            "environment variable (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...).",
            default=DEFAULT_MODEL,
            options=[{"label": name, "value": name} for name in MODEL_OPTIONS],
        ),
    )
    temperature: float | None = Field(
        default=None,
        ge=0,
        le=2,
        description="Sampling temperature; provider default if unset.",
        json_schema_extra=_ui(
            "slider", "Sampling temperature; provider default if unset.", min=0, max=2, step=0.1
        ),
    )
    max_tokens: int | None = Field(
        default=None,
        gt=0,
        description="Maximum tokens in a reply; provider default if unset.",
        json_schema_extra=_ui("number", "Maximum tokens in a reply.", min=1),
    )
    system_prompt: str = Field(
        default=DEFAULT_SYSTEM_PROMPT,
        description="System message placed before the conversation.",
        json_schema_extra=_ui(
            "textarea",
            "System message placed before the conversation.",
            default=DEFAULT_SYSTEM_PROMPT,
        ),
    )
    base_url: str | None = Field(
        default=None,
        description="Override the provider's API endpoint (proxies, local models).",
        json_schema_extra=_ui(
            "text",
            "An OpenAI-compatible endpoint (vLLM, Ollama, LM Studio, llama.cpp server).",
            placeholder="http://localhost:11434/v1",
        ),
    )
    api_key: str | None = Field(
        default=None,
        description="API key; falls back to the provider's environment variable.",
        json_schema_extra=_ui(
            "text", "API key for the model. Never stored with runs; shown as ***."
        ),
    )
    model: str | None = Field(
        default=None,
        description="Model id at base_url; default: model_name without its provider.",
        json_schema_extra=_ui(
            "text", "Model id at the base_url endpoint.", placeholder="llama3.1:8b"
        ),
    )
    mcp_config: list[McpServer] = Field(
        default_factory=list,
        description="MCP servers whose tools the agent may call: a list of servers, "
        '{"servers": [...]}, or one server {"url": ...}.',
        json_schema_extra=_ui("mcp", "MCP servers whose tools the agent may call."),
    )
    memory: bool = Field(
        default=True,
        description="Give the agent remember/recall/forget tools on the server's store.",
        json_schema_extra=_ui("switch", "Long-term memory shared across threads.", default=True),
    )
    memory_namespace: str = Field(
        default=DEFAULT_MEMORY_NAMESPACE,
        description="Store namespace of memories, '/'-separated; may use {user_id}, "
        "{assistant_id} and {graph_id}.",
        json_schema_extra=_ui(
            "text", "Store namespace of memories.", default=DEFAULT_MEMORY_NAMESPACE
        ),
    )
    interrupt_before_tools: list[str] = Field(
        default_factory=list,
        description="Tool names that need human approval before they run.",
        json_schema_extra=_ui("json", "Tools that need human approval.", default=[]),
    )

    @model_validator(mode="before")
    @classmethod
    def _memory_object(cls, data: Any) -> Any:
        """Also accept `memory: {"enabled": bool, "namespace": str}`."""
        if isinstance(data, dict) and isinstance(data.get("memory"), dict):
            data = dict(data)
            memory = data.pop("memory")
            data["memory"] = memory.get("enabled", True)
            if memory.get("namespace"):
                data["memory_namespace"] = memory["namespace"]
        return data

    @field_validator("mcp_config", mode="before")
    @classmethod
    def _mcp_shapes(cls, value: Any) -> Any:
        """Also the multi-server `{"servers": [...]}` and Open Agent Platform's single
        `{url, tools, auth_required}` object."""
        return mcp_server_list(value)

    @field_validator("memory_namespace")
    @classmethod
    def _namespace_template(cls, value: str) -> str:
        labels = [label for label in value.split("/") if label]
        if not labels:
            raise ValueError("memory_namespace needs at least one label")
        for label in labels:
            parts = list(string.Formatter().parse(label))
            if unknown := {name for _, name, _, _ in parts if name is not None} - NAMESPACE_FIELDS:
                allowed = ", ".join(f"{{{name}}}" for name in sorted(NAMESPACE_FIELDS))
                raise ValueError(f"memory_namespace may only use {allowed}, not {unknown}")
            if any("." in literal for literal, *_ in parts):
                raise ValueError("memory_namespace labels cannot contain '.'")
        if labels[0] == "langgraph":
            raise ValueError("memory_namespace cannot start with 'langgraph'")
        return value

    @classmethod
    def resolve(cls, context: Any, configurable: dict[str, Any] | None = None) -> AgentContext:
        """Settings for one run: defaults < `configurable` < explicit context.

        `configurable` is honoured so the graph also works for clients that only send
        `config.configurable` (older SDKs, LangGraph Studio). A server that keeps secrets
        out of stored config hands them over under `configurable["__secrets__"]`, an object
        whose `apply("configurable", configurable)` restores them; a remaining "***" is a
        redacted value, not a real one, and counts as unset.
        """
        configurable = dict(configurable or {})
        secrets = configurable.get(SECRETS_KEY)
        if secrets is not None and hasattr(secrets, "apply"):
            configurable = secrets.apply("configurable", configurable)
        values: dict[str, Any] = {k: v for k, v in configurable.items() if k in cls.model_fields}
        if isinstance(context, BaseModel):
            values.update(context.model_dump(exclude_unset=True))
        elif isinstance(context, dict):
            values.update({k: v for k, v in context.items() if k in cls.model_fields})
        return cls(**_without_placeholders(values))


def _without_placeholders(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_placeholders(v) for k, v in value.items() if v != REDACTED}
    if isinstance(value, list):
        return [_without_placeholders(v) for v in value]
    return value

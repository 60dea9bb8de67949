"""The agent card of an assistant: who it is, where to call it, what it takes."""

from __future__ import annotations

from typing import Any

from robyn_server import __version__

MODES = ["application/json", "text/plain"]


def input_summary(input_schema: dict[str, Any] | None) -> dict[str, Any]:
    """The graph's input fields, and whether text parts can reach it (`messages`)."""
    schema = input_schema or {}
    properties = sorted((schema.get("properties") or {}).keys())
    return {
        "required": list(schema.get("required") or []),
        "properties": properties,
        "supportsA2A": "messages" in properties,
    }


def agent_card(
    assistant: dict[str, Any], input_schema: dict[str, Any] | None, base_url: str
) -> dict[str, Any]:
    """The card in v0.3's shape, also listing the v1.0 interface (clients of v1.0 read
    `supportedInterfaces`, those of v0.3 `url` and `protocolVersion`)."""
    assistant_id = assistant["assistant_id"]
    name = assistant.get("name") or assistant["graph_id"]
    description = assistant.get("description") or f"{name} assistant"
    url = f"{base_url.rstrip('/')}/a2a/{assistant_id}"
    return {
        "protocolVersion": "0.3.0",
        "name": name,
        "description": description,
        "url": url,
        "preferredTransport": "JSONRPC",
        "supportedInterfaces": [
            {"url": url, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
            {"url": url, "protocolBinding": "JSONRPC", "protocolVersion": "0.3"},
        ],
        "version": __version__,
        "capabilities": {
            "streaming": True,
            "pushNotifications": False,
            "stateTransitionHistory": False,
        },
        "defaultInputModes": MODES,
        "defaultOutputModes": MODES,
        "skills": [
            {
                "id": f"{assistant_id}-main",
                "name": f"{name} Capabilities",
                "description": description,
                "tags": ["assistant", "langgraph"],
                "examples": [],
                "inputModes": MODES,
                "outputModes": MODES,
                "metadata": {"inputSchema": input_summary(input_schema)},
            }
        ],
        "supportsAuthenticatedExtendedCard": False,
    }

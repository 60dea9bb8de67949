"""Keys the server owns inside `config.configurable`, `context` and `metadata`.

Clients may not set them: the server fills them in for runs (ids, auth user) and strips
anything a client sends under the same names.
"""

from __future__ import annotations

from typing import Any

RESERVED_CONFIGURABLE_KEYS = frozenset(
    {
        "langgraph_auth_user",
        "langgraph_auth_user_id",
        "langgraph_auth_permissions",
        "langgraph_request_id",
        "__after_seconds__",
        "__request_start_time_ms__",
        "__pregel_node_finished",
    }
)
RESERVED_METADATA_KEYS = frozenset({"thread_id", "assistant_id", "run_id", "cron_id"})


def strip_keys(data: dict[str, Any] | None, reserved: frozenset[str]) -> dict[str, Any]:
    if not data:
        return {}
    return {k: v for k, v in data.items() if k not in reserved}


def clean_config(config: dict[str, Any] | None) -> dict[str, Any]:
    """A copy of `config` without reserved configurable keys."""
    config = dict(config or {})
    if "configurable" in config:
        config["configurable"] = strip_keys(config["configurable"], RESERVED_CONFIGURABLE_KEYS)
    return config

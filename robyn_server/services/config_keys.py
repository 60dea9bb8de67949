"""Keys the server owns inside `config.configurable`, `context` and `metadata`.

Clients may not set them: the server fills them in for runs (ids, auth user) and strips
anything a client sends under the same names. `user_id` is not one of them: an anonymous
caller's `user_id` reaches the graph as sent (see `run_user_id`).
"""

from __future__ import annotations

from typing import Any

from robyn_server.storage.types import Scope

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
# Stripped from client metadata on threads, assistants and runs, as the reference does.
# `graph_id` is not reserved: `threads.create(graph_id=...)` of the SDK sends it there.
RESERVED_METADATA_KEYS = frozenset({"thread_id", "assistant_id", "run_id", "cron_id"})


def strip_keys(data: dict[str, Any] | None, reserved: frozenset[str]) -> dict[str, Any]:
    if not data:
        return {}
    return {k: v for k, v in data.items() if k not in reserved}


def clean_metadata(metadata: dict[str, Any] | None) -> dict[str, Any]:
    """A copy of client-sent `metadata` without the keys the server owns."""
    return strip_keys(metadata, RESERVED_METADATA_KEYS)


def clean_config(config: dict[str, Any] | None) -> dict[str, Any]:
    """A copy of `config` without reserved configurable keys."""
    config = dict(config or {})
    if "configurable" in config:
        config["configurable"] = strip_keys(config["configurable"], RESERVED_CONFIGURABLE_KEYS)
    return config


def run_user_id(scope: Scope, configurable: dict[str, Any]) -> Any:
    """The `user_id` a run's graph sees.

    An authenticated caller is who the graph acts for, whatever the client sends. An
    anonymous caller (`scope.owner is None`: the server has no auth) keeps the `user_id`
    it sent, so graphs that key memory by it work; "" when it sent none. Both as the
    reference server does.
    """
    if scope.owner is not None:
        return scope.owner
    return configurable.get("user_id", "")


def auth_keys(scope: Scope) -> dict[str, Any]:
    """The auth keys every run's configurable carries (the reference sets all three)."""
    return {
        "langgraph_auth_user": None,  # the user object, once auth exists
        "langgraph_auth_user_id": scope.owner or "",
        "langgraph_auth_permissions": [],
    }

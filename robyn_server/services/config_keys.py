"""Keys the server owns inside `config.configurable`, `context` and `metadata`.

Clients may not set them: the server fills them in for runs (ids, auth user) and strips
anything a client sends under the same names. `user_id` is not one of them: an anonymous
caller's `user_id` reaches the graph as sent (see `run_user_id`).
"""

from __future__ import annotations

import logging
from typing import Any

from robyn_server.auth.caller import Caller
from robyn_server.auth.policy import AuthHandlerError

logger = logging.getLogger("robyn_server.auth")

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


def handled_metadata(value: dict[str, Any]) -> dict[str, Any] | None:
    """`value["metadata"]` once an auth handler has seen `value` (it may have stamped
    it), without the keys the server owns. Anything but a dict there is a broken handler."""
    metadata = value.get("metadata")
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        logger.error("An auth handler left value['metadata'] a %s", type(metadata).__name__)
        raise AuthHandlerError()
    return clean_metadata(metadata)


def clean_config(config: dict[str, Any] | None) -> dict[str, Any]:
    """A copy of `config` without reserved configurable keys."""
    config = dict(config or {})
    if "configurable" in config:
        config["configurable"] = strip_keys(config["configurable"], RESERVED_CONFIGURABLE_KEYS)
    return config


def run_user_id(caller: Caller, configurable: dict[str, Any]) -> Any:
    """The `user_id` a run's graph sees.

    An authenticated caller is who the graph acts for, whatever the client sends. An
    anonymous caller (the server has no auth) keeps the `user_id` it sent, so graphs
    that key memory by it work; "" when it sent none. Both as the reference server does.
    """
    if caller.identity is not None:
        return caller.identity
    return configurable.get("user_id", "")

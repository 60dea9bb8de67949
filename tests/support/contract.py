"""Records for the storage contract suites (tests/contract, tests/postgres): what every
backend promises about them, and how tests make them."""

from __future__ import annotations

import uuid
from datetime import UTC
from typing import Any

from robyn_server.storage.base import Storage
from robyn_server.storage.types import ANONYMOUS, Scope
from tests.support.graphs import AGENT_ASSISTANT_ID

ALICE = Scope("alice")
BOB = Scope("bob")

# Empties our tables between tests that share one Postgres database.
TRUNCATE_SQL = (
    "TRUNCATE langgraph_server.assistants, langgraph_server.assistant_versions, "
    "langgraph_server.threads CASCADE"
)

ASSISTANT_KEYS = {
    "assistant_id",
    "graph_id",
    "config",
    "context",
    "metadata",
    "name",
    "description",
    "version",
    "created_at",
    "updated_at",
}
VERSION_KEYS = ASSISTANT_KEYS - {"updated_at"}
THREAD_KEYS = {
    "thread_id",
    "created_at",
    "updated_at",
    "state_updated_at",
    "metadata",
    "status",
    "config",
    "values",
    "interrupts",
    "error",
    "ttl",
}
RUN_KEYS = {
    "run_id",
    "thread_id",
    "assistant_id",
    "metadata",
    "status",
    "kwargs",
    "multitask_strategy",
    "created_at",
    "updated_at",
    "attempt",
}

CRON_KEYS = {
    "cron_id",
    "assistant_id",
    "thread_id",
    "user_id",
    "end_time",
    "schedule",
    "timezone",
    "payload",
    "next_run_date",
    "metadata",
    "on_run_completed",
    "enabled",
    "created_at",
    "updated_at",
}


def new_id() -> str:
    return str(uuid.uuid4())


async def make_assistant(
    storage: Storage, scope: Scope = ANONYMOUS, **fields: Any
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "assistant_id": new_id(),
        "graph_id": "agent",
        "config": {},
        "context": {},
        "metadata": {},
        "name": "assistant",
        "description": None,
    }
    values.update(fields)
    return await storage.assistant_create(scope, **values)


async def make_thread(storage: Storage, scope: Scope = ANONYMOUS, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"thread_id": new_id(), "metadata": {}}
    values.update(fields)
    return await storage.thread_create(scope, **values)


async def make_run(
    storage: Storage, thread_id: str, scope: Scope = ANONYMOUS, **fields: Any
) -> tuple[dict[str, Any], list[str]]:
    """A run created with `run_create`, plus the other inflight ids it reported."""
    values: dict[str, Any] = {
        "run_id": new_id(),
        "thread_id": thread_id,
        "assistant_id": AGENT_ASSISTANT_ID,
        "metadata": {},
        "kwargs": {"input": {"messages": []}},
        "multitask_strategy": "enqueue",
    }
    values.update(fields)
    created = await storage.run_create(scope, **values)
    assert created is not None, "the thread should exist"
    return created


def assert_run_shape(run: dict[str, Any]) -> None:
    """What both backends promise about every run record."""
    assert set(run) == RUN_KEYS
    for key in ("run_id", "thread_id", "assistant_id"):
        assert isinstance(run[key], str) and run[key] == run[key].lower() and len(run[key]) == 36
    assert isinstance(run["metadata"], dict)
    assert isinstance(run["kwargs"], dict)
    assert isinstance(run["attempt"], int)
    for key in ("created_at", "updated_at"):
        assert run[key].tzinfo is not None and run[key].utcoffset() == UTC.utcoffset(None)

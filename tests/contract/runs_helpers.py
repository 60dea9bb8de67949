"""Helpers shared by the run contract tests (test_runs.py, test_run_queue.py)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from robyn_server.storage.base import Storage
from robyn_server.storage.types import ANONYMOUS, Scope

from .conftest import new_id

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

ASSISTANT_ID = "fe096781-5601-53d2-b2f6-0d3403f7e9ca"


async def make_run(
    storage: Storage, thread_id: str, scope: Scope = ANONYMOUS, **fields: Any
) -> tuple[dict[str, Any], list[str]]:
    """A run created with `run_create`, plus the other inflight ids it reported."""
    values: dict[str, Any] = {
        "run_id": new_id(),
        "thread_id": thread_id,
        "assistant_id": ASSISTANT_ID,
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

"""Request and response bodies of the thread state and history endpoints.

Requests follow wire.py (unknown fields ignored, strict types). The response models only
describe for /openapi.json what the handlers return as plain dicts.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from robyn_server.wire import Body


class CheckpointAddress(Body):
    """Which checkpoint: the latest of a namespace when `checkpoint_id` is missing.

    `thread_id` is accepted because clients echo back what they were given, but the
    thread in the path always wins: a body cannot reach into another thread.
    """

    checkpoint_id: str | None = None
    checkpoint_ns: str | None = None
    checkpoint_map: dict[str, Any] | None = None
    thread_id: str | None = None


class StateAtCheckpoint(Body):
    checkpoint: CheckpointAddress
    subgraphs: bool = False
    select: list[str] | None = None


class StateUpdate(Body):
    values: dict[str, Any] | list[Any] | None = None
    as_node: str | None = None
    checkpoint: CheckpointAddress | None = None
    checkpoint_id: str | None = None


class HistorySearch(Body):
    # The reference server's default; the SDKs always send their own (10).
    limit: int = Field(default=1, ge=1)
    # A checkpoint id, `{"configurable": {"checkpoint_id": ...}}` or a flat checkpoint.
    before: str | dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: CheckpointAddress | None = None
    select: list[str] | None = None


# -- responses (OpenAPI only) ------------------------------------------------------------


class CheckpointRef(BaseModel):
    checkpoint_id: str | None
    thread_id: str
    checkpoint_ns: str
    checkpoint_map: dict[str, Any] | None = None


class InterruptInfo(BaseModel):
    id: str
    value: Any
    response_schema: Any = None


class ThreadTask(BaseModel):
    id: str
    name: str
    path: list[Any]
    error: str | None
    interrupts: list[InterruptInfo]
    checkpoint: CheckpointRef | None
    state: ThreadState | None
    result: Any


class ThreadState(BaseModel):
    values: dict[str, Any] | list[Any] | None
    next: list[str]
    tasks: list[ThreadTask]
    metadata: dict[str, Any] | None
    created_at: str | None
    checkpoint: CheckpointRef | None
    parent_checkpoint: CheckpointRef | None
    interrupts: list[InterruptInfo]
    checkpoint_id: str | None
    parent_checkpoint_id: str | None


class StateUpdateResult(BaseModel):
    checkpoint: dict[str, Any]
    configurable: dict[str, Any]
    checkpoint_id: str | None


ThreadTask.model_rebuild()

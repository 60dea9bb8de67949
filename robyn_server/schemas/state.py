"""Request and response bodies of the thread state and history endpoints.

Requests follow schemas/requests.py (unknown fields ignored, strict types). The response models only
describe for /openapi.json what the handlers return as plain dicts.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, WithJsonSchema

from robyn_server.schemas.requests import MAX_OFFSET, MAX_PAGE, Body, Integer, UuidOrEmpty
from robyn_server.schemas.responses import selection

# The fields of a ThreadState, which `select` may name (services.thread_state checks).
STATE_FIELDS = (
    "values",
    "next",
    "tasks",
    "metadata",
    "created_at",
    "checkpoint",
    "parent_checkpoint",
    "interrupts",
    "checkpoint_id",
    "parent_checkpoint_id",
)
# A state field, or `values.<key>` for one key of the values.
STATE_SELECT_ITEM = {
    "anyOf": [
        {"type": "string", "enum": list(STATE_FIELDS)},
        {"type": "string", "pattern": r"^values\.[\s\S]"},
    ]
}
StateSelect = Annotated[list[str], WithJsonSchema({"type": "array", "items": STATE_SELECT_ITEM})]
_UUID = {"type": "string", "format": "uuid"}
# `before`: a checkpoint ID, `{"configurable": {"checkpoint_id": ...}}` or a flat checkpoint.
BEFORE_SCHEMA = {
    "anyOf": [
        _UUID,
        {
            "type": "object",
            "required": ["configurable"],
            "properties": {
                "configurable": {
                    "type": "object",
                    "required": ["checkpoint_id"],
                    "properties": {"checkpoint_id": _UUID},
                }
            },
        },
        {
            "type": "object",
            "required": ["checkpoint_id"],
            "properties": {"checkpoint_id": _UUID, "configurable": {"not": {"type": "object"}}},
        },
        {"type": "null"},
    ]
}


class CheckpointAddress(Body):
    """Which checkpoint: the latest of a namespace when `checkpoint_id` is missing.

    `thread_id` is accepted because clients echo back what they were given, but the
    thread in the path always wins: a body cannot reach into another thread.
    """

    checkpoint_id: UuidOrEmpty | None = None
    checkpoint_ns: str | None = None
    checkpoint_map: dict[str, Any] | None = None
    thread_id: str | None = None


class StateAtCheckpoint(Body):
    checkpoint: CheckpointAddress
    subgraphs: bool = False
    select: StateSelect | None = None


class StateUpdate(Body):
    values: dict[str, Any] | list[Any] | None = None
    as_node: str | None = None
    checkpoint: CheckpointAddress | None = None
    checkpoint_id: UuidOrEmpty | None = None


class HistorySearch(Body):
    # The reference server's default and ceiling; the SDKs always send their own (10).
    limit: Integer = Field(default=1, ge=1, le=MAX_PAGE)
    before: Annotated[str | dict[str, Any] | None, WithJsonSchema(BEFORE_SCHEMA)] = None
    metadata: dict[str, Any] | None = None
    checkpoint: CheckpointAddress | None = None
    select: StateSelect | None = None


class HistoryQuery(HistorySearch):
    """GET /history's query: the reference sets no ceiling there, PostgreSQL does."""

    limit: Integer = Field(default=1, ge=1, le=MAX_OFFSET)


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
ThreadStateSelection = selection(ThreadState)

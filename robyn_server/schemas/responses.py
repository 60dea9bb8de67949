"""Response shapes, for /openapi.json only.

Handlers return plain dicts serialized by orjson (validating every response would cost
more than the rest of the request); these models describe what they return so that
client generators and /docs show real types.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, create_model

from robyn_server.schemas.requests import ThreadStatus
from robyn_server.storage.types import RunStatus


def selection(model: type[BaseModel]) -> type[BaseModel]:
    """What `select` answers: the same fields, each one left out unless selected."""
    fields: dict[str, Any] = {
        name: (info.annotation, None) for name, info in model.model_fields.items()
    }
    return create_model(f"{model.__name__}Selection", **fields)


class ErrorResponse(BaseModel):
    detail: str


class Assistant(BaseModel):
    assistant_id: str
    graph_id: str
    config: dict[str, Any]
    context: dict[str, Any]
    metadata: dict[str, Any]
    name: str
    description: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class AssistantVersion(BaseModel):
    assistant_id: str
    graph_id: str
    config: dict[str, Any]
    context: dict[str, Any]
    metadata: dict[str, Any]
    name: str
    description: str | None
    version: int
    created_at: datetime


class GraphDrawing(BaseModel):
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]


class SubgraphSchemas(BaseModel):
    """A subgraph's schemas (in a map keyed by its namespace: no graph_id)."""

    input_schema: dict[str, Any] | None
    output_schema: dict[str, Any] | None
    state_schema: dict[str, Any] | None
    config_schema: dict[str, Any] | None
    context_schema: dict[str, Any] | None


class GraphSchemas(SubgraphSchemas):
    graph_id: str


class ThreadTTLInfo(BaseModel):
    strategy: str
    ttl_minutes: float
    expires_at: datetime


class Thread(BaseModel):
    thread_id: str
    created_at: datetime
    updated_at: datetime
    state_updated_at: datetime
    metadata: dict[str, Any]
    status: ThreadStatus
    config: dict[str, Any]
    values: dict[str, Any] | None
    interrupts: dict[str, Any]
    error: dict[str, Any] | None
    ttl: ThreadTTLInfo | None = None
    extracted: dict[str, Any] | None = None


class Run(BaseModel):
    run_id: str
    thread_id: str
    assistant_id: str
    metadata: dict[str, Any]
    status: RunStatus
    kwargs: dict[str, Any]
    multitask_strategy: str
    created_at: datetime
    updated_at: datetime


class Cron(BaseModel):
    cron_id: str
    assistant_id: str
    thread_id: str | None
    user_id: str | None
    end_time: datetime | None
    schedule: str
    timezone: str | None
    payload: dict[str, Any]
    next_run_date: datetime | None
    metadata: dict[str, Any]
    on_run_completed: Literal["delete", "keep"] | None
    enabled: bool
    created_at: datetime
    updated_at: datetime


AssistantSelection = selection(Assistant)
ThreadSelection = selection(Thread)
RunSelection = selection(Run)
CronSelection = selection(Cron)


class PruneResult(BaseModel):
    pruned_count: int


class StoreItem(BaseModel):
    namespace: list[str]
    key: str
    value: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class StoreSearchItem(StoreItem):
    score: float | None


class StoreSearchResult(BaseModel):
    items: list[StoreSearchItem]


class StoreNamespacesResult(BaseModel):
    namespaces: list[list[str]]


class Ok(BaseModel):
    ok: bool
    services: dict[str, Any]


class Health(BaseModel):
    status: str
    persistence: str | None
    database: str
    graphs: list[str]
    version: str
    warning: str | None = None


class HealthStarting(BaseModel):
    status: Literal["starting"]
    persistence: None


class Info(BaseModel):
    version: str
    langgraph_py_version: str | None
    flags: dict[str, bool]
    host: dict[str, Any]
    persistence: str | None

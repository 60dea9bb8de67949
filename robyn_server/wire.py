"""Request bodies of the assistants, threads and store endpoints.

Unknown fields are ignored (the SDKs send fields the server does not know), types are
strict (a string where a number belongs is a 422, as with the reference's JSON Schema).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

AssistantField = Literal[
    "assistant_id",
    "graph_id",
    "config",
    "context",
    "metadata",
    "name",
    "created_at",
    "updated_at",
    "version",
    "description",
]
ThreadField = Literal[
    "thread_id",
    "created_at",
    "updated_at",
    "state_updated_at",
    "metadata",
    "config",
    "status",
    "values",
    "interrupts",
    "error",
]
SortOrder = Literal["asc", "desc"]
IfExists = Literal["raise", "do_nothing"]
ThreadStatus = Literal["idle", "busy", "interrupted", "error"]

Limit = Field(default=10, ge=1, le=1000)
Offset = Field(default=0, ge=0)


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class AssistantCreate(Body):
    graph_id: str
    assistant_id: str | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    if_exists: IfExists = "raise"
    name: str | None = None
    description: str | None = None


class AssistantPatch(Body):
    graph_id: str | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    name: str | None = None
    description: str | None = None


class AssistantCount(Body):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None


class AssistantSearch(AssistantCount):
    limit: int = Limit
    offset: int = Offset
    sort_by: Literal["assistant_id", "created_at", "updated_at", "name", "graph_id"] | None = None
    sort_order: SortOrder | None = None
    select: list[AssistantField] | None = None


class AssistantVersionsSearch(Body):
    metadata: dict[str, Any] | None = None
    limit: int = Limit
    offset: int = Offset


class AssistantSetLatest(Body):
    version: int = Field(ge=1)


class ThreadTTL(Body):
    ttl: float = Field(gt=0)
    strategy: Literal["delete", "keep_latest"] = "delete"


class ThreadCreate(Body):
    thread_id: str | None = None
    metadata: dict[str, Any] | None = None
    if_exists: IfExists = "raise"
    ttl: ThreadTTL | None = None
    supersteps: list[dict[str, Any]] | None = None

    @field_validator("ttl", mode="before")
    @classmethod
    def _ttl_minutes(cls, value: Any) -> Any:
        # The SDK turns `ttl=<minutes>` into an object, other clients send the number.
        if isinstance(value, int | float) and not isinstance(value, bool):
            return {"ttl": value, "strategy": "delete"}
        return value


class ThreadPatch(Body):
    metadata: dict[str, Any] | None = None
    ttl: ThreadTTL | None = None

    _ttl_minutes = field_validator("ttl", mode="before")(ThreadCreate._ttl_minutes.__func__)


class ThreadCount(Body):
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    status: ThreadStatus | None = None


class ThreadSearch(ThreadCount):
    ids: list[str] | None = None
    limit: int = Limit
    offset: int = Offset
    sort_by: (
        Literal["thread_id", "status", "created_at", "updated_at", "state_updated_at"] | None
    ) = None
    sort_order: SortOrder | None = None
    select: list[ThreadField] | None = None
    extract: dict[str, str] | None = None


class ThreadPrune(Body):
    thread_ids: list[str]
    strategy: Literal["delete", "keep_latest"] = "delete"


class StorePut(Body):
    namespace: list[str]
    key: str
    value: dict[str, Any]
    index: Literal[False] | list[str] | None = None
    ttl: float | None = None


class StoreDelete(Body):
    namespace: list[str] = Field(default_factory=list)
    key: str


class StoreSearch(Body):
    namespace_prefix: list[str] = Field(default_factory=list)
    filter: dict[str, Any] | None = None
    limit: int = Limit
    offset: int = Offset
    query: str | None = None
    refresh_ttl: bool | None = None


class StoreNamespaces(Body):
    prefix: list[str] | None = None
    suffix: list[str] | None = None
    max_depth: int | None = Field(default=None, ge=1)
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Offset

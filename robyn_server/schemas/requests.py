"""Request bodies of the assistants, threads and store endpoints.

Unknown fields are ignored (the SDKs send fields the server does not know), types are
strict (a string where a number belongs is a 422, as with the reference's JSON Schema).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator
from pydantic.json_schema import JsonDict

from robyn_server.storage.store_ttl import MAX_TTL_MINUTES, MIN_TTL_MINUTES

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


def _integral(value: Any) -> Any:
    # JSON (and so JSON Schema and the reference server) counts 5.0 as an integer;
    # pydantic's strict mode would refuse it.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Integer = Annotated[int, BeforeValidator(_integral)]
# PostgreSQL's LIMIT and OFFSET are bigints: anything larger is a 422 here rather than
# a NumericValueOutOfRange (500) there. The reference caps page sizes at 1000.
MAX_OFFSET = 2**63 - 1
MAX_PAGE = 1000
Limit = Field(default=10, ge=1, le=MAX_PAGE)
Offset = Field(default=0, ge=0, le=MAX_OFFSET)
# A UUID that the server checks (a 422 names the field); the format tells clients.
Uuid = Annotated[str, Field(json_schema_extra={"format": "uuid"})]
# The same where the server reads an empty string as "not given".
UuidOrEmpty = Annotated[
    str, Field(json_schema_extra={"anyOf": [{"format": "uuid"}, {"maxLength": 0}]})
]
# `values.messages[-1].content`: services.threads.extract_path reads these; its first
# name must be one of these roots (`.`, `]` and a `[` that opens no index are skipped).
EXTRACT_ROOTS = ("values", "metadata", "config", "interrupts")
EXTRACT_PATH_PATTERN = r"^(?:[.\]]|\[(?!-?\d+\]))*(?:" + "|".join(EXTRACT_ROOTS) + r")(?![^.\[\]])"
ExtractPath = Annotated[str, Field(json_schema_extra={"pattern": EXTRACT_PATH_PATTERN})]
# An assistant's UUID or a registered graph's ID. The graphs are only known at run time,
# so /openapi.json replaces this marker with a schema that names them.
ASSISTANT_OR_GRAPH_MARKER = "x-assistant-id-or-graph-id"
ASSISTANT_OR_GRAPH = {"type": "string", ASSISTANT_OR_GRAPH_MARKER: True}
AssistantOrGraph = Annotated[str, WithJsonSchema(ASSISTANT_OR_GRAPH)]
# A store search filter: a value to match, or an object of comparisons. An object with
# any "$" key is read as comparisons, so all its keys must be operators
# (services.store checks).
FILTER_OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")
STORE_FILTER = {
    "type": "object",
    "additionalProperties": {
        "anyOf": [
            {"not": {"type": "object"}},
            {"type": "object", "propertyNames": {"not": {"pattern": "^[$]"}}},
            {"type": "object", "propertyNames": {"enum": list(FILTER_OPERATORS)}},
        ]
    },
}
# A store namespace label: the API joins labels with dots, so a label has none. Checked
# by services.store.validate_namespace, whose message says so; described here.
NAMESPACE_LABEL: JsonDict = {"type": "string", "minLength": 1, "pattern": r"^[^.]*$"}
NamespaceLabel = Annotated[str, Field(json_schema_extra=NAMESPACE_LABEL)]


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class AssistantCreate(Body):
    graph_id: str
    assistant_id: UuidOrEmpty | None = None
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
    limit: Integer = Limit
    offset: Integer = Offset
    sort_by: Literal["assistant_id", "created_at", "updated_at", "name", "graph_id"] | None = None
    sort_order: SortOrder | None = None
    select: list[AssistantField] | None = None


class AssistantVersionsSearch(Body):
    metadata: dict[str, Any] | None = None
    limit: Integer = Limit
    offset: Integer = Offset


class AssistantSetLatest(Body):
    version: Integer = Field(ge=1)


class ThreadTTL(Body):
    # Minutes; the ceiling (the store's) keeps the expiry a date: beyond it, reading the
    # thread back with include=ttl was a 500.
    ttl: float = Field(gt=0, le=MAX_TTL_MINUTES)
    strategy: Literal["delete", "keep_latest"] = "delete"


class ThreadCreate(Body):
    thread_id: UuidOrEmpty | None = None
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

    @field_validator("ttl", mode="before")
    @classmethod
    def _ttl_minutes(cls, value: Any) -> Any:
        return ThreadCreate._ttl_minutes(value)


class ThreadCount(Body):
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    status: ThreadStatus | None = None


class ThreadSearch(ThreadCount):
    ids: list[Uuid] | None = None
    limit: Integer = Limit
    offset: Integer = Offset
    sort_by: (
        Literal["thread_id", "status", "created_at", "updated_at", "state_updated_at"] | None
    ) = None
    sort_order: SortOrder | None = None
    select: list[ThreadField] | None = None
    extract: dict[str, ExtractPath] | None = None


class ThreadPrune(Body):
    thread_ids: list[Uuid]
    strategy: Literal["delete", "keep_latest"] = "delete"


class StorePut(Body):
    # LangGraph reserves the root label "langgraph" for itself.
    namespace: list[NamespaceLabel] = Field(
        json_schema_extra={
            "minItems": 1,
            # prefixItems replaces `items` for the first label, so it repeats its schema.
            "prefixItems": [{**NAMESPACE_LABEL, "not": {"const": "langgraph"}}],
        }
    )
    key: str
    value: dict[str, Any]
    index: Literal[False] | list[str] | None = None
    # Minutes; checked by the service (its message names the bounds).
    ttl: float | None = Field(
        default=None,
        json_schema_extra={"minimum": MIN_TTL_MINUTES, "maximum": MAX_TTL_MINUTES},
    )

    @field_validator("index", mode="before")
    @classmethod
    def _false_is_a_boolean(cls, value: Any) -> Any:
        # Literal[False] would take 0 (0 == False); the schema says a boolean.
        if value is not None and not isinstance(value, bool | list):
            raise ValueError("index must be false, null or a list of fields")
        return value


class StoreDelete(Body):
    namespace: list[NamespaceLabel] = Field(default_factory=list)
    key: str


class StoreSearch(Body):
    namespace_prefix: list[NamespaceLabel] = Field(default_factory=list)
    filter: Annotated[dict[str, Any], WithJsonSchema(STORE_FILTER)] | None = None
    limit: Integer = Limit
    offset: Integer = Offset
    query: str | None = None
    refresh_ttl: bool | None = None


class StoreNamespaces(Body):
    # Labels, or "*" for any one label.
    prefix: list[NamespaceLabel] | None = None
    suffix: list[NamespaceLabel] | None = None
    # Constraints go before the validator: after it, pydantic cannot describe them.
    max_depth: Annotated[int, Field(ge=1), BeforeValidator(_integral)] | None = None
    limit: Integer = Field(default=100, ge=1, le=MAX_PAGE)
    offset: Integer = Offset

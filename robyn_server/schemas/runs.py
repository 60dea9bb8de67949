"""Request bodies of the run endpoints.

Unknown fields are ignored: the SDKs send fields that are not in the schema
(`checkpoint_id`, `langsmith_tracer`, `on_disconnect` on /wait, ...).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from robyn_server.schemas.requests import AssistantOrGraph, Body, Uuid
from robyn_server.storage.store_ttl import MAX_TTL_MINUTES

StreamMode = Literal[
    "values",
    "messages",
    "messages-tuple",
    "updates",
    "events",
    "debug",
    "custom",
    "tasks",
    "checkpoints",
]
MultitaskStrategy = Literal["reject", "interrupt", "rollback", "enqueue"]
# The start time must stay a representable date: ~3e11 s overflowed it (a 500). A
# century, the same ceiling as TTLs, is far beyond any real delay.
MAX_AFTER_SECONDS = MAX_TTL_MINUTES * 60


class RunCheckpoint(BaseModel):
    model_config = ConfigDict(extra="ignore")

    checkpoint_id: Uuid | None = None
    checkpoint_ns: str | None = None
    checkpoint_map: dict[str, Any] | None = None
    thread_id: str | None = None


class RunCommand(BaseModel):
    model_config = ConfigDict(extra="ignore")

    update: Any = None
    resume: Any = None
    goto: Any = None


class RunFields(Body):
    """What a run does, shared by run bodies and cron bodies (a cron's payload)."""

    input: Any = None
    metadata: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    stream_mode: StreamMode | list[StreamMode] = "values"
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    # Checked by the webhook policy (engine/webhook_policy.py), which also resolves the
    # host: only http(s) URLs of public hosts are accepted by default.
    webhook: Annotated[str, Field(json_schema_extra={"format": "uri"})] | None = None
    feedback_keys: list[str] | None = None
    durability: Literal["sync", "async", "exit"] | None = None
    checkpoint_during: bool | None = None
    # Only meaningful on a thread, but the SDK may send them on stateless runs too.
    multitask_strategy: MultitaskStrategy = "enqueue"


class RunCreate(RunFields):
    """A run, on a thread or stateless (the SDKs send the same fields to both)."""

    assistant_id: AssistantOrGraph
    command: RunCommand | None = None
    on_completion: Literal["delete", "keep"] = "delete"
    on_disconnect: Literal["cancel", "continue"] = "continue"
    after_seconds: float | None = Field(default=None, ge=0, le=MAX_AFTER_SECONDS)
    if_not_exists: Literal["reject", "create"] = "reject"
    checkpoint: RunCheckpoint | None = None
    checkpoint_id: Uuid | None = None

    @field_validator("after_seconds", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        # Strict mode refuses ints for floats; JSON does not distinguish them.
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    def modes(self) -> list[str]:
        modes = [self.stream_mode] if isinstance(self.stream_mode, str) else self.stream_mode
        return list(dict.fromkeys(modes)) or ["values"]


# /runs/batch: at least one run; the handler validates each item itself.
RunBatch = Annotated[list[RunCreate], Field(min_length=1)]


class RunCancelMany(Body):
    """Either `status`, or `thread_id` with `run_ids` (services.runs.cancel_many checks)."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["status"],
                    "properties": {
                        "status": {"enum": ["pending", "running", "all"]},
                        # An empty thread_id counts as none.
                        "thread_id": {"anyOf": [{"type": "null"}, {"const": ""}]},
                        "run_ids": {"anyOf": [{"type": "null"}, {"maxItems": 0}]},
                    },
                },
                {
                    "required": ["thread_id", "run_ids"],
                    "properties": {
                        "status": {"type": "null"},
                        "thread_id": {"type": "string"},
                        "run_ids": {"type": "array", "minItems": 1},
                    },
                },
            ]
        }
    )

    status: Literal["pending", "running", "all"] | None = None
    thread_id: Uuid | None = None
    run_ids: list[Uuid] | None = None

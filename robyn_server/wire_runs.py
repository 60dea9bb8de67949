"""Request bodies of the run endpoints.

Unknown fields are ignored: the SDKs send fields that are not in the schema
(`checkpoint_id`, `langsmith_tracer`, `on_disconnect` on /wait, ...).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from robyn_server.wire import Body

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


class CheckpointRef(BaseModel):
    model_config = ConfigDict(extra="ignore")

    checkpoint_id: str | None = None
    checkpoint_ns: str | None = None
    checkpoint_map: dict[str, Any] | None = None
    thread_id: str | None = None


class RunCommand(BaseModel):
    model_config = ConfigDict(extra="ignore")

    update: Any = None
    resume: Any = None
    goto: Any = None


class RunCreate(Body):
    """A run, on a thread or stateless (the SDKs send the same fields to both)."""

    assistant_id: str
    input: Any = None
    command: RunCommand | None = None
    metadata: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    stream_mode: StreamMode | list[StreamMode] = "values"
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    webhook: str | None = None
    feedback_keys: list[str] | None = None
    on_completion: Literal["delete", "keep"] = "delete"
    on_disconnect: Literal["cancel", "continue"] = "continue"
    after_seconds: float | None = Field(default=None, ge=0)
    durability: Literal["sync", "async", "exit"] | None = None
    checkpoint_during: bool | None = None
    # Only meaningful on a thread, but the SDK may send them on stateless runs too.
    multitask_strategy: MultitaskStrategy = "enqueue"
    if_not_exists: Literal["reject", "create"] = "reject"
    checkpoint: CheckpointRef | None = None
    checkpoint_id: str | None = None

    @field_validator("after_seconds", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        # Strict mode refuses ints for floats; JSON does not distinguish them.
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    def modes(self) -> list[str]:
        modes = [self.stream_mode] if isinstance(self.stream_mode, str) else self.stream_mode
        return list(dict.fromkeys(modes)) or ["values"]


class RunCancelMany(Body):
    status: Literal["pending", "running", "all"] | None = None
    thread_id: str | None = None
    run_ids: list[str] | None = None

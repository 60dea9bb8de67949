"""Thread TTL settings: `checkpointer.ttl` in langgraph.json, checked at start-up.

A thread with a TTL expires `ttl_minutes` after its last update. The `delete` strategy
removes the thread with its checkpoints; `keep_latest` keeps the thread and its newest
checkpoint, dropping the history, and starts the clock again. The sweeper that enforces
them is `services.thread_ttl`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from robyn_server.storage.store_ttl import check_ttl

STRATEGIES = ("delete", "keep_latest")


DEFAULT_SWEEP_INTERVAL_MINUTES = 5.0


class ThreadTTLConfigError(ValueError):
    """`checkpointer.ttl` in langgraph.json has a value the server cannot use."""


@dataclass(frozen=True)
class ThreadTTLSettings:
    default_ttl_minutes: float | None = None
    strategy: str = "delete"
    sweep_interval_minutes: float = DEFAULT_SWEEP_INTERVAL_MINUTES

    @classmethod
    def from_checkpointer_config(cls, checkpointer: dict[str, Any]) -> ThreadTTLSettings:
        ttl = checkpointer.get("ttl") or {}
        if not isinstance(ttl, dict):
            raise ThreadTTLConfigError("checkpointer.ttl must be an object")
        strategy = ttl.get("strategy", "delete")
        if strategy not in STRATEGIES:
            raise ThreadTTLConfigError(
                f"checkpointer.ttl.strategy must be one of {list(STRATEGIES)}, got {strategy!r}"
            )
        try:
            default = check_ttl(ttl.get("default_ttl"), "checkpointer.ttl.default_ttl")
            interval = check_ttl(
                ttl.get("sweep_interval_minutes", DEFAULT_SWEEP_INTERVAL_MINUTES),
                "checkpointer.ttl.sweep_interval_minutes",
            )
        except ValueError as exc:
            raise ThreadTTLConfigError(str(exc)) from None
        return cls(
            default_ttl_minutes=default,
            strategy=strategy,
            sweep_interval_minutes=interval or DEFAULT_SWEEP_INTERVAL_MINUTES,
        )

    def default_record(self) -> dict[str, Any] | None:
        """The TTL a new thread gets when the client sets none."""
        if self.default_ttl_minutes is None:
            return None
        return {"strategy": self.strategy, "ttl_minutes": self.default_ttl_minutes}

"""A2A tasks (v0.3 shapes) from runs: a task is a run, its context the run's thread.

| run | thread | task state |
|---|---|---|
| pending | | submitted |
| running | | working |
| success | interrupted (the run stopped at an interrupt) | input-required |
| success | | completed |
| error, timeout | | failed (the status message carries the error) |
| interrupted (cancelled) | | canceled |
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from robyn_server.engine.broker import RunChannel
from robyn_server.services.a2a.messages import agent_message, last_agent_parts, text_part, to_a2a
from robyn_server.services.context import AppContext
from robyn_server.storage.types import Scope, canonical_uuid, utcnow

TASK_NOT_FOUND = -32001
TASK_NOT_CANCELABLE = -32002
PUSH_NOT_SUPPORTED = -32003
UNSUPPORTED_OPERATION = -32004
EXTENDED_CARD_NOT_CONFIGURED = -32007

STATES = {
    "pending": "submitted",
    "running": "working",
    "success": "completed",
    "error": "failed",
    "timeout": "failed",
    "interrupted": "canceled",
}
TERMINAL = ("completed", "canceled", "failed", "rejected")


@dataclass(slots=True)
class Outcome:
    """Where a task stands, and what to show of its thread."""

    state: str
    values: dict[str, Any] | None = None
    interrupts: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    timestamp: datetime | None = None


def parse_task_id(value: Any) -> str | None:
    """The run id a task id names: a run id, or `{thread_id}:{run_id}` as the reference
    server writes them."""
    if not isinstance(value, str):
        return None
    return canonical_uuid(value.rsplit(":", 1)[-1])


def _error_text(error: dict[str, Any] | None) -> str:
    if not error:
        return "Error executing assistant"
    kind, message = error.get("error"), error.get("message")
    detail = f"{kind}: {message}" if kind and message else (kind or message or "")
    return f"Error executing assistant: {detail}"


def _interrupt_parts(interrupts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"kind": "data", "data": {"id": i.get("id"), "value": i.get("value")}} for i in interrupts
    ]


def _artifact(task_id: str, name: str, description: str, parts: list[dict]) -> dict[str, Any]:
    # Stable per task and kind, so tasks/get shows the artifact a send returned.
    artifact_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"a2a-task:{task_id}:{name}"))
    return {"artifactId": artifact_id, "name": name, "description": description, "parts": parts}


def artifacts(task_id: str, assistant_id: str, outcome: Outcome) -> list[dict[str, Any]]:
    if outcome.state == "input-required" and outcome.interrupts:
        parts = _interrupt_parts(outcome.interrupts)
        return [_artifact(task_id, "Interrupt", "Agent requires input to continue", parts)]
    if outcome.state != "completed" or outcome.values is None:
        return []
    parts = last_agent_parts(outcome.values.get("messages")) or [
        {"kind": "data", "data": {k: v for k, v in outcome.values.items() if k != "messages"}}
    ]
    description = f"Response from assistant {assistant_id}"
    return [_artifact(task_id, "Assistant Response", description, parts)]


def status(task_id: str, context_id: str, outcome: Outcome) -> dict[str, Any]:
    out: dict[str, Any] = {
        "state": outcome.state,
        "timestamp": (outcome.timestamp or utcnow()).isoformat(),
    }
    if outcome.state == "failed":
        out["message"] = agent_message([text_part(_error_text(outcome.error))], task_id, context_id)
    elif outcome.state == "input-required" and outcome.interrupts:
        parts = _interrupt_parts(outcome.interrupts)
        out["message"] = agent_message(parts, task_id, context_id)
    return out


def history(
    task_id: str, context_id: str, outcome: Outcome, limit: int | None
) -> list[dict[str, Any]]:
    messages = (outcome.values or {}).get("messages")
    if not isinstance(messages, list) or limit == 0:
        return []
    converted = [m for m in (to_a2a(msg, task_id, context_id) for msg in messages) if m]
    return converted[-limit:] if limit else converted


def build_task(
    task_id: str,
    context_id: str,
    assistant_id: str,
    outcome: Outcome,
    *,
    history_length: int | None = None,
) -> dict[str, Any]:
    return {
        "kind": "task",
        "id": task_id,
        "contextId": context_id,
        "status": status(task_id, context_id, outcome),
        "history": history(task_id, context_id, outcome, history_length),
        "artifacts": artifacts(task_id, assistant_id, outcome),
    }


def _thread_interrupts(thread: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for group in (thread.get("interrupts") or {}).values() for i in group]


async def stored_outcome(ctx: AppContext, scope: Scope, run: dict[str, Any]) -> Outcome:
    """A task's state from storage (tasks/get): the run's status, and its thread's
    values and interrupts while the run is the thread's latest."""
    state = STATES.get(run["status"], "unknown")
    outcome = Outcome(state, timestamp=run.get("updated_at"))
    thread = await ctx.storage.thread_get(scope, run["thread_id"])
    if thread is None:
        return outcome
    latest = await ctx.storage.run_search(scope, run["thread_id"], limit=1)
    if latest and latest[0]["run_id"] != run["run_id"]:
        return outcome  # a later run changed the thread: its values are not this task's
    outcome.values = thread.get("values") or {}
    if state == "completed" and thread.get("status") == "interrupted":
        outcome.state = "input-required"
        outcome.interrupts = _thread_interrupts(thread)
    elif state == "failed":
        outcome.error = thread.get("error")
    return outcome


def ended_outcome(result: Any, run_status: str | None) -> Outcome:
    """A task's state when its run has just ended, from the run's /wait answer."""
    values = result if isinstance(result, dict) else {}
    if "__error__" in values:
        return Outcome("failed", error=values["__error__"])
    interrupts = values.get("__interrupt__")
    values = {k: v for k, v in values.items() if k != "__interrupt__"}
    if run_status == "interrupted":
        return Outcome("canceled", values)
    if interrupts:
        return Outcome("input-required", values, list(interrupts))
    return Outcome(STATES.get(run_status or "success", "completed"), values)


async def ended(ctx: AppContext, scope: Scope, run_id: str, channel: RunChannel) -> Outcome:
    """A task's state once its run has ended: the run's answer and stored status."""
    run = await ctx.storage.run_get(scope, run_id)
    return ended_outcome(channel.result, run["status"] if run else None)

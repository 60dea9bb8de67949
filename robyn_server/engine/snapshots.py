"""LangGraph's `StateSnapshot` in the wire's shapes: ThreadState, the thread row's
status, values and interrupts, and what /wait and /join answer.

LangGraph's snapshot is the one source of truth for state: the endpoints and the engine
derive everything from it here, so a run and a state update leave the same thread row.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from langgraph.types import StateSnapshot

from robyn_server.engine.checkpoints import checkpoint_address
from robyn_server.serialization import to_jsonable

# What a thread without a graph or without checkpoints reports, as the reference does.
EMPTY_STATE: dict[str, Any] = {
    "values": {},
    "next": [],
    "tasks": [],
    "metadata": None,
    "created_at": None,
    "checkpoint": None,
    "parent_checkpoint": None,
    "interrupts": [],
    "checkpoint_id": None,
    "parent_checkpoint_id": None,
}


def _checkpoint(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    address = checkpoint_address(config)
    return address if address and address["checkpoint_id"] else None


def interrupt_json(interrupt: Any) -> dict[str, Any]:
    out = {"id": interrupt.id, "value": interrupt.value}
    schema = getattr(interrupt, "response_schema", None)
    if schema is not None:
        out["response_schema"] = schema
    return out


def _task_json(task: Any) -> dict[str, Any]:
    # A subgraph task points at the subgraph's state: expanded when subgraphs were
    # asked for, else only its address, which POST .../state/checkpoint accepts.
    state = task.state
    if isinstance(state, StateSnapshot):
        checkpoint, nested = checkpoint_address(state.config), state_to_json(state)
    else:
        checkpoint, nested = checkpoint_address(state), None
    return {
        "id": task.id,
        "name": task.name,
        "path": task.path,
        "error": task.error,
        "interrupts": [interrupt_json(i) for i in task.interrupts],
        "checkpoint": checkpoint,
        "state": nested,
        "result": getattr(task, "result", None),
    }


def state_to_json(snapshot: StateSnapshot) -> dict[str, Any]:
    """The ThreadState wire shape, ready for `serialization.dumps` (values may still hold
    LangChain messages; use `to_jsonable` on it where plain JSON is needed)."""
    checkpoint = _checkpoint(snapshot.config)
    parent = _checkpoint(snapshot.parent_config)
    return {
        "values": snapshot.values,
        "next": list(snapshot.next),
        "tasks": [_task_json(t) for t in snapshot.tasks],
        "metadata": snapshot.metadata,
        "created_at": snapshot.created_at,
        "checkpoint": checkpoint,
        "parent_checkpoint": parent,
        "interrupts": [interrupt_json(i) for i in snapshot.interrupts],
        "checkpoint_id": checkpoint["checkpoint_id"] if checkpoint else None,
        "parent_checkpoint_id": parent["checkpoint_id"] if parent else None,
    }


def empty_state() -> dict[str, Any]:
    return copy.deepcopy(EMPTY_STATE)


def snapshot_exists(snapshot: StateSnapshot) -> bool:
    # LangGraph answers a missing checkpoint with a blank snapshot rather than an error.
    return snapshot.created_at is not None or snapshot.metadata is not None


def thread_fields(snapshot: StateSnapshot) -> dict[str, Any]:
    """The thread row's `status`, `values` and `interrupts` for the thread's latest state.

    `interrupted` whenever nodes are left to run: an `interrupt()` (then `interrupts`
    lists it under its task id) or a static breakpoint (then `interrupts` is `{}`).
    Busy and error are the run engine's to decide; it overrides `status` for them.
    Values and interrupts come back as plain JSON, ready for storage.
    """
    interrupts = {
        task.id: [interrupt_json(i) for i in task.interrupts]
        for task in snapshot.tasks
        if task.interrupts
    }
    values = snapshot.values if snapshot_exists(snapshot) else None
    plain = to_jsonable({"values": values, "interrupts": interrupts})
    return {
        "status": "interrupted" if snapshot.next or interrupts else "idle",
        "values": plain["values"],
        "interrupts": plain["interrupts"],
    }


def wait_answer(values: Any, interrupts: list[dict[str, Any]], error: Any = None) -> Any:
    """What /wait and /join answer: `{"__error__": ...}` for a failed run, else the final
    values, with `__interrupt__` when the run stopped at interrupts."""
    if error:
        return {"__error__": error}
    values = values or {}
    if interrupts and isinstance(values, dict):
        values = {**values, "__interrupt__": interrupts}
    return to_jsonable(values)

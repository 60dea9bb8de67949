"""Thread state and history, read and written only through the graph and its checkpointer.

LangGraph's `StateSnapshot` is the one source of truth: the endpoints turn it into the
wire's ThreadState, the thread row's status/values/interrupts are derived from it, and
updates go through `aupdate_state` so the checkpoints are exactly what LangGraph itself
would write. Nothing here keeps a copy of state on the side.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from langgraph.errors import EmptyInputError, InvalidUpdateError
from langgraph.types import StateSnapshot

from robyn_server.auth.caller import Caller
from robyn_server.engine.snapshots import empty_state, snapshot_exists, state_to_json, thread_fields
from robyn_server.errors import BadRequest, Conflict, NotFound, ValidationFailed
from robyn_server.schemas.state import STATE_FIELDS, CheckpointAddress, HistorySearch, StateUpdate
from robyn_server.services.context import AppContext
from robyn_server.services.threads import NO_GRAPH, not_found
from robyn_server.storage.types import Scope, parse_uuid

BUSY = "Thread is busy with an in-flight run; wait for it to finish before updating its state"
# Keys of a checkpoint config that address a checkpoint, as opposed to run settings.
_ADDRESS_KEYS = ("checkpoint_id", "checkpoint_ns", "checkpoint_map")


# -- the thread row ----------------------------------------------------------------------


def _latest(config: dict[str, Any], thread_id: str) -> dict[str, Any]:
    """`config` readdressed to the thread's newest root checkpoint."""
    conf = {
        k: v
        for k, v in (config.get("configurable") or {}).items()
        if k not in _ADDRESS_KEYS and not k.startswith("__")
    }
    conf["thread_id"] = thread_id
    return {"configurable": conf}


async def _store_fields(
    ctx: AppContext, scope: Scope, thread_id: str, snapshot: StateSnapshot
) -> dict[str, Any]:
    fields = thread_fields(snapshot)
    await ctx.storage.thread_set_state(scope, thread_id, **fields, error=None)
    return fields


async def refresh_thread(
    ctx: AppContext, scope: Scope, thread_id: str, graph: Any, config: dict[str, Any]
) -> dict[str, Any]:
    """Recompute the thread row from its latest checkpoint (error cleared) and return
    the fields written: `{"status", "values", "interrupts"}`."""
    snapshot = await graph.aget_state(_latest(config, thread_id))
    return await _store_fields(ctx, scope, thread_id, snapshot)


# -- resolving a thread's graph ----------------------------------------------------------


async def _thread(ctx: AppContext, scope: Scope, thread_id: str) -> dict[str, Any]:
    thread = await ctx.storage.thread_get(scope, thread_id)
    if thread is None:
        raise not_found(thread_id)
    return thread


@asynccontextmanager
async def _thread_graph(
    ctx: AppContext, thread: dict[str, Any], graph_id: str
) -> AsyncIterator[tuple[Any, dict[str, Any]]]:
    """The thread's graph and the config that addresses the thread's root state."""
    if graph_id not in ctx.registry:
        raise NotFound(f"Graph '{graph_id}' not found")
    thread_id = thread["thread_id"]
    ids = {"thread_id": thread_id, "graph_id": graph_id}
    # A factory builds the graph from config: give it the thread's, as runs do.
    thread_config = dict(thread.get("config") or {})
    factory_config = {
        **thread_config,
        "configurable": {**(thread_config.get("configurable") or {}), **ids},
    }
    async with ctx.registry.graph(
        graph_id, factory_config, checkpointer=ctx.checkpointer, store=ctx.store
    ) as graph:
        yield graph, {"configurable": ids}


def _address_keys(
    address: CheckpointAddress | None, checkpoint_id: str | None = None
) -> dict[str, Any]:
    """The configurable keys that point at a checkpoint. Ids are checked here, before any
    lookup, so a malformed one is always a 422 rather than a miss."""
    keys: dict[str, Any] = {"checkpoint_ns": ""}
    if address is not None:
        if address.checkpoint_ns:
            keys["checkpoint_ns"] = address.checkpoint_ns
        if address.checkpoint_id:
            keys["checkpoint_id"] = parse_uuid(address.checkpoint_id, "checkpoint ID")
        if address.checkpoint_map:
            keys["checkpoint_map"] = address.checkpoint_map
    if checkpoint_id:
        keys["checkpoint_id"] = parse_uuid(checkpoint_id, "checkpoint ID")
    return keys


def _addressed(config: dict[str, Any], keys: dict[str, Any]) -> dict[str, Any]:
    return {"configurable": {**config["configurable"], **keys}}


def _missing_checkpoint(thread_id: str, config: dict[str, Any]) -> NotFound:
    checkpoint_id = config["configurable"]["checkpoint_id"]
    return NotFound(f"Checkpoint {checkpoint_id} not found in thread {thread_id}")


# -- select ------------------------------------------------------------------------------


def check_select(select: list[str] | None) -> None:
    for field in select or ():
        if field not in STATE_FIELDS and not (field.startswith("values.") and len(field) > 7):
            raise ValidationFailed(
                f"Invalid select field {field!r}: use one of {list(STATE_FIELDS)} or values.<key>"
            )


def select_fields(state: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    """Only the selected fields; `values.<key>` keeps just those keys of `values`."""
    if not select:
        return state
    out = {field: state[field] for field in select if field in state}
    keys = [field.removeprefix("values.") for field in select if field.startswith("values.")]
    if keys and "values" not in out:
        values = state["values"]
        out["values"] = (
            {k: values[k] for k in keys if k in values} if isinstance(values, dict) else values
        )
    return out


# -- endpoints -----------------------------------------------------------------------------


async def get_state(
    ctx: AppContext,
    caller: Caller,
    thread_id: str,
    *,
    subgraphs: bool = False,
    checkpoint: CheckpointAddress | None = None,
    select: list[str] | None = None,
) -> dict[str, Any]:
    """The thread's state, latest unless `checkpoint` names one (404 if it is unknown)."""
    check_select(select)
    keys = _address_keys(checkpoint)
    scope = await caller.scope("threads", "read", {"thread_id": thread_id})
    thread = await _thread(ctx, scope, thread_id)
    graph_id = thread["metadata"].get("graph_id")
    if not graph_id:
        return select_fields(empty_state(), select)
    async with _thread_graph(ctx, thread, graph_id) as (graph, config):
        config = _addressed(config, keys)
        snapshot = await graph.aget_state(config, subgraphs=subgraphs)
    if "checkpoint_id" in config["configurable"] and not snapshot_exists(snapshot):
        raise _missing_checkpoint(thread_id, config)
    return select_fields(state_to_json(snapshot), select)


async def get_state_at(
    ctx: AppContext,
    caller: Caller,
    thread_id: str,
    checkpoint_id: str,
    *,
    subgraphs: bool = False,
    select: list[str] | None = None,
) -> dict[str, Any]:
    address = CheckpointAddress(checkpoint_id=checkpoint_id)
    return await get_state(
        ctx, caller, thread_id, subgraphs=subgraphs, checkpoint=address, select=select
    )


async def get_state_for_checkpoint(
    ctx: AppContext,
    caller: Caller,
    thread_id: str,
    checkpoint: CheckpointAddress,
    *,
    subgraphs: bool = False,
    select: list[str] | None = None,
) -> dict[str, Any]:
    return await get_state(
        ctx, caller, thread_id, subgraphs=subgraphs, checkpoint=checkpoint, select=select
    )


async def update_state(
    ctx: AppContext, caller: Caller, thread_id: str, body: StateUpdate
) -> dict[str, Any]:
    """Apply `values` as if node `as_node` had written them, on the latest checkpoint or
    the one given (which forks history there), then bring the thread row up to date.

    Refused while a run is pending or running: the run would overwrite the update, or
    the update would land in the middle of the run's steps.
    """
    keys = _address_keys(body.checkpoint, body.checkpoint_id)
    value = {"thread_id": thread_id, "values": body.values, "as_node": body.as_node}
    scope = await caller.scope("threads", "update", value)
    thread = await _thread(ctx, scope, thread_id)
    graph_id = thread["metadata"].get("graph_id")
    if not graph_id:
        raise BadRequest(NO_GRAPH.format(thread_id=thread_id))
    if await ctx.storage.run_inflight(scope, thread_id=thread_id):
        raise Conflict(BUSY)
    async with _thread_graph(ctx, thread, graph_id) as (graph, root):
        config = _addressed(root, keys)
        if "checkpoint_id" in config["configurable"]:
            # LangGraph would silently start a new history from an unknown id.
            if not snapshot_exists(await graph.aget_state(config)):
                raise _missing_checkpoint(thread_id, config)
        try:
            saved = await graph.aupdate_state(config, body.values, as_node=body.as_node)
        except (ValueError, KeyError, TypeError, InvalidUpdateError, EmptyInputError) as exc:
            raise BadRequest(f"Invalid state update: {exc}") from None
        snapshot = await graph.aget_state(root)
    await _store_fields(ctx, scope, thread_id, snapshot)
    if ctx.broker is not None:
        await ctx.broker.publish_state_update(
            thread_id, {"state": state_to_json(snapshot), "thread_id": thread_id}
        )
    written = {k: v for k, v in saved["configurable"].items() if not k.startswith("__")}
    return {
        "checkpoint": written,
        "configurable": dict(written),
        "checkpoint_id": written.get("checkpoint_id"),
    }


def _before(before: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """Every form clients send: an id, `{"configurable": {...}}` or a flat checkpoint."""
    if before is None:
        return None
    if isinstance(before, str):
        checkpoint_id: Any = before
    else:
        conf = before.get("configurable")
        checkpoint_id = (conf if isinstance(conf, dict) else before).get("checkpoint_id")
    if not isinstance(checkpoint_id, str) or not checkpoint_id:
        raise ValidationFailed("before: must be a checkpoint ID or a checkpoint with one")
    return {"configurable": {"checkpoint_id": parse_uuid(checkpoint_id, "checkpoint ID")}}


async def history(
    ctx: AppContext, caller: Caller, thread_id: str, body: HistorySearch
) -> list[dict[str, Any]]:
    """Past states, newest first, across every branch of the thread."""
    check_select(body.select)
    before = _before(body.before)
    keys = _address_keys(body.checkpoint)
    scope = await caller.scope("threads", "read", {"thread_id": thread_id})
    thread = await _thread(ctx, scope, thread_id)
    graph_id = thread["metadata"].get("graph_id")
    if not graph_id:
        return []
    async with _thread_graph(ctx, thread, graph_id) as (graph, config):
        config = _addressed(config, keys)
        snapshots = [
            s
            async for s in graph.aget_state_history(
                config, filter=body.metadata or None, before=before, limit=body.limit
            )
        ]
    return [select_fields(state_to_json(s), body.select) for s in snapshots]

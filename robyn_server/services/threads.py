"""Threads: conversations whose state lives in the checkpointer."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from langchain_core.runnables import RunnableConfig
from langchain_core.utils.uuid import uuid7
from langgraph.errors import EmptyInputError, InvalidUpdateError
from langgraph.types import StateUpdate

from robyn_server.auth.caller import Caller
from robyn_server.engine.checkpoints import (
    copy_thread_checkpoints,
    delete_thread_checkpoints,
    prune_keep_latest,
)
from robyn_server.engine.snapshots import state_to_json, thread_fields
from robyn_server.errors import BadRequest, Conflict, NotFound, ValidationFailed
from robyn_server.schemas.requests import (
    EXTRACT_ROOTS,
    ThreadCount,
    ThreadCreate,
    ThreadPatch,
    ThreadPrune,
    ThreadSearch,
)
from robyn_server.services.config_keys import clean_metadata, handled_metadata
from robyn_server.services.context import AppContext
from robyn_server.storage.types import (
    ANONYMOUS,
    Page,
    Scope,
    StorageConflict,
    new_uuid4,
    parse_uuid,
)

NO_GRAPH = (
    "Thread '{thread_id}' has no assigned graph ID. This usually occurs when no runs have been "
    "made on this particular thread. This operation requires a graph ID. Please ensure a run has "
    "been made for the thread or manually update the thread metadata (by setting the 'graph_id' "
    "field) before running this operation."
)


async def stop_runs(ctx: AppContext, thread_ids: list[str]) -> None:
    """Deleting threads deletes their runs' rows; this stops the ones executing."""
    if ctx.engine is not None and thread_ids:
        await ctx.engine.stop_threads(thread_ids)


def not_found(thread_id: str) -> NotFound:
    return NotFound(f"Thread with ID {thread_id} not found")


def _ttl_record(ttl: Any) -> dict[str, Any] | None:
    if ttl is None:
        return None
    return {"strategy": ttl.strategy, "ttl_minutes": ttl.ttl}


async def create(ctx: AppContext, caller: Caller, body: ThreadCreate) -> dict[str, Any]:
    thread_id = parse_uuid(body.thread_id, "thread ID") if body.thread_id else str(uuid7())
    metadata = clean_metadata(body.metadata)
    if body.supersteps and not metadata.get("graph_id"):
        raise BadRequest("Creating a thread with supersteps requires metadata.graph_id")
    if body.supersteps and metadata["graph_id"] not in ctx.registry:
        raise NotFound(f"Graph '{metadata['graph_id']}' not found")
    # Parsed before the thread exists, so a malformed body leaves nothing behind.
    steps = _parse_supersteps(body.supersteps) if body.supersteps else None
    value: dict[str, Any] = {
        "thread_id": thread_id,
        "metadata": metadata,
        "if_exists": body.if_exists,
        "ttl": body.ttl.model_dump() if body.ttl is not None else None,
    }
    # The handler may stamp metadata; its filter decides which existing thread
    # if_exists="do_nothing" may return.
    scope = await caller.scope("threads", "create", value)
    graph_id = metadata.get("graph_id")
    metadata = handled_metadata(value) or {}
    if steps:
        metadata["graph_id"] = graph_id  # what the supersteps were checked against
    if steps and body.thread_id and body.if_exists == "do_nothing":
        # An existing thread is returned as it is, never overwritten with new state.
        existing = await ctx.storage.thread_get(scope, thread_id)
        if existing is not None:
            return present(existing)
    try:
        thread = await ctx.storage.thread_create(
            scope,
            thread_id=thread_id,
            metadata=metadata,
            if_exists=body.if_exists,
            ttl=_ttl_record(body.ttl)
            or (ctx.thread_ttl.default_record() if ctx.thread_ttl else None),
        )
    except StorageConflict:
        raise Conflict(f"Thread with ID {thread_id} already exists") from None
    if steps:
        # The thread this request just created: its own follow-up writes need no check.
        thread = await _apply_supersteps(ctx, ANONYMOUS, thread, steps)
    return present(thread)


def _parse_supersteps(supersteps: list[dict[str, Any]]) -> list[list[Any]]:
    steps = []
    for step in supersteps:
        updates = step.get("updates")
        if not isinstance(updates, list) or not all(isinstance(u, dict) for u in updates):
            raise ValidationFailed("Each superstep needs a list of updates")
        steps.append(
            [StateUpdate(u.get("values"), u.get("as_node"), u.get("task_id")) for u in updates]
        )
    return steps


async def _apply_supersteps(
    ctx: AppContext, scope: Scope, thread: dict[str, Any], steps: list[list[Any]]
) -> dict[str, Any]:
    """Bulk-apply state updates, one superstep at a time, through the graph itself.

    Any failure removes the thread again: a create either fully happens or not at all.
    """
    thread_id = thread["thread_id"]
    graph_id = thread["metadata"]["graph_id"]
    config: RunnableConfig = {"configurable": {"thread_id": thread_id, "graph_id": graph_id}}
    try:
        async with ctx.registry.graph(
            graph_id, config, checkpointer=ctx.checkpointer, store=ctx.store
        ) as graph:
            try:
                await graph.abulk_update_state(config, steps)
            except (ValueError, KeyError, TypeError, InvalidUpdateError, EmptyInputError) as exc:
                raise BadRequest(f"Invalid supersteps: {exc}") from None
            state = await graph.aget_state(config)
        # The same status/values/interrupts a run would leave (interrupted if `next`).
        updated = await ctx.storage.thread_set_state(
            scope, thread_id, **thread_fields(state), error=None
        )
    except BaseException:
        await ctx.storage.thread_delete(scope, thread_id)
        await delete_thread_checkpoints(ctx.checkpointer, [thread_id])
        raise
    if ctx.broker is not None:
        await ctx.broker.publish_state_update(
            thread_id, {"state": state_to_json(state), "thread_id": thread_id}
        )
    return updated or thread


async def get(
    ctx: AppContext, caller: Caller, thread_id: str, include_ttl: bool = False
) -> dict[str, Any]:
    scope = await caller.scope("threads", "read", {"thread_id": thread_id})
    thread = await ctx.storage.thread_get(scope, thread_id)
    if thread is None:
        raise not_found(thread_id)
    return present(thread, include_ttl=include_ttl)


def present(thread: dict[str, Any], *, include_ttl: bool = False) -> dict[str, Any]:
    """The wire shape: `ttl` only when asked for, with its expiry computed."""
    out = {k: v for k, v in thread.items() if k != "ttl"}
    ttl = thread.get("ttl")
    if include_ttl and ttl:
        minutes = ttl.get("ttl_minutes", ttl.get("ttl"))
        out["ttl"] = {
            "strategy": ttl.get("strategy", "delete"),
            "ttl_minutes": minutes,
            "expires_at": thread["updated_at"] + timedelta(minutes=float(minutes)),
        }
    return out


async def update(
    ctx: AppContext, caller: Caller, thread_id: str, body: ThreadPatch
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "thread_id": thread_id,
        "metadata": clean_metadata(body.metadata),
    }
    scope = await caller.scope("threads", "update", value)
    metadata = handled_metadata(value)
    if body.metadata is None and not metadata:
        metadata = None  # nothing to merge: the client sent none, the handler added none
    thread = await ctx.storage.thread_update(
        scope, thread_id, metadata=metadata, ttl=_ttl_record(body.ttl)
    )
    if thread is None:
        raise not_found(thread_id)
    return present(thread)


async def delete(ctx: AppContext, caller: Caller, thread_id: str) -> None:
    scope = await caller.scope("threads", "delete", {"thread_id": thread_id})
    if not await ctx.storage.thread_delete(scope, thread_id):
        raise not_found(thread_id)
    await stop_runs(ctx, [thread_id])
    await delete_thread_checkpoints(ctx.checkpointer, [thread_id])


def _search_value(body: ThreadCount) -> dict[str, Any]:
    # Handlers get copies: what they write in `value` changes nothing of the search.
    return {
        "metadata": dict(body.metadata or {}),
        "values": dict(body.values or {}),
        "status": body.status,
    }


async def search(ctx: AppContext, caller: Caller, body: ThreadSearch) -> Page:
    ids = [parse_uuid(i, "thread ID") for i in body.ids] if body.ids else None
    for path in (body.extract or {}).values():
        extract_path({}, path)  # refuse a bad path even when nothing matches
    value = {**_search_value(body), "ids": ids, "limit": body.limit, "offset": body.offset}
    scope = await caller.scope("threads", "search", value)
    page = await ctx.storage.thread_search(
        scope,
        ids=ids,
        metadata=body.metadata,
        values=body.values,
        status=body.status,
        sort_by=body.sort_by or "updated_at",
        sort_order=body.sort_order or "desc",
        limit=body.limit,
        offset=body.offset,
    )
    page.items = [present(t) for t in page.items]
    if body.extract:
        for thread in page.items:
            thread["extracted"] = {
                alias: extract_path(thread, path) for alias, path in body.extract.items()
            }
    return page


async def count(ctx: AppContext, caller: Caller, body: ThreadCount) -> int:
    scope = await caller.scope("threads", "search", _search_value(body))
    return await ctx.storage.thread_count(
        scope, metadata=body.metadata, values=body.values, status=body.status
    )


async def copy(ctx: AppContext, caller: Caller, thread_id: str) -> dict[str, Any]:
    """A new thread with the source's state: reading the source is `threads.read`, and
    the copy is created as `threads.create` (whose handler stamps it as the copier's)."""
    new_id = new_uuid4()  # the reference server gives copies v4 ids, not v7
    scope = await caller.scope("threads", "read", {"thread_id": thread_id})
    source = await ctx.storage.thread_get(scope, thread_id)
    if source is None:
        raise Conflict(f"Thread with ID {thread_id} not found")
    value: dict[str, Any] = {
        "thread_id": new_id,
        "metadata": dict(source["metadata"]),
        "if_exists": "raise",
    }
    await caller.scope("threads", "create", value)
    metadata = handled_metadata(value) or {}
    thread = await ctx.storage.thread_copy(scope, thread_id, new_id, metadata=metadata)
    if thread is None:
        raise Conflict(f"Thread with ID {thread_id} not found")
    await copy_thread_checkpoints(ctx.checkpointer, thread_id, new_id)
    return present(thread)


async def prune(ctx: AppContext, caller: Caller, body: ThreadPrune) -> int:
    ids = [parse_uuid(i, "thread ID") for i in body.thread_ids]
    # Deleting threads is `threads.delete`; keeping only their latest state, an update.
    action = "delete" if body.strategy == "delete" else "update"
    scope = await caller.scope("threads", action, {"thread_ids": ids, "strategy": body.strategy})
    if body.strategy == "delete":
        deleted = await ctx.storage.thread_delete_many(scope, ids)
        await stop_runs(ctx, deleted)
        await delete_thread_checkpoints(ctx.checkpointer, deleted)
        return len(deleted)
    if not ids:
        return 0
    # One query for all of them, rather than a lookup per id.
    page = await ctx.storage.thread_search(scope, ids=ids, limit=len(ids))
    existing = [t["thread_id"] for t in page.items]
    await prune_keep_latest(ctx.checkpointer, existing)
    return len(existing)


_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(-?\d+)\]")


def extract_path(thread: dict[str, Any], path: str) -> Any:
    """Follow `values.messages[-1].content`-style paths; None when anything is missing."""
    tokens = [(name, index) for name, index in _PATH_TOKEN.findall(path)]
    if not tokens or tokens[0][0] not in EXTRACT_ROOTS:
        raise ValidationFailed(
            f"Invalid extract path {path!r}: it must start with one of {list(EXTRACT_ROOTS)}"
        )
    current: Any = thread
    for name, index in tokens:
        try:
            current = current[name] if name else current[int(index)]
        except (KeyError, IndexError, TypeError):
            return None
    return current

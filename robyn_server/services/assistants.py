"""Assistants: versioned configurations of a registered graph."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from robyn_server.auth.caller import Caller
from robyn_server.engine.checkpoints import delete_thread_checkpoints
from robyn_server.engine.secrets import keep_redacted, redact
from robyn_server.errors import BadRequest, Conflict, NotFound, ValidationFailed
from robyn_server.graphs.registry import system_assistant_id
from robyn_server.schemas.requests import (
    AssistantCount,
    AssistantCreate,
    AssistantPatch,
    AssistantSearch,
)
from robyn_server.services.config_keys import (
    RESERVED_CONFIGURABLE_KEYS,
    clean_config,
    clean_metadata,
    handled_metadata,
    strip_keys,
)
from robyn_server.services.context import AppContext
from robyn_server.storage.types import (
    ANONYMOUS,
    Page,
    StorageConflict,
    new_uuid4,
    parse_uuid,
)

BOTH_CONFIGURABLE_AND_CONTEXT = (
    "Cannot specify both configurable and context. Prefer setting context alone. Context was "
    "introduced in LangGraph 0.6.0 and is the long term planned replacement for configurable."
)


def _mirror(
    config: dict[str, Any] | None, context: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Keep `config.configurable` and `context` mirrored, whichever the client gave."""
    config = clean_config(config)
    context = strip_keys(context, RESERVED_CONFIGURABLE_KEYS)
    configurable = config.get("configurable") or {}
    if configurable and context:
        raise BadRequest(BOTH_CONFIGURABLE_AND_CONTEXT)
    if configurable:
        context = dict(configurable)
    elif context:
        config["configurable"] = dict(context)
    return config, context


def _require_graph(ctx: AppContext, graph_id: str) -> None:
    if graph_id not in ctx.registry:
        raise NotFound(f"Graph '{graph_id}' not found. Expected one of: {ctx.registry.ids()}")


def present(assistant: dict[str, Any]) -> dict[str, Any]:
    """An assistant as clients see it: API keys and tokens in its config are "***"."""
    return redact(assistant)


def not_found(assistant_id: str) -> NotFound:
    return NotFound(f"Assistant '{assistant_id}' not found")


def resolve_id(ctx: AppContext, value: str) -> str:
    """A UUID, or a registered graph id standing for its system assistant."""
    if value in ctx.registry:
        return system_assistant_id(value)
    return parse_uuid(value, "assistant ID")


async def create(ctx: AppContext, caller: Caller, body: AssistantCreate) -> dict[str, Any]:
    _require_graph(ctx, body.graph_id)
    assistant_id = (
        parse_uuid(body.assistant_id, "assistant ID") if body.assistant_id else new_uuid4()
    )
    config, context = _mirror(body.config, body.context)
    value: dict[str, Any] = {
        "assistant_id": assistant_id,
        "graph_id": body.graph_id,
        "config": config,
        "context": context,
        "metadata": clean_metadata(body.metadata),
        "if_exists": body.if_exists,
        "name": body.name or "Untitled",
        "description": body.description,
    }
    # The handler may stamp metadata (its owner, usually); its filter decides whether an
    # existing assistant is returned for if_exists="do_nothing".
    scope = await caller.scope("assistants", "create", value)
    try:
        created = await ctx.storage.assistant_create(
            scope,
            assistant_id=assistant_id,
            graph_id=body.graph_id,
            config=config,
            context=context,
            metadata=(handled_metadata(value) or {}),
            name=body.name or "Untitled",
            description=body.description,
            if_exists=body.if_exists,
        )
    except StorageConflict:
        raise Conflict(f"Assistant {assistant_id} already exists") from None
    return present(created)


async def load(ctx: AppContext, caller: Caller, assistant_id: str) -> dict[str, Any]:
    """The stored assistant, secrets included: for the server's own use, never for output."""
    scope = await caller.scope("assistants", "read", {"assistant_id": assistant_id})
    assistant = await ctx.storage.assistant_get(scope, assistant_id)
    if assistant is None:
        raise NotFound("Not Found")  # the reference's exact answer to a miss
    return assistant


def is_system_assistant(ctx: AppContext, assistant_id: str) -> bool:
    """Whether the id is a loaded graph's own assistant (the one the server creates)."""
    return any(system_assistant_id(graph_id) == assistant_id for graph_id in ctx.registry.ids())


async def runnable(ctx: AppContext, caller: Caller, assistant_id: str) -> dict[str, Any] | None:
    """The assistant a run (a cron, an A2A or MCP call) may use: one the caller can read
    (`assistants.read`), or a graph's system assistant, which is the graph itself and
    holds nobody's data, so any caller allowed to create the run may use it."""
    if is_system_assistant(ctx, assistant_id):
        return await ctx.storage.assistant_get(ANONYMOUS, assistant_id)
    scope = await caller.scope("assistants", "read", {"assistant_id": assistant_id})
    return await ctx.storage.assistant_get(scope, assistant_id)


async def get(ctx: AppContext, caller: Caller, assistant_id: str) -> dict[str, Any]:
    return present(await load(ctx, caller, assistant_id))


async def update(
    ctx: AppContext, caller: Caller, assistant_id: str, body: AssistantPatch
) -> dict[str, Any]:
    if body.graph_id is not None:
        _require_graph(ctx, body.graph_id)
    value: dict[str, Any] = {
        "assistant_id": assistant_id,
        "graph_id": body.graph_id,
        "config": body.config,
        "context": body.context,
        "metadata": clean_metadata(body.metadata),
        "name": body.name,
        "description": body.description,
    }
    scope = await caller.scope("assistants", "update", value)
    current = await ctx.storage.assistant_get(scope, assistant_id)
    if current is None:
        raise NotFound("Not Found")
    # A non-empty config replaces the current one; a given context replaces too, and the
    # two stay mirrored through config.configurable.
    config = clean_config(body.config) if body.config else None
    context = (
        strip_keys(body.context, RESERVED_CONFIGURABLE_KEYS) if body.context is not None else None
    )
    if config and config.get("configurable") and context:
        raise BadRequest(BOTH_CONFIGURABLE_AND_CONTEXT)
    if config is not None and context is None and config.get("configurable"):
        context = dict(config["configurable"])
    if context is not None and not (config or {}).get("configurable"):
        base = config if config is not None else current["config"]
        config = {**base, "configurable": dict(context)}
    # A client that read the assistant back sends its secrets as "***": keep the stored ones.
    config = keep_redacted(config, current["config"])
    context = keep_redacted(context, current.get("context"))
    metadata = handled_metadata(value)
    if body.metadata is None and not metadata:
        metadata = None  # nothing to merge: the client sent none, the handler added none
    updated = await ctx.storage.assistant_update(
        scope,
        assistant_id,
        graph_id=body.graph_id,
        config=config,
        context=context,
        metadata=metadata,
        name=body.name,
        description=body.description,
    )
    if updated is None:
        raise not_found(assistant_id)
    return present(updated)


async def delete(ctx: AppContext, caller: Caller, assistant_id: str, delete_threads: bool) -> None:
    scope = await caller.scope("assistants", "delete", {"assistant_id": assistant_id})
    thread_scope = None
    if delete_threads:
        # Its threads go only as far as the caller may delete threads.
        thread_scope = await caller.scope("threads", "delete", {"assistant_id": assistant_id})
    thread_ids = await ctx.storage.assistant_delete(
        scope, assistant_id, delete_threads=delete_threads, thread_scope=thread_scope
    )
    if thread_ids is None:
        raise not_found(assistant_id)
    if ctx.engine is not None and thread_ids:
        await ctx.engine.stop_threads(thread_ids)
    await delete_thread_checkpoints(ctx.checkpointer, thread_ids)


def _search_value(body: AssistantCount) -> dict[str, Any]:
    # Handlers get copies: what they write in `value` changes nothing of the search.
    return {"graph_id": body.graph_id, "metadata": dict(body.metadata or {}), "name": body.name}


async def search(ctx: AppContext, caller: Caller, body: AssistantSearch) -> Page:
    if body.graph_id is not None:
        _require_graph(ctx, body.graph_id)
    value = {**_search_value(body), "limit": body.limit, "offset": body.offset}
    scope = await caller.scope("assistants", "search", value)
    page = await ctx.storage.assistant_search(
        scope,
        metadata=body.metadata,
        graph_id=body.graph_id,
        name=body.name,
        sort_by=body.sort_by or "created_at",
        sort_order=body.sort_order or "desc",
        limit=body.limit,
        offset=body.offset,
    )
    return replace(page, items=[present(item) for item in page.items])


async def count(ctx: AppContext, caller: Caller, body: AssistantCount) -> int:
    if body.graph_id is not None:
        _require_graph(ctx, body.graph_id)
    scope = await caller.scope("assistants", "search", _search_value(body))
    return await ctx.storage.assistant_count(
        scope, metadata=body.metadata, graph_id=body.graph_id, name=body.name
    )


async def versions(
    ctx: AppContext,
    caller: Caller,
    assistant_id: str,
    metadata: dict[str, Any] | None,
    limit: int,
    offset: int,
) -> list[dict[str, Any]]:
    scope = await caller.scope("assistants", "read", {"assistant_id": assistant_id})
    rows = await ctx.storage.assistant_versions(
        scope, assistant_id, metadata=metadata, limit=limit, offset=offset
    )
    if not rows and offset == 0 and await ctx.storage.assistant_get(scope, assistant_id) is None:
        raise not_found(assistant_id)
    return [present(row) for row in rows]


async def set_latest(
    ctx: AppContext, caller: Caller, assistant_id: str, version: int
) -> dict[str, Any]:
    value: dict[str, Any] = {"assistant_id": assistant_id, "version": version}
    scope = await caller.scope("assistants", "update", value)
    assistant = await ctx.storage.assistant_set_latest(scope, assistant_id, version)
    if assistant is None:
        if await ctx.storage.assistant_get(scope, assistant_id) is None:
            raise NotFound("Not Found")
        raise NotFound(f"Version {version} not found for assistant {assistant_id}")
    return present(assistant)


async def graph_of(ctx: AppContext, caller: Caller, assistant_id: str) -> str:
    return (await load(ctx, caller, assistant_id))["graph_id"]


async def draw(ctx: AppContext, caller: Caller, assistant_id: str, xray: bool | int) -> dict:
    graph_id = await graph_of(ctx, caller, assistant_id)
    try:
        return await ctx.registry.draw(graph_id, xray)
    except ValueError as exc:
        raise ValidationFailed(f"Graph '{graph_id}' cannot be drawn: {exc}") from None


async def schemas(ctx: AppContext, caller: Caller, assistant_id: str) -> dict[str, Any]:
    graph_id = await graph_of(ctx, caller, assistant_id)
    return {"graph_id": graph_id, **await ctx.registry.schemas(graph_id)}


async def subgraphs(
    ctx: AppContext, caller: Caller, assistant_id: str, namespace: str | None, recurse: bool
) -> dict[str, Any]:
    graph_id = await graph_of(ctx, caller, assistant_id)
    return await ctx.registry.subgraphs(graph_id, namespace, recurse)


async def ensure_system_assistants(ctx: AppContext) -> None:
    """One assistant per registered graph, with the id every LangGraph client expects."""
    for graph_id in ctx.registry.ids():
        await ctx.storage.assistant_create(
            ANONYMOUS,
            assistant_id=system_assistant_id(graph_id),
            graph_id=graph_id,
            config={},
            context={},
            metadata={"created_by": "system"},
            name=ctx.registry.name(graph_id),
            description=ctx.registry.description(graph_id),
            if_exists="do_nothing",
        )

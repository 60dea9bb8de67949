"""Crons: runs created on a schedule, stateless (a new thread each time) or on a thread.

A cron stores the run body each tick creates (`payload`) with its secrets left out:
keys and tokens are never written to the cron row. A tick's run gets them where any
run does: from the assistant's configuration, or the graph reads its environment.
The scheduler that fires them is in cron_scheduler.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from langchain_core.utils.uuid import uuid7

from robyn_server.auth.caller import Caller
from robyn_server.engine.secrets import drop_secrets
from robyn_server.errors import BadRequest, NotFound, ValidationFailed
from robyn_server.schemas.crons import CronCount, CronCreate, CronPatch, CronSearch
from robyn_server.schemas.runs import RunCreate, RunFields
from robyn_server.services import assistants
from robyn_server.services.config_keys import (
    RESERVED_CONFIGURABLE_KEYS,
    clean_config,
    clean_metadata,
    handled_metadata,
    strip_keys,
)
from robyn_server.services.context import AppContext
from robyn_server.services.cron_schedule import check_schedule, check_timezone, next_run
from robyn_server.services.run_create import check_run
from robyn_server.storage.types import ANONYMOUS, Page, parse_uuid, utcnow

EMPTY_PATCH = "Request body cannot be empty"
THREAD_NOT_FOUND = (
    "Thread with ID '{thread_id}' not found. Please verify the ID is correct and the thread "
    "hasn't been deleted or expired."
)
# The run fields a payload may hold; the cron's own fields travel beside them.
PAYLOAD_RUN_FIELDS = frozenset(RunFields.model_fields)


def cron_not_found(cron_id: str) -> NotFound:
    return NotFound(f"Cron '{cron_id}' not found")


def _utc(value: datetime | None) -> datetime | None:
    """An end time in UTC; one without an offset is read as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _payload_part(body: CronCreate | CronPatch, cron_id: str) -> dict[str, Any]:
    """The fields the client sent, as stored in the payload: without secrets or the
    metadata keys the server owns, and with `config.configurable.cron_id` set."""
    part = body.model_dump(mode="json", exclude_unset=True)
    # The server's own keys (the auth user's among them) are never taken from a client.
    if isinstance(part.get("config"), dict):
        part["config"] = clean_config(part["config"])
    if isinstance(part.get("context"), dict):
        part["context"] = strip_keys(part["context"], RESERVED_CONFIGURABLE_KEYS)
    for key in ("config", "context"):
        if isinstance(part.get(key), dict):
            part[key] = drop_secrets(part[key])
    if "metadata" in part:
        part["metadata"] = clean_metadata(part["metadata"])
    if "config" in part or isinstance(body, CronCreate):
        config = part.get("config") or {}
        config["configurable"] = {**(config.get("configurable") or {}), "cron_id": cron_id}
        part["config"] = config
    return part


async def _assistant_id(ctx: AppContext, caller: Caller, value: str) -> str:
    """The cron's assistant: a UUID or a graph's id (its system assistant), one its runs
    may use (`assistants.runnable`). Anything else is a 404, as on the reference."""
    try:
        assistant_id = assistants.resolve_id(ctx, value)
    except ValidationFailed:
        assistant_id = None
    if assistant_id is None or await assistants.runnable(ctx, caller, assistant_id) is None:
        raise NotFound(f"Assistant '{value}' not found")
    return assistant_id


def tick_run(cron: dict[str, Any]) -> RunCreate:
    """The run a cron's tick creates: its payload, with the cron's metadata under the
    payload's, and for a stateless cron what happens to the thread afterwards."""
    payload = cron["payload"]
    fields = {key: value for key, value in payload.items() if key in PAYLOAD_RUN_FIELDS}
    if fields.get("context"):
        # A run takes its settings in `config.configurable` or in `context`, not both:
        # with a context, the cron id the server put in `configurable` moves there (the
        # graph finds the merged settings in both places either way). Anything the client
        # put in `configurable` stays, and is refused with its context by check_run.
        config = dict(fields.get("config") or {})
        configurable = dict(config.get("configurable") or {})
        if "cron_id" in configurable:
            fields["context"] = {**fields["context"], "cron_id": configurable.pop("cron_id")}
            config["configurable"] = configurable
            if not configurable:
                del config["configurable"]
            fields["config"] = config
    fields["assistant_id"] = cron["assistant_id"]
    fields["metadata"] = {**cron["metadata"], **(payload.get("metadata") or {})}
    if cron["thread_id"] is None:
        fields["on_completion"] = cron["on_run_completed"] or "delete"
    return RunCreate.model_validate(fields)


async def _check_runs(ctx: AppContext, caller: Caller, cron: dict[str, Any]) -> None:
    """Refuse now whatever would make every tick's run fail (a bad webhook, config
    plus context, a graph that is not loaded), with the checks every run goes through."""
    await check_run(ctx, caller, tick_run(cron), stateless=cron["thread_id"] is None)


async def create(
    ctx: AppContext, caller: Caller, body: CronCreate, thread_id: str | None = None
) -> dict[str, Any]:
    """Create a cron. Its runs will run as `caller` (stored with it as `run_as`)."""
    schedule = check_schedule(body.schedule)
    zone = check_timezone(body.timezone)
    assistant_id = await _assistant_id(ctx, caller, body.assistant_id)
    thread_scope = ANONYMOUS
    if thread_id is not None:
        thread_scope = await caller.scope("threads", "read", {"thread_id": thread_id})
        if await ctx.storage.thread_get(thread_scope, thread_id) is None:
            raise NotFound(THREAD_NOT_FOUND.format(thread_id=thread_id))
    cron_id = str(uuid7())
    payload = {**_payload_part(body, cron_id), "assistant_id": assistant_id}
    value: dict[str, Any] = {
        "cron_id": cron_id,
        "thread_id": thread_id,
        "assistant_id": assistant_id,
        "payload": payload,
        "schedule": schedule,
        "user_id": caller.identity,
        "end_time": _utc(body.end_time),
        "metadata": clean_metadata(body.metadata),
    }
    await caller.scope("crons", "create", value)  # may stamp the cron's metadata
    fields: dict[str, Any] = {
        "cron_id": cron_id,
        "assistant_id": assistant_id,
        "thread_id": thread_id,
        "payload": payload,
        "metadata": (handled_metadata(value) or {}),
        "on_run_completed": (body.on_run_completed or "delete") if thread_id is None else None,
    }
    await _check_runs(ctx, caller, fields)
    cron = await ctx.storage.cron_create(
        thread_scope,
        **fields,
        schedule=schedule,
        timezone=body.timezone,
        end_time=_utc(body.end_time),
        enabled=body.enabled,
        next_run_date=next_run(schedule, zone, utcnow()),
        run_as=None if caller.user is None else dict(caller.user),
    )
    if cron is None:  # deleted meanwhile
        raise NotFound(f"Assistant '{body.assistant_id}' not found")
    return cron


async def get(ctx: AppContext, caller: Caller, cron_id: str) -> dict[str, Any]:
    scope = await caller.scope("crons", "read", {"cron_id": cron_id})
    cron = await ctx.storage.cron_get(scope, cron_id)
    if cron is None:
        raise cron_not_found(cron_id)
    return cron


async def update(
    ctx: AppContext, caller: Caller, cron_id: str, body: CronPatch, *, empty: bool = False
) -> dict[str, Any]:
    """Change a cron. `empty`: the request had no body at all, or `{}` (a 400)."""
    if empty:
        raise BadRequest(EMPTY_PATCH)
    value: dict[str, Any] = {
        "cron_id": cron_id,
        "payload": _payload_part(body, cron_id),
        "schedule": body.schedule,
        "metadata": clean_metadata(body.metadata),
    }
    scope = await caller.scope("crons", "update", value)
    current = await ctx.storage.cron_get(scope, cron_id)
    if current is None:
        raise cron_not_found(cron_id)
    sent = body.model_fields_set
    if not sent:
        return current  # only fields this server does not know
    payload = _payload_part(body, current["cron_id"])
    # The runs to come are checked as at creation, with the payload they will have.
    await _check_runs(ctx, caller, {**current, "payload": {**current["payload"], **payload}})
    schedule = check_schedule(body.schedule) if body.schedule is not None else None
    timezone = body.timezone if "timezone" in sent else current["timezone"]
    zone = check_timezone(timezone)
    changes: dict[str, Any] = {}
    # A new schedule or zone, or a cron enabled again, runs from now on: no catch-up
    # for the ticks it would have had while it was paused.
    if (
        schedule is not None
        or "timezone" in sent
        or (body.enabled is True and not current["enabled"])
    ):
        changes["next_run_date"] = next_run(schedule or current["schedule"], zone, utcnow())
    if "timezone" in sent:
        changes["timezone"] = timezone
    if "end_time" in sent:
        changes["end_time"] = _utc(body.end_time)
    if (metadata := handled_metadata(value)) or body.metadata is not None:
        changes["metadata"] = metadata
    if current["thread_id"] is None and body.on_run_completed is not None:
        changes["on_run_completed"] = body.on_run_completed
    updated = await ctx.storage.cron_update(
        scope,
        cron_id,
        payload=payload,
        schedule=schedule,
        enabled=body.enabled,
        **changes,
    )
    if updated is None:
        raise cron_not_found(cron_id)
    return updated


async def delete(ctx: AppContext, caller: Caller, cron_id: str) -> None:
    scope = await caller.scope("crons", "delete", {"cron_id": cron_id})
    if not await ctx.storage.cron_delete(scope, cron_id):
        raise cron_not_found(cron_id)


def _filters(body: CronCount) -> dict[str, Any]:
    return {
        "assistant_id": (
            None if body.assistant_id is None else parse_uuid(body.assistant_id, "assistant ID")
        ),
        "thread_id": None if body.thread_id is None else parse_uuid(body.thread_id, "thread ID"),
        "enabled": body.enabled,
        "metadata": body.metadata,
    }


def _copies(filters: dict[str, Any]) -> dict[str, Any]:
    """The search filters as a handler gets them: what it writes changes nothing."""
    return {**filters, "metadata": dict(filters["metadata"] or {})}


async def search(ctx: AppContext, caller: Caller, body: CronSearch) -> Page:
    filters = _filters(body)
    value = {**_copies(filters), "limit": body.limit, "offset": body.offset}
    scope = await caller.scope("crons", "search", value)
    return await ctx.storage.cron_search(
        scope,
        **filters,
        sort_by=body.sort_by,
        sort_order=body.sort_order,
        limit=body.limit,
        offset=body.offset,
    )


async def count(ctx: AppContext, caller: Caller, body: CronCount) -> int:
    filters = _filters(body)
    scope = await caller.scope("crons", "search", _copies(filters))
    return await ctx.storage.cron_count(scope, **filters)

"""Creating a run: validate the body, merge configuration, store it, hand it to the engine.

Everything that can be refused is refused here, before any row is written, so a 4xx
never leaves a half-created run or thread behind (§1.3, §3.12 of the contract).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from langchain_core.utils.uuid import uuid7

from robyn_server.auth.caller import Caller
from robyn_server.engine.graph_input import build_input
from robyn_server.engine.secrets import split_secrets
from robyn_server.errors import BadRequest, Conflict, NotFound, ValidationFailed
from robyn_server.graphs.registry import system_assistant_id
from robyn_server.schemas.runs import RunCreate
from robyn_server.services.assistants import BOTH_CONFIGURABLE_AND_CONTEXT, runnable
from robyn_server.services.config_keys import (
    RESERVED_CONFIGURABLE_KEYS,
    clean_config,
    clean_metadata,
    handled_metadata,
    run_user_id,
    strip_keys,
)
from robyn_server.services.context import AppContext
from robyn_server.storage.types import CronTick, ThreadBusy, canonical_uuid, utcnow

NOT_FOUND = "Thread or assistant not found."
BUSY = (
    "Thread is already running a task. Wait for it to finish or choose a different multitask "
    "strategy."
)
RESUME_WITHOUT_THREAD = "You must provide a thread_id when resuming."


@dataclass(slots=True)
class CreatedRun:
    run: dict[str, Any]
    channel: Any
    thread_id: str
    temporary: bool


def resolve_assistant_id(ctx: AppContext, value: str) -> str:
    if value in ctx.registry:
        return system_assistant_id(value)
    canonical = canonical_uuid(value)
    if canonical is None:
        graphs = ", ".join(ctx.registry.ids())
        raise ValidationFailed(
            f"Invalid assistant: '{value}'. Must be either:\n- A valid assistant UUID, or\n"
            f"- One of the registered graphs: {graphs}"
        )
    return canonical


def _merged_config(
    assistant: dict[str, Any], body: RunCreate
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The run's config (the assistant's, overridden by the request's) without its
    `configurable`, and the run's settings.

    `config.configurable` and `context` are one set of settings to the reference server
    (the older and the newer way to send them; a request may use only one): the graph
    finds the merged settings both in `config["configurable"]` and as its runtime context.
    """
    assistant_config = clean_config(assistant.get("config"))
    request_config = clean_config(body.config)
    settings = {
        **strip_keys(assistant.get("context"), RESERVED_CONFIGURABLE_KEYS),
        **(assistant_config.get("configurable") or {}),
        **(request_config.get("configurable") or {}),
        **strip_keys(body.context, RESERVED_CONFIGURABLE_KEYS),
    }
    config = {**assistant_config, **request_config}
    config.pop("configurable", None)
    return config, settings


def _run_metadata(
    assistant: dict[str, Any],
    thread_metadata: dict[str, Any] | None,
    request_metadata: dict[str, Any],
    assistant_id: str,
) -> dict[str, Any]:
    """Run metadata as the reference builds it: assistant < thread (with the graph and
    assistant this run sets on it) < the request's; `assistant_id` always the run's own.

    A run that creates its thread (`if_not_exists`, stateless) has no thread part, so its
    metadata has no `graph_id` unless the assistant or the client gave one, as there.
    """
    return {
        **(assistant.get("metadata") or {}),
        **(thread_metadata or {}),
        **request_metadata,
        "assistant_id": assistant_id,
    }


def _checkpoint_keys(body: RunCreate) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    if body.checkpoint is not None:
        ref = body.checkpoint.model_dump(exclude_none=True)
        ref.pop("thread_id", None)
        keys.update(ref)
    if body.checkpoint_id is not None:
        keys["checkpoint_id"] = body.checkpoint_id
    if "checkpoint_id" in keys and canonical_uuid(keys["checkpoint_id"]) is None:
        raise ValidationFailed("Invalid checkpoint ID: must be a UUID")
    return keys


def _durability(body: RunCreate) -> str:
    if body.durability is not None:
        return body.durability
    if body.checkpoint_during is False:
        return "exit"
    return "async"


@dataclass(slots=True)
class CheckedRun:
    command: dict[str, Any] | None
    assistant_id: str
    assistant: dict[str, Any]
    checkpoint_keys: dict[str, Any]


async def check_run(
    ctx: AppContext, caller: Caller, body: RunCreate, *, stateless: bool
) -> CheckedRun:
    """Everything in a run body that can be refused, checked without writing anything
    (a batch checks all its bodies before creating any run)."""
    command = body.command.model_dump(exclude_none=True) if body.command else None
    if stateless and command and "resume" in command:
        raise BadRequest(RESUME_WITHOUT_THREAD)
    if command:
        try:
            build_input(body.input, command)  # a malformed goto/update is the client's error
        except ValueError as exc:
            raise BadRequest(f"Invalid command: {exc}") from None
    assistant_id = resolve_assistant_id(ctx, body.assistant_id)
    checkpoint_keys = _checkpoint_keys(body)
    request_configurable = (body.config or {}).get("configurable") or {}
    if request_configurable and body.context:
        raise BadRequest(BOTH_CONFIGURABLE_AND_CONTEXT)
    if body.webhook is not None and ctx.engine is not None:
        await ctx.engine.validate_webhook(body.webhook)

    assistant = await runnable(ctx, caller, assistant_id)
    if assistant is None:
        raise NotFound(NOT_FOUND)
    graph_id = assistant["graph_id"]
    if graph_id not in ctx.registry:
        raise NotFound(f"Graph '{graph_id}' of assistant {assistant_id} is not loaded")
    return CheckedRun(command, assistant_id, assistant, checkpoint_keys)


async def create_run(
    ctx: AppContext,
    caller: Caller,
    thread_id: str | None,
    body: RunCreate,
    *,
    request_id: str | None = None,
    cron_tick: CronTick | None = None,
) -> CreatedRun:
    """Validate, store and enqueue a run. `thread_id=None` makes a stateless run on a
    temporary thread. With `cron_tick`, the run is that cron tick's: the tick is claimed
    with the run, or `CronTickTaken` is raised and nothing is created."""
    stateless = thread_id is None
    checked = await check_run(ctx, caller, body, stateless=stateless)
    command, assistant = checked.command, checked.assistant
    assistant_id, checkpoint_keys = checked.assistant_id, checked.checkpoint_keys
    graph_id = assistant["graph_id"]

    run_id = str(uuid7())
    config, settings = _merged_config(assistant, body)
    config["configurable"] = settings
    # Keys and tokens leave the config here: everything stored below (run kwargs, thread
    # config, metadata, checkpoints) is built from the cleaned copies.
    config, context, secret_values = split_secrets(config, dict(settings))
    user_configurable = dict(config["configurable"])
    request_metadata = {
        **clean_metadata(config.get("metadata")),
        **clean_metadata(body.metadata),
    }
    # The handler may stamp the metadata (which a thread this run creates gets too),
    # and its filter decides which existing thread the run may go to.
    value: dict[str, Any] = {
        "thread_id": thread_id,
        "assistant_id": assistant_id,
        "run_id": run_id,
        "status": "pending",
        "metadata": request_metadata,
        "prevent_insert_if_inflight": body.multitask_strategy == "reject",
        "multitask_strategy": body.multitask_strategy,
        "if_not_exists": "create" if stateless else body.if_not_exists,
        "after_seconds": body.after_seconds or 0,
        "kwargs": {"input": body.input, "command": command, "config": config, "context": context},
    }
    scope = await caller.scope("threads", "create_run", value)
    request_metadata = handled_metadata(value) or {}

    existing_thread: dict[str, Any] | None = None
    if thread_id is None:
        thread_id = str(uuid7())
    else:
        existing_thread = await ctx.storage.thread_get(scope, thread_id)
        if existing_thread is None and body.if_not_exists != "create":
            raise NotFound(NOT_FOUND)

    # What this run sets on its thread's metadata; a thread it creates also gets the
    # request's metadata, as on the reference.
    run_marks = {"graph_id": graph_id, "assistant_id": assistant_id}
    create_thread: dict[str, Any] | None = None
    thread_part: dict[str, Any] | None = None
    if existing_thread is not None:
        thread_part = {**existing_thread["metadata"], **run_marks}
    else:
        create_thread = {**request_metadata, **run_marks}
        if cron_tick is not None:
            create_thread["cron_id"] = cron_tick.cron_id
    metadata = _run_metadata(assistant, thread_part, request_metadata, assistant_id)
    after = body.after_seconds or 0
    config["configurable"] = {
        **config["configurable"],
        **checkpoint_keys,
        **caller.run_keys(),
        "langgraph_request_id": request_id or str(uuid.uuid4()),
        "__request_start_time_ms__": int(time.time() * 1000),
        "__after_seconds__": after,
        "run_id": run_id,
        "thread_id": thread_id,
        "graph_id": graph_id,
        "assistant_id": assistant_id,
        "user_id": run_user_id(caller, settings),
    }
    config["metadata"] = dict(metadata)
    temporary = stateless and body.on_completion == "delete"
    kwargs = {
        "input": body.input,
        "command": command,
        "config": config,
        "context": context,
        "stream_mode": body.modes(),
        "interrupt_before": body.interrupt_before,
        "interrupt_after": body.interrupt_after,
        "webhook": body.webhook,
        "feedback_keys": body.feedback_keys,
        "temporary": temporary,
        "subgraphs": body.stream_subgraphs,
        "resumable": body.stream_resumable,
        "checkpoint_during": _durability(body) != "exit",
        "durability": _durability(body),
    }
    created_at = utcnow() + timedelta(seconds=after) if after else None
    strategy = body.multitask_strategy
    try:
        result = await ctx.storage.run_create(
            scope,
            run_id=run_id,
            thread_id=thread_id,
            assistant_id=assistant_id,
            metadata=metadata,
            kwargs=kwargs,
            multitask_strategy=strategy,
            created_at=created_at,
            create_thread=create_thread,
            thread_metadata=run_marks,
            thread_config={"configurable": user_configurable},
            reject_if_inflight=strategy == "reject",
            cron_tick=cron_tick,
            # Secrets live only in this process: while it lives, it starts the run.
            holder=ctx.run_engine().worker_id if secret_values else None,
        )
    except ThreadBusy:
        raise Conflict(BUSY) from None
    except ctx.storage.transient_errors:
        # The commit may have happened with only its answer lost: have the thread's
        # worker look for pending runs once the database is back, so such a run is not
        # left waiting for the next run on its thread. The client gets its 503.
        ctx.run_engine().kick(thread_id)
        raise
    if result is None:
        raise NotFound(NOT_FOUND)
    run, others = result
    engine = ctx.run_engine()
    channel = engine.submit(run, secret_values)
    if others and strategy in ("interrupt", "rollback"):
        await engine.cancel(others, thread_id=thread_id, action=strategy)
    return CreatedRun(run=run, channel=channel, thread_id=thread_id, temporary=temporary)

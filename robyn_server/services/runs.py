"""Reading, cancelling, deleting and joining runs."""

from __future__ import annotations

from typing import Any

from robyn_server.auth.caller import Caller
from robyn_server.engine.secrets import redact_run_user
from robyn_server.engine.snapshots import wait_answer
from robyn_server.errors import NotFound, ValidationFailed
from robyn_server.services.context import AppContext
from robyn_server.storage.types import INFLIGHT_STATUSES, Scope

NO_RUNS_TO_CANCEL = (
    "No matching runs to cancel. Please verify the thread ID and run IDs are correct, and the "
    "runs haven't been deleted or completed."
)
RUN_NOT_FOUND = "Run not found"


def present(run: dict[str, Any]) -> dict[str, Any]:
    """A run as the API shows it (`attempt` is the engine's own bookkeeping, and the
    auth user's secrets stay with the graph)."""
    run = redact_run_user(dict(run))
    run.pop("attempt", None)
    return run


async def require_thread(ctx: AppContext, scope: Scope, thread_id: str) -> dict[str, Any]:
    thread = await ctx.storage.thread_get(scope, thread_id)
    if thread is None:
        raise NotFound(f"Thread with ID {thread_id} not found")
    return thread


async def list_runs(
    ctx: AppContext, caller: Caller, thread_id: str, *, limit: int, offset: int, status: str | None
) -> list[dict[str, Any]]:
    value = {"thread_id": thread_id, "status": status, "limit": limit, "offset": offset}
    scope = await caller.scope("threads", "search", value)
    await require_thread(ctx, scope, thread_id)
    runs = await ctx.storage.run_search(scope, thread_id, status=status, limit=limit, offset=offset)
    return [present(run) for run in runs]


async def get_run(ctx: AppContext, caller: Caller, thread_id: str, run_id: str) -> dict[str, Any]:
    scope = await caller.scope("threads", "read", {"thread_id": thread_id, "run_id": run_id})
    run = await ctx.storage.run_get(scope, run_id, thread_id=thread_id)
    if run is None:
        raise NotFound("Not Found")
    return present(run)


async def delete_run(ctx: AppContext, caller: Caller, thread_id: str, run_id: str) -> None:
    scope = await caller.scope("threads", "delete", {"thread_id": thread_id, "run_id": run_id})
    run = await ctx.storage.run_get(scope, run_id, thread_id=thread_id)
    if run is None:
        raise NotFound(RUN_NOT_FOUND)
    if run["status"] in INFLIGHT_STATUSES:
        engine = ctx.run_engine()
        await engine.cancel([run_id], thread_id=thread_id, action="rollback")
        await engine.wait_stopped(run_id, seconds=10)
    await ctx.storage.run_delete(scope, run_id, thread_id=thread_id)


async def cancel_run(
    ctx: AppContext, caller: Caller, thread_id: str, run_id: str, action: str
) -> dict[str, Any]:
    value = {"thread_id": thread_id, "run_id": run_id, "action": action}
    scope = await caller.scope("threads", "update", value)
    run = await ctx.storage.run_get(scope, run_id, thread_id=thread_id)
    if run is None or run["status"] not in INFLIGHT_STATUSES:
        raise NotFound(NO_RUNS_TO_CANCEL)
    await ctx.run_engine().cancel([run_id], thread_id=thread_id, action=action)
    return run


async def cancel_many(
    ctx: AppContext,
    caller: Caller,
    *,
    status: str | None,
    thread_id: str | None,
    run_ids: list[str] | None,
    action: str,
) -> None:
    if status is not None and (thread_id is not None or run_ids):
        raise ValidationFailed("Provide either status, or thread_id and run_ids, not both")
    if status is None and (thread_id is None or not run_ids):
        raise ValidationFailed("Provide either status, or thread_id and run_ids")
    value = {"thread_id": thread_id, "run_ids": run_ids, "status": status, "action": action}
    scope = await caller.scope("threads", "update", value)
    if status is not None:
        statuses = INFLIGHT_STATUSES if status == "all" else (status,)
        runs = await ctx.storage.run_inflight(scope, statuses=statuses)
    else:
        runs = await ctx.storage.run_inflight(scope, thread_id=thread_id, run_ids=run_ids)
    if not runs:
        raise NotFound("No runs found to cancel.")
    for run in runs:
        await ctx.run_engine().cancel([run["run_id"]], thread_id=run["thread_id"], action=action)


async def finished_result(ctx: AppContext, scope: Scope, run: dict[str, Any]) -> Any:
    """The /join answer for a run whose events are no longer held: the thread's state."""
    thread = await ctx.storage.thread_get(scope, run["thread_id"])
    if thread is None:
        return {}
    error = thread.get("error") if run["status"] in ("error", "timeout") else None
    # The shape a live /wait gives (`response_schema` included), not the thread row's.
    interrupts = [
        {"value": i.get("value"), "id": i.get("id"), "response_schema": i.get("response_schema")}
        for group in (thread.get("interrupts") or {}).values()
        for i in group
    ]
    return wait_answer(thread.get("values"), interrupts, error)

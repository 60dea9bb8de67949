"""A2A's JSON-RPC methods on the run engine.

`message/send` and `message/stream` create a run through `create_run`, like `/runs`
(same auth checks, secret handling, stream cap and `on_disconnect`): a client that
waits or streams and leaves cancels its run (`blocking: false` runs on in the
background, for `tasks/get`). Answers are built in v0.3's shapes and written out by
the request's codec (v0.3 or v1.0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_core.utils.uuid import uuid7

from robyn_server.auth.caller import Caller
from robyn_server.engine.broker import RunChannel
from robyn_server.errors import ApiError, NotFound, ServiceUnavailable
from robyn_server.schemas.runs import RunCreate
from robyn_server.services import assistants, jsonrpc, run_streams
from robyn_server.services.a2a import tasks
from robyn_server.services.a2a.call import Call, Reply
from robyn_server.services.a2a.card import agent_card
from robyn_server.services.a2a.messages import asks_resume, check_message, resume_value, run_input
from robyn_server.services.a2a.stream import TaskStream
from robyn_server.services.a2a.tasks import Outcome, build_task, parse_task_id
from robyn_server.services.context import AppContext
from robyn_server.services.jsonrpc import INTERNAL_ERROR, INVALID_PARAMS, RpcError
from robyn_server.services.run_create import create_run
from robyn_server.services.runs import cancel_run
from robyn_server.storage.types import INFLIGHT_STATUSES, Scope, canonical_uuid

# message/stream shows the agent's message as it grows (legacy `messages` mode).
STREAM_MODES = ["messages"]


def enabled(ctx: AppContext) -> None:
    """404 when langgraph.json turns A2A off (`http.disable_a2a`)."""
    if ctx.registry.http_config().get("disable_a2a"):
        raise NotFound("Not Found")


async def load_assistant(ctx: AppContext, caller: Caller, value: str) -> dict[str, Any]:
    """The assistant an A2A path names: its UUID, or a graph ID for its system assistant,
    one the caller may run (`assistants.runnable`)."""
    enabled(ctx)
    assistant = await assistants.runnable(ctx, caller, assistants.resolve_id(ctx, value))
    if assistant is None:
        raise NotFound(f"Assistant '{value}' not found")
    return assistant


async def input_schema(ctx: AppContext, graph_id: str) -> dict[str, Any] | None:
    if graph_id not in ctx.registry:
        return None
    return (await ctx.registry.schemas(graph_id)).get("input_schema")


async def card(ctx: AppContext, assistant: dict[str, Any], base_url: str) -> dict[str, Any]:
    return agent_card(assistant, await input_schema(ctx, assistant["graph_id"]), base_url)


# -- message/send and message/stream ---------------------------------------------------------


@dataclass(slots=True)
class Plan:
    thread_id: str
    input: Any = None
    command: dict[str, Any] | None = None


async def _find_run(call: Call, task_id: Any) -> tuple[dict[str, Any], Scope]:
    """The task's run, and the scope it was read in (for the reads that follow)."""
    run_id = parse_task_id(task_id)
    scope = await call.reads(run_id=run_id)
    run = await call.ctx.storage.run_get(scope, run_id) if run_id else None
    if run is None or run["assistant_id"] != call.assistant_id:
        raise RpcError(tasks.TASK_NOT_FOUND, f"Task not found: {task_id}")
    return run, scope


async def _plan(call: Call, message: dict[str, Any]) -> Plan:
    """Which thread the message goes to, and whether it starts a turn or resumes an
    interrupt (a message naming an input-required task, or a `resume` data part)."""
    parts = message["parts"]
    task_id, context_id = message.get("taskId"), message.get("contextId")
    resume = False
    if task_id:
        run, scope = await _find_run(call, task_id)
        thread_id = run["thread_id"]
        if context_id and canonical_uuid(context_id) != thread_id:
            raise RpcError(INVALID_PARAMS, f"Task {task_id} is not in context {context_id}")
        outcome = await tasks.stored_outcome(call.ctx, scope, run)
        if outcome.state in tasks.TERMINAL:
            raise RpcError(
                INVALID_PARAMS,
                f"Task {task_id} is in a terminal state ({outcome.state}); send the message "
                "without taskId to start a new task",
            )
        resume = outcome.state == "input-required"
    elif context_id:
        canonical = canonical_uuid(context_id)
        if canonical is None:
            raise RpcError(INVALID_PARAMS, "contextId must be a UUID (it is a thread ID)")
        thread_id = canonical
        if asks_resume(parts):
            scope = await call.reads(thread_id=thread_id)
            thread = await call.ctx.storage.thread_get(scope, thread_id)
            resume = thread is not None and thread.get("status") == "interrupted"
    else:
        thread_id = str(uuid7())
    if resume:
        return Plan(thread_id, command={"resume": resume_value(parts)})
    fields = None
    if any(part["kind"] != "data" for part in parts):  # only text and files need `messages`
        schema = await input_schema(call.ctx, call.assistant["graph_id"])
        fields = sorted((schema.get("properties") or {}).keys()) if schema else None
    return Plan(thread_id, input=run_input(parts, fields))


def _run_body(call: Call, plan: Plan, *, stream: bool, watch: bool) -> RunCreate:
    return RunCreate.model_validate(
        {
            "assistant_id": call.assistant_id,
            "input": plan.input,
            "command": plan.command,
            "if_not_exists": "create",
            "stream_mode": STREAM_MODES if stream else "values",
            # A client that waits or streams and leaves gives the task up.
            "on_disconnect": "cancel" if watch else "continue",
        }
    )


async def send(call: Call, *, stream: bool) -> Reply:
    params = call.rpc.params_object()
    message = check_message(call.codec.message_in(params.get("message")))
    history_length, blocking = call.codec.send_options(params)
    plan = await _plan(call, message)
    watch = stream or blocking
    body = _run_body(call, plan, stream=stream, watch=watch)
    ctx = call.ctx
    try:
        if not watch:
            created = await create_run(
                ctx, call.caller, plan.thread_id, body, request_id=call.request_id
            )
            run_id = created.run["run_id"]
            task = build_task(run_id, plan.thread_id, call.assistant_id, Outcome("submitted"))
            return Reply(call.answer(call.codec.send_result(task)))
        created, slot = await run_streams.create_streamed(
            ctx, call.caller, plan.thread_id, body, call.request_id
        )
    except ServiceUnavailable:
        raise
    except ApiError as exc:
        raise RpcError(INVALID_PARAMS, exc.detail) from None
    run_id = created.run["run_id"]
    if stream:
        view = TaskStream.submitted(call, run_id, plan.thread_id, message, history_length)
        return Reply(run_streams.run_events(ctx, created, slot, with_ids=False, view=view), True)

    async def render(channel: RunChannel) -> bytes:
        try:
            scope = await call.reads(thread_id=plan.thread_id, run_id=run_id)
            outcome = await tasks.ended(call.ctx, scope, run_id, channel)
            task = build_task(
                run_id, plan.thread_id, call.assistant_id, outcome, history_length=history_length
            )
            return jsonrpc.encode(call.answer(call.codec.send_result(task)))
        except Exception as exc:  # the body has started: it must still end as JSON-RPC
            error = call.codec.error(RpcError(INTERNAL_ERROR, f"{type(exc).__name__}: {exc}"))
            return jsonrpc.encode(jsonrpc.error(call.rpc.id, error))

    return Reply(run_streams.run_answer(ctx, created, slot, render))


# -- tasks ------------------------------------------------------------------------------------


async def get_task(call: Call) -> Reply:
    params = call.rpc.params_object()
    if params.get("id") is None:
        raise RpcError(INVALID_PARAMS, "Missing required parameter: id (task_id)")
    history_length = call.codec.history_length(params)
    run, scope = await _find_run(call, params["id"])
    outcome = await tasks.stored_outcome(call.ctx, scope, run)
    task = build_task(
        run["run_id"], run["thread_id"], call.assistant_id, outcome, history_length=history_length
    )
    return Reply(call.answer(call.codec.task(task)))


async def cancel_task(call: Call) -> Reply:
    params = call.rpc.params_object()
    if params.get("id") is None:
        raise RpcError(INVALID_PARAMS, "Missing required parameter: id (task_id)")
    run, scope = await _find_run(call, params["id"])
    run_id, thread_id = run["run_id"], run["thread_id"]
    not_cancelable = RpcError(
        tasks.TASK_NOT_CANCELABLE,
        f"Task cannot be canceled: it is {tasks.STATES.get(run['status'], run['status'])}",
    )
    if run["status"] not in INFLIGHT_STATUSES:
        raise not_cancelable
    try:
        await cancel_run(call.ctx, call.caller, thread_id, run_id, "interrupt")
    except ApiError as exc:
        if exc.status_code in (401, 403):
            raise  # the caller may read the task but not cancel it
        raise not_cancelable from None  # it ended meanwhile
    await call.ctx.run_engine().wait_stopped(run_id, seconds=10)
    run = await call.ctx.storage.run_get(scope, run_id) or run
    outcome = await tasks.stored_outcome(call.ctx, scope, run)
    if run["status"] in INFLIGHT_STATUSES:
        outcome.state = "canceled"  # requested; the engine settles it shortly
    task = build_task(run_id, thread_id, call.assistant_id, outcome)
    return Reply(call.answer(call.codec.task(task)))


async def resubscribe(call: Call) -> Reply:
    """tasks/resubscribe (v1.0 SubscribeToTask): the task as it stands, then its
    events from now on, as message/stream sends them. A client that leaves does not
    cancel it. An ended task has nothing more to stream."""
    params = call.rpc.params_object()
    if params.get("id") is None:
        raise RpcError(INVALID_PARAMS, "Missing required parameter: id (task_id)")
    run, scope = await _find_run(call, params["id"])
    outcome = await tasks.stored_outcome(call.ctx, scope, run)
    if outcome.state in tasks.TERMINAL or outcome.state == "input-required":
        raise RpcError(
            tasks.UNSUPPORTED_OPERATION,
            f"Task {params['id']} has ended ({outcome.state}); read it with tasks/get",
        )
    task = build_task(run["run_id"], run["thread_id"], call.assistant_id, outcome)
    events = await run_streams.join_events(
        call.ctx,
        call.caller,
        run["thread_id"],
        run["run_id"],
        accept=None,
        cancel=False,
        last_event_id=None,
        view=TaskStream(call, task),
    )
    return Reply(events, sse=True)


# -- dispatch ---------------------------------------------------------------------------------


async def unsupported(call: Call, kind: str) -> Reply:
    if kind == "push":
        raise RpcError(tasks.PUSH_NOT_SUPPORTED, "Push notifications are not supported")
    raise RpcError(
        tasks.EXTENDED_CARD_NOT_CONFIGURED, "This agent has no authenticated extended card"
    )


async def dispatch(call: Call, kind: str, base_url: str) -> Reply:
    """Run the method `kind` (see `codecs.V03_METHODS`); errors are `RpcError`."""
    if kind == "send":
        return await send(call, stream=False)
    if kind == "stream":
        return await send(call, stream=True)
    if kind == "get":
        return await get_task(call)
    if kind == "cancel":
        return await cancel_task(call)
    if kind == "list":
        return await list_tasks(call)
    if kind == "resubscribe":
        return await resubscribe(call)
    if kind == "extended_card" and call.codec.version == "1.0":
        # v1.0 clients ask for it; it is the public card (there is no other).
        return Reply(call.answer(await card(call.ctx, call.assistant, base_url)))
    return await unsupported(call, kind)


async def list_tasks(call: Call) -> Reply:
    """v1.0 ListTasks, within one context (`contextId`), newest first; `pageToken` is
    the offset of the page."""
    params = call.rpc.params_object()
    thread_id = canonical_uuid(params.get("contextId"))
    if thread_id is None:
        raise RpcError(INVALID_PARAMS, "ListTasks needs a contextId (a thread ID)")
    size = params.get("pageSize") or 50
    token = params.get("pageToken") or "0"
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 100:
        raise RpcError(INVALID_PARAMS, "pageSize must be an integer from 1 to 100")
    if not isinstance(token, str) or not token.isdigit() or len(token) > 9:
        raise RpcError(INVALID_PARAMS, "pageToken must be one this server returned")
    offset = int(token)
    history_length = call.codec.history_length(params)
    scope = await call.reads(thread_id=thread_id)
    runs = await call.ctx.storage.run_search(scope, thread_id, limit=size + 1, offset=offset)
    found = []
    for run in runs[:size]:
        if run["assistant_id"] != call.assistant_id:
            continue
        outcome = await tasks.stored_outcome(call.ctx, scope, run)
        task = build_task(
            run["run_id"], thread_id, call.assistant_id, outcome, history_length=history_length
        )
        found.append(call.codec.task(task))
    next_token = str(offset + size) if len(runs) > size else ""
    body = {"tasks": found, "nextPageToken": next_token, "pageSize": size}
    return Reply(call.answer({**body, "totalSize": offset + len(found)}))

"""Executing one claimed run, and settling how it ended.

The order at the end matters to clients: the run's final status and the thread row are
written *before* the event channel closes, because the SDK reads the run status when a
stream ends and reconnects if it still says running.

Recording the outcome survives a database outage: those writes are retried until the
database is back (`RunEngine.retry_storage`), so the run ends, its thread is freed and
its waiters get their answer then, instead of never.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.errors import EmptyInputError, GraphRecursionError, InvalidUpdateError

from robyn_server.auth.users import user_of
from robyn_server.engine import webhooks
from robyn_server.engine.broker import Broker
from robyn_server.engine.checkpoints import delete_run_checkpoints
from robyn_server.engine.fenced_saver import FencedSaver
from robyn_server.engine.graph_context import graph_context
from robyn_server.engine.graph_input import build_input
from robyn_server.engine.retry import StorageGaveUp
from robyn_server.engine.secrets import inject_secrets
from robyn_server.engine.snapshots import thread_fields, wait_answer
from robyn_server.engine.stream_modes import RunStream
from robyn_server.engine.webhook_policy import WebhookPolicy
from robyn_server.graphs.registry import GraphRegistry
from robyn_server.storage.base import Storage
from robyn_server.storage.persistence import Persistence
from robyn_server.storage.types import ANONYMOUS, LeaseLost, RunFence, utcnow

T = TypeVar("T")


class EngineHandle(Protocol):
    """What executing and settling a run needs from the engine that claimed it.

    engine.py implements it and imports this module; naming the interface here keeps
    the dependency one way."""

    registry: GraphRegistry
    persistence: Persistence
    broker: Broker
    timeout: float
    webhook_policy: WebhookPolicy

    @property
    def storage(self) -> Storage: ...

    @property
    def shared(self) -> bool: ...

    async def check_lease(self, fence: RunFence | None) -> None: ...

    async def retry_storage(self, what: str, call: Callable[[], Awaitable[T]]) -> T: ...

    def spawn(self, coro: Any) -> None: ...


@dataclass
class Execution:
    run: dict[str, Any]
    # Fences the run's final writes (None: unfenced, for tests driving the executor).
    fence: RunFence | None = None
    # Set by `settle`: other runs of the thread were queued when this one ended.
    left_queued: bool = False
    task: asyncio.Task | None = None
    cancel_action: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    # Set once the graph has finished and its outcome is being recorded, which can take
    # as long as a database outage: a cancel then changes nothing, and must not abort
    # the recording, or the run would stay `running` and its thread `busy`.
    settling: bool = False

    def stop(self, action: str) -> None:
        """Cancel the executing task; the executor reads `action` to settle the run."""
        if self.settling:
            return
        self.cancel_action = action
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()


logger = logging.getLogger("robyn_server.engine")
LANGGRAPH_VERSION = importlib.metadata.version("langgraph")

# Exceptions whose message is shown to clients as is; anything else might carry internals,
# so clients get a generic message (and the log gets the traceback), as the reference does.
PUBLIC_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    RuntimeError,
    TimeoutError,
    GraphRecursionError,
    InvalidUpdateError,
    EmptyInputError,
    NotImplementedError,
    PermissionError,
)


def error_payload(exc: BaseException) -> dict[str, str]:
    if isinstance(exc, PUBLIC_ERRORS):
        message = (
            str(exc) if not isinstance(exc, KeyError) else repr(exc.args[0]) if exc.args else ""
        )
    else:
        message = "An internal error occurred"
    return {"error": type(exc).__name__, "message": message}


# A run whose graph failed because the database went away ends `error`, and is not run
# again: its graph may have had side effects (tool calls, messages sent, writes elsewhere)
# after its last checkpoint that a re-run would repeat, and the error may even come from
# the graph's own database code. Crash recovery re-runs because nobody saw the run fail;
# here the client is told, and can retry from the thread's last checkpoint.
DATABASE_UNAVAILABLE = {
    "error": "DatabaseUnavailable",
    "message": "The database became unavailable while the run was executing",
}


def run_error(engine: EngineHandle, exc: Exception) -> dict[str, str]:
    if isinstance(exc, engine.storage.transient_errors):
        return dict(DATABASE_UNAVAILABLE)
    return error_payload(exc)


def _graph_config(run: dict[str, Any]) -> dict[str, Any]:
    config = dict(run["kwargs"].get("config") or {})
    config["configurable"] = configurable = dict(config.get("configurable") or {})
    # Stored as JSON; the graph gets the user as handlers do (`user.identity` works too).
    if (user := user_of(configurable.get("langgraph_auth_user"))) is not None:
        configurable["langgraph_auth_user"] = user
    # LangGraph copies configurable values into checkpoint metadata but never thread_id;
    # clients filter history by it, as on the reference server.
    config["metadata"] = {
        **(config.get("metadata") or {}),
        "run_attempt": run.get("attempt", 1),
        "langgraph_version": LANGGRAPH_VERSION,
        "thread_id": run["thread_id"],
    }
    return config


async def execute_run(engine: EngineHandle, execution: Execution, secrets: Any) -> None:
    persistence = engine.persistence
    run = execution.run
    run_id, thread_id = run["run_id"], run["thread_id"]
    kwargs = run["kwargs"]
    broker = engine.broker
    if kwargs.get("resumable"):
        # A re-run (recovered, or handed over at a shutdown) continues the stream its
        # earlier attempt stored, so a replay from the start shows both attempts.
        await broker.attach(run)
    await broker.before_run(run)
    channel = broker.open(run_id, thread_id, bool(kwargs.get("resumable")))
    broker.publish(channel, "metadata", {"run_id": run_id, "attempt": run.get("attempt", 1)})
    started_at = utcnow()

    config = _graph_config(run)
    context = kwargs.get("context") or None
    if secrets is not None:
        config, context = inject_secrets(config, context or {}, secrets)
    graph_id = config["configurable"].get("graph_id")
    stream = RunStream(
        kwargs.get("stream_mode") or ["values"], subgraphs=bool(kwargs.get("subgraphs"))
    )
    status, error = "success", None
    state_config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
    fields: dict[str, Any] | None = None
    # A temporary thread's checkpoints die with the run, so they never leave memory:
    # on Postgres that saves a dozen statements per stateless run.
    checkpointer = InMemorySaver() if kwargs.get("temporary") else persistence.checkpointer
    if engine.shared and not kwargs.get("temporary"):
        # Another process may take the run over if this one stalls past its lease.
        checkpointer = FencedSaver(checkpointer, lambda: engine.check_lease(execution.fence))
    try:
        async with engine.registry.graph(
            graph_id, config, checkpointer=checkpointer, store=persistence.store
        ) as graph:
            context = graph_context(graph, context)
            try:
                async with asyncio.timeout(engine.timeout):
                    async for name, data in stream.run(
                        graph,
                        build_input(kwargs.get("input"), kwargs.get("command")),
                        # The graph's root LangChain run is the server's run, so `events`
                        # and traces correlate with it (as in the reference).
                        {**config, "run_id": run_id},
                        context=context,
                        interrupt_before=kwargs.get("interrupt_before"),
                        interrupt_after=kwargs.get("interrupt_after"),
                        durability=kwargs.get("durability"),
                    ):
                        broker.publish(channel, name, data)
            except asyncio.CancelledError:
                cancelled = _cancelled_status(execution)
                if cancelled is None:
                    raise
                status = cancelled
            except TimeoutError:
                message = f"Run exceeded its time limit of {engine.timeout:g} s"
                status, error = "timeout", {"error": "TimeoutError", "message": message}
            except Exception as exc:
                status, error = "error", run_error(engine, exc)
                logger.info("Run %s failed: %s: %s", run_id, type(exc).__name__, exc)
            # The graph is done: from here on a cancel changes nothing (Execution.stop).
            execution.settling = True
            if status == "rollback":
                await engine.retry_storage(
                    f"rolling back run {run_id}",
                    lambda: delete_run_checkpoints(persistence.checkpointer, thread_id, run_id),
                )
            if not kwargs.get("temporary"):
                state = await engine.retry_storage(
                    f"reading the state of thread {thread_id}",
                    lambda: graph.aget_state(state_config),
                )
                fields = thread_fields(state)
    except asyncio.CancelledError:
        cancelled = _cancelled_status(execution)
        if cancelled is None:
            raise
        status = cancelled
    except (StorageGaveUp, LeaseLost):
        # Stopping with the database away, or another process took the run over: as
        # for a shutdown, below.
        broker.close(channel, None)
        return
    except Exception as exc:
        # The graph could not even be built (a factory raised) or state read failed.
        status, error = "error", run_error(engine, exc)
        logger.exception("Run %s could not execute", run_id)

    if execution.cancel_action in ("shutdown", "lost"):
        # Back to pending for the next process (or already taken over by another: its
        # newer attempt's writes stand); the stream ends without a verdict, so a client
        # reconnects and sees the re-run.
        broker.close(channel, None)
        return
    execution.settling = True  # also when the graph could not even start
    if error is not None:
        broker.publish(channel, "error", error)
    result = _wait_result(stream, error, fields)
    await broker.flush(channel)
    try:
        if kwargs.get("temporary"):
            await _delete_temporary_thread(engine, run, status)
        else:
            await engine.retry_storage(
                f"recording how run {run_id} ended",
                lambda: settle(engine, run, status, error, fields, execution),
            )
    except LeaseLost:
        logger.warning(
            "Run %s was taken over by another process; its outcome here is dropped", run_id
        )
        broker.close(channel, None)
        return
    except StorageGaveUp:
        # The server is stopping and the database is still away: the run stays
        # `running`, so the next start runs it again; the stream ends without a verdict.
        broker.close(channel, None)
        return
    broker.close(channel, result)
    if kwargs.get("webhook") and status != "rollback":
        payload = webhooks.webhook_payload(
            run,
            status=status,
            started_at=started_at,
            ended_at=utcnow(),
            values=stream.last_values,
            error=error,
        )
        engine.spawn(webhooks.deliver(kwargs["webhook"], payload, policy=engine.webhook_policy))


def _cancelled_status(execution: Execution) -> str | None:
    """How a run stopped by our own cancel ends; None for a cancel that is not ours (the
    loop shutting down), which must propagate."""
    if execution.cancel_action is None:
        return None
    task = asyncio.current_task()
    assert task is not None  # called from the run's own task
    task.uncancel()
    return "rollback" if execution.cancel_action == "rollback" else "interrupted"


def _wait_result(stream: RunStream, error: dict | None, fields: dict[str, Any] | None) -> Any:
    values = stream.last_values
    if values is None:
        values = (fields or {}).get("values")
    return wait_answer(values, stream.interrupts, error)


async def settle(
    engine: EngineHandle,
    run: dict[str, Any],
    status: str,
    error: dict[str, Any] | None,
    fields: dict[str, Any] | None,
    execution: Execution | None = None,
) -> None:
    """Write the run's final status, then the thread's: busy while other runs are queued,
    else error / interrupted / idle from the final checkpoint. Safe to repeat after a
    failure part way (the engine retries it through a database outage). The thread is
    written only while this worker still holds the run (the execution's fence, else
    LeaseLost)."""
    storage = engine.storage
    fence = execution.fence if execution is not None else None
    run_id, thread_id = run["run_id"], run["thread_id"]
    # The thread first: a client that sees the run finished must find the thread settled.
    queued = [
        r
        for r in await storage.run_inflight(ANONYMOUS, thread_id=thread_id)
        if r["run_id"] != run_id
    ]
    update: dict[str, Any] = dict(fields) if fields else {}
    if execution is not None:
        execution.left_queued = bool(queued)
    if queued:
        update["status"] = "busy"
    elif error is not None:
        update["status"] = "error"
    update["error"] = error
    await storage.thread_set_state(ANONYMOUS, thread_id, **update, fence=fence)
    if status == "rollback":
        await storage.run_delete(ANONYMOUS, run_id, thread_id=thread_id)
    else:
        await storage.run_set_status(run_id, status, fence=fence)


async def _delete_temporary_thread(engine: EngineHandle, run: dict[str, Any], status: str) -> None:
    """Deleting the thread deletes the run with it, so the run's status needs no write
    of its own, unless the delete fails: then the run must not look unfinished."""
    storage = engine.storage
    thread_id = run["thread_id"]
    try:
        await engine.retry_storage(
            f"deleting temporary thread {thread_id}",
            lambda: storage.thread_delete(ANONYMOUS, thread_id),
        )
    except StorageGaveUp:
        raise
    except Exception:
        logger.exception("Could not delete temporary thread %s", thread_id)
        if status != "rollback":
            await engine.retry_storage(
                f"recording how run {run['run_id']} ended",
                lambda: storage.run_set_status(run["run_id"], status),
            )


async def end_pending_run(engine: EngineHandle, run_id: str, action: str) -> bool:
    """Cancel a run that is not executing here: pending ones end interrupted (or are
    deleted for rollback); a run that finished meanwhile is left alone. Returns False
    when the run is running (in another process) or became so meanwhile."""
    storage = engine.storage
    run = await storage.run_get(ANONYMOUS, run_id)
    if run is None or run["status"] not in ("pending", "running"):
        return True
    if run["status"] == "running":
        return False
    if action == "rollback":
        await storage.run_delete(ANONYMOUS, run_id, thread_id=run["thread_id"])
    else:
        changed = await storage.run_set_status(run_id, "interrupted", only_if=["pending"])
        if changed is None:
            return False
    channel = engine.broker.get(run_id)
    if channel is not None and not channel.done:
        engine.broker.close(channel, {})
    thread_id = run["thread_id"]
    try:
        await _free_thread_if_idle(engine, thread_id)
    except storage.transient_errors:
        # The cancel itself took effect; only the thread's status is behind. Nothing
        # else would ever correct it, so that goes on once the database is back.
        engine.spawn(_retry_quietly(engine, thread_id))
    return True


async def _free_thread_if_idle(engine: EngineHandle, thread_id: str) -> None:
    """A busy thread left without pending or running runs is idle (or interrupted)."""
    storage = engine.storage
    if not await storage.run_inflight(ANONYMOUS, thread_id=thread_id):
        thread = await storage.thread_get(ANONYMOUS, thread_id)
        if thread is not None and thread["status"] == "busy":
            status = "interrupted" if thread.get("interrupts") else "idle"
            await storage.thread_set_state(ANONYMOUS, thread_id, status=status)


async def _retry_quietly(engine: EngineHandle, thread_id: str) -> None:
    with suppress(StorageGaveUp):  # stopping: the thread's next run settles it
        await engine.retry_storage(
            f"freeing thread {thread_id}", lambda: _free_thread_if_idle(engine, thread_id)
        )


async def settle_failed_runs(engine: EngineHandle, run_ids: list[str]) -> None:
    """Runs that crashed too often: make sure their threads are not left busy."""
    storage = engine.storage
    for run_id in run_ids:
        run = await storage.run_get(ANONYMOUS, run_id)
        if run is None:
            continue
        if not await storage.run_inflight(ANONYMOUS, thread_id=run["thread_id"]):
            await storage.thread_set_state(
                ANONYMOUS,
                run["thread_id"],
                status="error",
                error={
                    "error": "RunRecoveryError",
                    "message": "The server stopped while the run was executing, too often",
                },
            )

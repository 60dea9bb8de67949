"""Thread-level checkpoint operations over any LangGraph checkpointer.

Checkpoints belong to LangGraph's saver, not to our storage: deleting, copying or
pruning a thread must go through it. Savers that implement the optional bulk methods
(`acopy_thread`, `aprune`) use them; others get a portable version built on the
required API (`alist`, `aput`, `aput_writes`, `adelete_thread`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, cast

from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointMetadata, CheckpointTuple


def checkpoint_address(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The public part of a checkpoint config: what a client sends back to reach it.

    Subgraph configs also carry LangGraph's private `__pregel_*` objects, which must
    never leave the server.
    """
    if not config:
        return None
    conf = config.get("configurable") or {}
    address = {
        "checkpoint_id": conf.get("checkpoint_id"),
        "thread_id": conf.get("thread_id"),
        "checkpoint_ns": conf.get("checkpoint_ns", ""),
    }
    if conf.get("checkpoint_map"):
        address["checkpoint_map"] = conf["checkpoint_map"]
    return address


async def delete_thread_checkpoints(saver: BaseCheckpointSaver, thread_ids: Iterable[str]) -> None:
    for thread_id in thread_ids:
        await saver.adelete_thread(thread_id)


async def _tuples(saver: BaseCheckpointSaver, thread_id: str) -> list[CheckpointTuple]:
    return [t async for t in saver.alist({"configurable": {"thread_id": thread_id}})]


async def _put(
    saver: BaseCheckpointSaver,
    thread_id: str,
    item: CheckpointTuple,
    parent_id: str | None,
) -> None:
    configurable: dict[str, Any] = {
        "thread_id": thread_id,
        "checkpoint_ns": item.config["configurable"].get("checkpoint_ns", ""),
    }
    if parent_id:
        configurable["checkpoint_id"] = parent_id
    metadata: dict[str, Any] = dict(item.metadata or {})
    if "thread_id" in metadata:
        metadata["thread_id"] = thread_id
    saved = await saver.aput(
        {"configurable": configurable},
        item.checkpoint,
        cast(CheckpointMetadata, metadata),
        dict(item.checkpoint.get("channel_versions", {})),
    )
    by_task: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for task_id, channel, value in item.pending_writes or ():
        by_task[task_id].append((channel, value))
    for task_id, writes in by_task.items():
        await saver.aput_writes(saved, writes, task_id)


async def copy_thread_checkpoints(saver: BaseCheckpointSaver, source: str, target: str) -> None:
    try:
        await saver.acopy_thread(source, target)
        return
    except NotImplementedError:
        pass
    # Oldest first, so every parent exists before the checkpoints that point to it.
    for item in reversed(await _tuples(saver, source)):
        parent = (
            item.parent_config["configurable"].get("checkpoint_id") if item.parent_config else None
        )
        await _put(saver, target, item, parent)


async def prune_keep_latest(saver: BaseCheckpointSaver, thread_ids: Iterable[str]) -> None:
    """Keep only the newest checkpoint of each namespace of each thread."""
    thread_ids = list(thread_ids)
    try:
        await saver.aprune(thread_ids, strategy="keep_latest")
        return
    except NotImplementedError:
        pass
    for thread_id in thread_ids:
        latest: dict[str, CheckpointTuple] = {}
        for item in await _tuples(saver, thread_id):
            ns = item.config["configurable"].get("checkpoint_ns", "")
            latest.setdefault(ns, item)  # alist yields newest first
        await saver.adelete_thread(thread_id)
        for item in latest.values():
            await _put(saver, thread_id, item, None)


async def delete_run_checkpoints(saver: BaseCheckpointSaver, thread_id: str, run_id: str) -> None:
    """Drop the checkpoints a run wrote (rollback), keeping the rest of the thread."""
    pool = getattr(saver, "conn", None)
    if type(saver).__name__ == "AsyncPostgresSaver" and pool is not None:
        async with pool.connection() as conn:
            await conn.execute(
                "WITH gone AS (DELETE FROM checkpoints WHERE thread_id = %s "
                "AND metadata->>'run_id' = %s RETURNING checkpoint_ns, checkpoint_id) "
                "DELETE FROM checkpoint_writes w USING gone WHERE w.thread_id = %s "
                "AND w.checkpoint_ns = gone.checkpoint_ns "
                "AND w.checkpoint_id = gone.checkpoint_id",
                (thread_id, run_id, thread_id),
            )
        return
    items = await _tuples(saver, thread_id)
    keep = [item for item in items if (item.metadata or {}).get("run_id") != run_id]
    if len(keep) == len(items):
        return
    await saver.adelete_thread(thread_id)
    for item in reversed(keep):
        parent = (
            item.parent_config["configurable"].get("checkpoint_id") if item.parent_config else None
        )
        await _put(saver, thread_id, item, parent)

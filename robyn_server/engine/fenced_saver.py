"""A checkpointer that stops writing once this process may have lost its run.

When several processes share the run queue, a process paused past its lease (SIGSTOP, a
long GC pause, a network partition) has its runs re-queued and executed elsewhere. When
it wakes up, its graph would go on writing checkpoints over the newer attempt's. Each
write first asks the engine whether the lease still holds (`check`): free while the last
renewal is recent, one renewal otherwise; a lost lease raises `LeaseLost`, which stops
the old execution without a write. Reads go straight through.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)


class FencedSaver(BaseCheckpointSaver):
    def __init__(self, inner: BaseCheckpointSaver, check: Callable[[], Awaitable[None]]) -> None:
        super().__init__(serde=inner.serde)
        self.inner = inner
        self.check = check

    @property
    def config_specs(self) -> list:
        return self.inner.config_specs

    def get_next_version(self, current: Any, channel: None) -> Any:
        return self.inner.get_next_version(current, channel)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await self.inner.aget_tuple(config)

    def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        return self.inner.alist(config, filter=filter, before=before, limit=limit)

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        await self.check()
        return await self.inner.aput(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self.check()
        await self.inner.aput_writes(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await self.inner.adelete_thread(thread_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _delegate(name: str) -> Any:
    def method(self: FencedSaver, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.inner, name)(*args, **kwargs)

    method.__name__ = name
    return method


# What BaseCheckpointSaver implements itself (often as NotImplementedError) goes to the
# inner saver's own version; these never write the run's state.
for _name in (
    "aget_delta_channel_history",
    "get_delta_channel_history",
    "get_tuple",
    "list",
    "aget",
    "get",
    "adelete_for_runs",
    "acopy_thread",
    "aprune",
):
    if hasattr(BaseCheckpointSaver, _name):
        setattr(FencedSaver, _name, _delegate(_name))

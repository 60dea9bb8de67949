"""The persistence a server process runs on: our storage, LangGraph's checkpointer and
store, and the connection pool they share (opened by `app.persistence`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore

from robyn_server.storage.base import Storage
from robyn_server.storage.postgres.sql import DictPool
from robyn_server.storage.signals import Signals


@dataclass
class Persistence:
    """Everything the server persists through, opened together and closed together."""

    mode: str  # "postgres" | "in-memory" | "in-memory (fallback)"
    storage: Storage
    checkpointer: BaseCheckpointSaver
    store: BaseStore
    pool: DictPool | None = None
    fallback_reason: str | None = None
    # Messages to every process on this storage (LISTEN/NOTIFY on Postgres); started by
    # the app once its subscribers are in place, stopped here.
    signals: Signals = field(default_factory=Signals)

    async def close(self) -> None:
        """Stop the signals and the store's TTL sweeper, then close the shared pool."""
        await self.signals.stop()
        # Before the pool: a sweep in flight needs its connection to finish.
        stop = getattr(self.store, "stop_ttl_sweeper", None)
        if stop is not None:
            await stop(timeout=SWEEPER_STOP_SECONDS)
        if self.pool is not None:
            await self.pool.close()


SWEEPER_STOP_SECONDS = 10.0

"""The process-wide application context, filled in by the startup handler.

Robyn forks worker processes after import, so nothing that owns a loop or a socket may
be created at import time. The context is a holder: `cli` creates it with settings and
the graph registry, and the startup handler adds persistence (pool, saver, store,
storage) on Robyn's own event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore

from robyn_server.auth.policy import AuthPolicy
from robyn_server.config import Settings
from robyn_server.engine.broker import Broker
from robyn_server.engine.cluster import WorkerIdentity
from robyn_server.engine.engine import RunEngine
from robyn_server.errors import ServiceUnavailable
from robyn_server.graphs.registry import GraphRegistry
from robyn_server.storage.base import Storage
from robyn_server.storage.persistence import Persistence
from robyn_server.storage.signals import Signals
from robyn_server.storage.thread_ttl import ThreadTTLSettings


class Stoppable(Protocol):
    async def stop(self) -> None: ...


@dataclass
class AppContext:
    settings: Settings
    registry: GraphRegistry
    persistence: Persistence | None = None
    # Robyn's event loop, known once the startup handler runs on it.
    loop: asyncio.AbstractEventLoop | None = None
    stopping: bool = False
    thread_ttl: ThreadTTLSettings | None = None
    background: list[Stoppable] = field(default_factory=list)
    # The run engine, set up at startup.
    engine: RunEngine | None = None
    # Called once the server can take requests (the supervisor waits for it).
    on_ready: Callable[[], None] | None = None
    # The auth handlers every request goes through; None: every caller is anonymous.
    auth: AuthPolicy | None = None
    # This process's place in the shared run queue (given by the supervisor).
    worker: WorkerIdentity | None = None

    @property
    def broker(self) -> Broker | None:
        """The engine's event broker, once there is an engine."""
        return self.engine.broker if self.engine is not None else None

    def run_engine(self) -> RunEngine:
        """The run engine, once the startup handler has made it."""
        if self.engine is None:
            raise ServiceUnavailable("The server is starting or stopping; try again shortly")
        return self.engine

    def _persistence(self) -> Persistence:
        if self.persistence is None:
            raise ServiceUnavailable("The server is starting or stopping; try again shortly")
        return self.persistence

    @property
    def storage(self) -> Storage:
        return self._persistence().storage

    @property
    def signals(self) -> Signals:
        """Messages to every process on this storage (storage/signals.py)."""
        return self._persistence().signals

    @property
    def checkpointer(self) -> BaseCheckpointSaver:
        return self._persistence().checkpointer

    @property
    def store(self) -> BaseStore:
        return self._persistence().store


_context: AppContext | None = None


def set_context(context: AppContext | None) -> None:
    global _context
    _context = context


def get_context() -> AppContext:
    if _context is None:
        raise ServiceUnavailable("The server is still starting")
    return _context

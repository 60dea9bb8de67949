"""Signals: short messages from one server process to every process on the same storage.

Several processes and servers may share one PostgreSQL database. What one of them does
(creates a run, cancels one, publishes an event) often matters to the others, which must
learn of it at once and without polling. `Signals` is that channel: `subscribe` a
callback to a channel name, `send` a payload on it, and every subscribed process,
including the sender, calls its callbacks with the payload.

In memory there is one process, so `Signals` dispatches locally. On PostgreSQL,
`PgSignals` (storage/postgres/listener.py) uses LISTEN/NOTIFY. Either way:

- Delivery is at most once and may be lost when a listener reconnects: `on_resync`
  callbacks run after such a gap, so that subscribers can look again at what they may
  have missed (the database, not the signal, is the truth).
- Payloads are short strings (PostgreSQL caps them just under 8,000 bytes): ids, not data.
- Callbacks run on the event loop, must be quick and must not raise; a callback that
  raises is logged and the others still run.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable

logger = logging.getLogger("robyn_server.storage.signals")

Callback = Callable[[str], None]

# A thread may have a run to start: payload its id (storage sends it, see
# postgres/workers.py, and the engine when it leaves a run for another process).
RUNS_CHANNEL = "langgraph_server_runs"
# Cancel or stop runs wherever they execute: payloads made by engine/cluster.py.
RUN_CONTROL_CHANNEL = "langgraph_server_run_control"
# A cron may have become due sooner (created, re-scheduled, enabled): payload its
# `next_run_date` in epoch seconds. On PostgreSQL the crons table's triggers send it
# (migrations/0004_crons.sql), so a cron changed by any server wakes every scheduler; in
# memory the storage sends it (memory/crons.py).
CRONS_CHANNEL = "langgraph_server_crons"


class Signals:
    """Process-local signals: the in-memory backend, and the base of `PgSignals`."""

    # True when other processes hear what this one sends (PostgreSQL).
    cross_process = False

    def __init__(self) -> None:
        self._callbacks: dict[str, list[Callback]] = defaultdict(list)
        self._resync: list[Callable[[], None]] = []

    def subscribe(self, channel: str, callback: Callback) -> None:
        self._callbacks[channel].append(callback)

    def on_resync(self, callback: Callable[[], None]) -> None:
        """Call `callback` whenever signals may have been missed (after a reconnect)."""
        self._resync.append(callback)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(self, channel: str, payload: str) -> None:
        asyncio.get_running_loop().call_soon(self.dispatch, channel, payload)

    def dispatch(self, channel: str, payload: str) -> None:
        for callback in self._callbacks.get(channel, ()):
            try:
                callback(payload)
            except Exception:
                logger.exception("Signal callback for %s failed", channel)

    def resynced(self) -> None:
        for callback in self._resync:
            try:
                callback()
            except Exception:
                logger.exception("Signal resync callback failed")

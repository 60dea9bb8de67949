"""Watch announcements (see engine/event_bus.py): a process with a watcher on a run it
does not execute, or on a thread, tells the others, so that whichever process executes
the run stores its events in the log.

`Announcements` sends `<token> <item> <item>...` signals (`r:<run_id>`, `t:<thread_id>`):
items queued while one is being sent go together in the next, so a burst of watchers
costs a few NOTIFYs, not one each. It also remembers, for `ANNOUNCE_SECONDS`, what the
other processes announced (watchers announce again every `REANNOUNCE_SECONDS` while they
last): a run announced now, or a run of an announced thread, is stored whenever and
wherever it executes.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from robyn_server.storage.signals import Signals

logger = logging.getLogger("robyn_server.engine")

ANNOUNCE_SECONDS = 600.0
REANNOUNCE_SECONDS = 120.0
# Items per announcement signal: 100 x (2 + 36 + 1) bytes, far below NOTIFY's 8,000.
ANNOUNCE_BATCH = 100


class Announcements:
    def __init__(self, signals: Signals, channel: str) -> None:
        self.signals = signals
        self.channel = channel
        # Names this process in its announcements, which it ignores itself.
        self.token = uuid.uuid4().hex[:12]
        self._outbox: list[str] = []
        self._sender: asyncio.Task[None] | None = None
        self._runs: dict[str, float] = {}
        self._threads: dict[str, float] = {}

    def heard(self, payload: str) -> list[tuple[str, str]]:
        """Remember what another process announced; its (kind, id) items. Nothing for
        this process's own announcements (its watchers read its runs from memory)."""
        sender, *items = payload.split()
        if sender == self.token:
            return []
        until = time.monotonic() + ANNOUNCE_SECONDS
        heard = []
        for item in items:
            kind, _, ident = item.partition(":")
            if kind == "r":
                self._runs[ident] = until
            elif kind == "t":
                self._threads[ident] = until
            else:
                continue
            heard.append((kind, ident))
        return heard

    def watched(self, run_id: str, thread_id: str) -> bool:
        """Whether another process announced the run or its thread lately."""
        now = time.monotonic()
        return self._runs.get(run_id, 0.0) > now or self._threads.get(thread_id, 0.0) > now

    def expire(self) -> None:
        now = time.monotonic()
        for table in (self._runs, self._threads):
            for key in [k for k, until in table.items() if until <= now]:
                del table[key]

    def announce(self, item: str) -> None:
        self._outbox.append(item)
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        try:
            while self._outbox:
                items, self._outbox = self._outbox, []
                while items:
                    batch, items = items[:ANNOUNCE_BATCH], items[ANNOUNCE_BATCH:]
                    try:
                        await self.signals.send(self.channel, " ".join((self.token, *batch)))
                    except Exception as exc:
                        # Watchers announce again every REANNOUNCE_SECONDS.
                        logger.warning("Announcing watches failed: %s", exc)
        finally:
            self._sender = None

"""Storage calls the engine makes on its own, retried through a database outage.

The database may go away at any moment. Every storage call the engine makes on its own
(claiming, settling) goes through `retry_storage`, so a run is settled, and its thread
freed, once the database is back, and no worker dies of an outage.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import TypeVar

logger = logging.getLogger("robyn_server.runs")
T = TypeVar("T")

# Pauses between attempts of a storage call that failed because the database is
# unavailable: short at first (a restart or failover is often over within a second),
# then every few seconds at most, which is plenty for a database that is still down.
RETRY_FIRST_DELAY = 0.1
RETRY_MAX_DELAY = 5.0


class StorageGaveUp(Exception):
    """The server is stopping while the database is unavailable, so a storage call is
    not retried any more. What it left undone, the next start repairs (run_recover)."""


async def retry_storage(
    what: str,
    call: Callable[[], Awaitable[T]],
    transient: tuple[type[BaseException], ...],
    stopped: asyncio.Event,
) -> T:
    """`await call()`, repeated with backoff for as long as it fails because the
    database is unavailable (storage's `transient_errors`), so an outage delays the
    engine's bookkeeping instead of losing it. `call` must be safe to repeat. Other
    errors propagate; once `stopped` is set, raises `StorageGaveUp`."""
    delay, failures = RETRY_FIRST_DELAY, 0
    while True:
        try:
            result = await call()
        except transient as exc:
            failures += 1
            if failures == 1:
                logger.warning(
                    "Database unavailable while %s (%s: %s); retrying until it is back",
                    what,
                    type(exc).__name__,
                    exc,
                )
            if not stopped.is_set():
                with suppress(TimeoutError):
                    await asyncio.wait_for(stopped.wait(), delay)
            if stopped.is_set():
                raise StorageGaveUp(what) from exc
            delay = min(2 * delay, RETRY_MAX_DELAY)
            continue
        if failures:
            logger.warning("Database is back: %s succeeded after %d retries", what, failures)
        return result

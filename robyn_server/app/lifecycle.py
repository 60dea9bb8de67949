"""Start-up and shutdown of the server's resources, independent of Robyn.

`cli` installs the signal handlers that call `request_shutdown` before the server is
forked; the HTTP layer hands in the one Robyn call the engine needs (`native_flush`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable

from robyn_server.app.persistence import open_persistence
from robyn_server.engine.engine import RunEngine
from robyn_server.engine.event_bus import EventBus
from robyn_server.engine.stream_slots import StreamSlots
from robyn_server.services.assistants import ensure_system_assistants
from robyn_server.services.context import AppContext
from robyn_server.services.cron_scheduler import CronScheduler
from robyn_server.services.thread_ttl import ThreadTTLSweeper
from robyn_server.storage.encryption import EncryptionSettings
from robyn_server.storage.postgres.events import PgEventLog
from robyn_server.storage.thread_ttl import ThreadTTLSettings

logger = logging.getLogger("robyn_server")


async def start(ctx: AppContext, native_flush: Callable[[], object]) -> None:
    """Open persistence and start the engine; `native_flush` is the HTTP layer's call into
    Robyn's native code (see `engine.stream_slots`), handed in so this module imports
    no Robyn."""
    settings = ctx.settings
    ctx.thread_ttl = ThreadTTLSettings.from_checkpointer_config(ctx.registry.checkpointer_config())
    ctx.persistence = await open_persistence(
        settings.database_url,
        pool_min_size=settings.database_pool_min_size,
        pool_max_size=settings.database_pool_max_size,
        fallback_to_memory=settings.database_fallback_to_memory,
        store_index=ctx.registry.store_index(),
        store_ttl=ctx.registry.store_config().get("ttl"),
        probe_timeout=settings.database_probe_timeout,
        pool_timeout=settings.database_pool_timeout,
        synchronous_commit=settings.database_synchronous_commit,
        encryption=EncryptionSettings.of(settings.aes_key, settings.aes_fallback_keys),
    )
    await ensure_system_assistants(ctx)
    # Made before the engine starts the signals, so its subscription is LISTENed from
    # the first connection; started after, since the runs it creates need the engine.
    scheduler = None
    if settings.cron_scheduler_enabled:
        scheduler = CronScheduler(ctx, max_sleep=settings.cron_scheduler_max_sleep_seconds)
    await _start_engine(ctx, native_flush)
    sweeper = ThreadTTLSweeper(ctx, ctx.thread_ttl.sweep_interval_minutes * 60)
    sweeper.start()
    ctx.background.append(sweeper)
    if scheduler is not None:
        scheduler.start()
        ctx.background.append(scheduler)
    logger.info(
        "Ready: persistence=%s, graphs=%s, http://%s:%s",
        ctx.persistence.mode,
        ", ".join(ctx.registry.ids()),
        settings.host,
        settings.port,
    )


SHUTDOWN_TIMEOUT_SECONDS = 30.0


async def _start_engine(ctx: AppContext, native_flush: Callable[[], object]) -> None:
    settings, persistence = ctx.settings, ctx.persistence
    assert persistence is not None  # opened just before
    # On PostgreSQL, run events reach watchers on other processes through an event log.
    log = PgEventLog(persistence.pool) if persistence.pool is not None else None
    broker = EventBus(
        settings.resumable_stream_ttl_seconds, log, persistence.signals, persistence.storage
    )
    slots = StreamSlots(settings.open_stream_limit, flush=native_flush)
    ctx.engine = RunEngine(settings, ctx.registry, persistence, broker, slots, ctx.worker)
    # After the engine subscribed, before it looks at the queue: a signal sent between
    # the two is then either heard or already visible in the database.
    await persistence.signals.start()
    broker.start()
    await ctx.engine.start()


async def stop(ctx: AppContext) -> None:
    # Background tasks first: the cron scheduler creates runs, and must not start one
    # while the engine puts the others back in the queue.
    background, ctx.background = ctx.background, []
    for task in background:
        await task.stop()
    engine = ctx.engine
    if engine is not None and not engine.stopping:
        # Before the pool closes: in-flight runs are marked for recovery in storage. The
        # engine stays in the context: a request still arriving on a kept-alive
        # connection finds it stopping (a run it creates waits for the next start).
        await engine.stop()
        if isinstance(engine.broker, EventBus):
            # Stored events still queued are written while the pool is open.
            await engine.broker.stop()
    persistence, ctx.persistence = ctx.persistence, None
    if persistence is not None:
        await persistence.close()
        logger.info("Shut down: persistence closed")


def request_shutdown(ctx: AppContext) -> None:
    """Called from the SIGTERM/SIGINT handler, on the main thread.

    Robyn runs its shutdown handler only when KeyboardInterrupt escapes its loop, and a
    KeyboardInterrupt that lands while actix (which also sees SIGTERM) calls into Python
    aborts the process with a Rust panic. So the signal only schedules our own shutdown
    on the loop: close persistence, then leave. Later signals are ignored.
    """
    loop = ctx.loop
    if loop is None or loop.is_closed():
        raise KeyboardInterrupt  # not serving yet: nothing to close
    if ctx.stopping:
        return
    ctx.stopping = True
    loop.call_soon_threadsafe(lambda: loop.create_task(_stop_and_exit(ctx)))


async def _stop_and_exit(ctx: AppContext) -> None:
    code = 0
    try:
        await asyncio.wait_for(stop(ctx), SHUTDOWN_TIMEOUT_SECONDS)
    except BaseException:
        logger.exception("Shutdown did not complete cleanly")
        code = 1
    finally:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

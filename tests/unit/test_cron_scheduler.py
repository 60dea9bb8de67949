"""The cron scheduler in process, on a clock the test moves: missed ticks, DST, and the
crons that must not fire, without waiting for real time; then on the real clock, what
wakes it: a cron created in process, and a resync after signals were lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from robyn_server.app.persistence import open_persistence
from robyn_server.auth.caller import ANONYMOUS_CALLER
from robyn_server.config import Settings
from robyn_server.engine.broker import Broker
from robyn_server.engine.engine import RunEngine
from robyn_server.engine.stream_slots import StreamSlots
from robyn_server.graphs.registry import load_registry
from robyn_server.schemas.crons import CronCreate
from robyn_server.services import crons
from robyn_server.services.assistants import ensure_system_assistants
from robyn_server.services.context import AppContext
from robyn_server.services.cron_scheduler import CronScheduler
from robyn_server.storage.memory.storage import InMemoryStorage
from robyn_server.storage.signals import Signals
from robyn_server.storage.types import ANONYMOUS
from tests.support.paths import FIXTURE_CONFIG
from tests.support.runs import eventually


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def ctx() -> AsyncIterator[AppContext]:
    settings = Settings()
    context = AppContext(settings=settings, registry=load_registry(FIXTURE_CONFIG))
    context.persistence = await open_persistence(None)
    await ensure_system_assistants(context)
    context.engine = RunEngine(
        settings,
        context.registry,
        context.persistence,
        Broker(60),
        StreamSlots(10, flush=lambda: None),
    )
    await context.engine.start()
    yield context
    await context.engine.stop()
    await context.persistence.close()


async def make_cron(ctx: AppContext, **fields: Any) -> dict[str, Any]:
    body = {"assistant_id": "echo_config", "input": {}, "on_run_completed": "keep", **fields}
    return await crons.create(ctx, ANONYMOUS_CALLER, CronCreate.model_validate(body))


async def runs_of(ctx: AppContext, cron_id: str) -> int:
    page = await ctx.storage.thread_search(ANONYMOUS, metadata={"cron_id": cron_id}, limit=100)
    return len(page.items)


async def test_missed_ticks_give_one_run_then_the_schedule_goes_on(ctx: AppContext) -> None:
    clock = Clock()
    scheduler = CronScheduler(ctx, max_sleep=30, clock=clock)
    cron = await make_cron(ctx, schedule="*/5 * * * *")
    assert await scheduler.run_due() == 0  # not due yet

    clock.now = cron["next_run_date"] + timedelta(hours=1, minutes=2)  # 13 ticks missed
    assert await scheduler.run_due() == 1
    assert await scheduler.run_due() == 0
    moved = await crons.get(ctx, ANONYMOUS_CALLER, cron["cron_id"])
    # From "now" on: the first five-minute mark after the clock.
    assert moved["next_run_date"] == clock.now.replace(second=0, microsecond=0) + timedelta(
        minutes=3
    )

    clock.now = moved["next_run_date"]
    assert await scheduler.run_due() == 1
    assert await runs_of(ctx, cron["cron_id"]) == 2


async def test_a_repeated_wall_clock_time_fires_once(ctx: AppContext) -> None:
    clock = Clock()
    scheduler = CronScheduler(ctx, max_sleep=30, clock=clock)
    cron = await make_cron(ctx, schedule="30 1 * * *", timezone="America/New_York")
    first = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, before the fall back
    await ctx.storage.cron_update(ANONYMOUS, cron["cron_id"], next_run_date=first)
    clock.now = first
    assert await scheduler.run_due() == 1
    after = await crons.get(ctx, ANONYMOUS_CALLER, cron["cron_id"])
    # 01:30 EST (06:30 UTC the same day) repeats the time: the next run is the next day.
    assert after["next_run_date"] == datetime(2026, 11, 2, 6, 30, tzinfo=UTC)
    clock.now = datetime(2026, 11, 1, 6, 30, 30, tzinfo=UTC)
    assert await scheduler.run_due() == 0


async def test_disabled_and_ended_crons_never_fire(ctx: AppContext) -> None:
    clock = Clock()
    scheduler = CronScheduler(ctx, max_sleep=30, clock=clock)
    disabled = await make_cron(ctx, schedule="* * * * *", enabled=False)
    ended = await make_cron(ctx, schedule="* * * * *", end_time=clock.now.isoformat())
    clock.now += timedelta(minutes=10)
    assert await scheduler.run_due() == 0
    for cron in (disabled, ended):
        assert await runs_of(ctx, cron["cron_id"]) == 0
        current = await crons.get(ctx, ANONYMOUS_CALLER, cron["cron_id"])
        assert current["next_run_date"] == cron["next_run_date"]
    assert await ctx.storage.cron_next_due(clock.now) is None  # nothing to wake up for


async def _sleeping(scheduler: CronScheduler) -> CronScheduler:
    """`scheduler` started and past its first pass: nothing is due, so it sleeps for its
    whole `max_sleep` unless something wakes it."""
    scheduler.start()
    await asyncio.sleep(0.2)
    return scheduler


async def test_a_cron_created_in_process_wakes_the_sleeping_scheduler(ctx: AppContext) -> None:
    scheduler = await _sleeping(CronScheduler(ctx, max_sleep=3600))
    try:
        cron = await make_cron(ctx, schedule="* * * * * *")  # every second

        async def fired() -> int:
            return await runs_of(ctx, cron["cron_id"])

        await eventually(fired, within=5)
    finally:
        await scheduler.stop()


async def test_signals_lost_by_a_reconnect_are_made_up_by_the_resync(ctx: AppContext) -> None:
    storage = ctx.storage
    assert isinstance(storage, InMemoryStorage)
    storage.signals = Signals()  # what storage sends now reaches no scheduler: lost
    scheduler = await _sleeping(CronScheduler(ctx, max_sleep=3600))
    try:
        cron = await make_cron(ctx, schedule="* * * * * *")
        await asyncio.sleep(1.5)
        assert await runs_of(ctx, cron["cron_id"]) == 0, "nothing woke the scheduler"
        ctx.signals.resynced()  # what the listener does after it reconnected

        async def fired() -> int:
            return await runs_of(ctx, cron["cron_id"])

        await eventually(fired, within=5)
    finally:
        await scheduler.stop()

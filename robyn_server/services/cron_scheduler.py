"""The cron scheduler: fires each due cron's tick exactly once, on one server or many.

The cron rows are the schedule; this only reads them. Every pass:
1. read a few of the crons due now, a random sample each time, so that several servers
   sharing a burst mostly pick different ones (and re-read, so none is left to one that
   another server already fired);
2. for each, create its run through `create_run`, the path every run takes, with the
   tick to claim: storage moves `next_run_date` in the transaction that stores the run,
   and refuses a tick another server claimed first (`CronTickTaken`);
3. sleep until the earliest `next_run_date`, at most `max_sleep` seconds, or until a
   cron may be due sooner: storage sends `CRONS_CHANNEL` on the process's signals (in
   process, or the crons table's NOTIFY from any server on Postgres), and after a
   listener reconnected (`on_resync`) the scheduler looks again, since what was sent
   meanwhile is lost.

The scheduler subscribes when constructed: the app builds it before it starts the
signals, so the listener LISTENs on the crons channel from its first connection, and
the first pass, at start, covers whatever changed before that.

Misfires: a tick is claimed whenever it is found due, however late, and the next one
is computed from now. Ticks missed while no server ran give one catch-up run, and the
schedule then continues.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from robyn_server.auth.caller import ANONYMOUS_CALLER, Caller
from robyn_server.auth.users import user_of
from robyn_server.errors import ApiError
from robyn_server.services.context import AppContext
from robyn_server.services.cron_schedule import check_timezone, next_run
from robyn_server.services.crons import tick_run
from robyn_server.services.run_create import create_run
from robyn_server.storage.signals import CRONS_CHANNEL
from robyn_server.storage.types import ANONYMOUS, CronTick, CronTickTaken, utcnow

logger = logging.getLogger("robyn_server.crons")

# Crons read at a time: small, so each read leaves out what other servers fired since.
BATCH_SIZE = 32
CREATED, TAKEN, FAILED = "created", "taken", "failed"
# A bound on one pass (rows held mid-claim by a stalled server come back in every read).
MAX_READS_PER_PASS = 1000
# Ticks claimed at once: enough to keep the database busy, few enough to leave pool
# connections to the runs the ticks start.
CONCURRENCY = 8
# When a cron is still due after a pass (another server holds it mid-claim, or the
# database is failing), look again after this long rather than at once.
RETRY_SECONDS = 0.05
ERROR_BACKOFF_SECONDS = 1.0


class CronScheduler:
    def __init__(
        self,
        ctx: AppContext,
        *,
        max_sleep: float,
        clock: Callable[[], datetime] = utcnow,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self._ctx = ctx
        self._max_sleep = max_sleep
        self._clock = clock
        self._batch_size = batch_size
        self._wakeup = asyncio.Event()
        # When the sleeping scheduler wakes up by itself; None while it is not sleeping.
        self._deadline: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        ctx.signals.subscribe(CRONS_CHANNEL, self._on_cron_signal)
        ctx.signals.on_resync(self.wake)

    def start(self) -> None:
        """Start the loop, whose first pass reads the crons at once."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="cron-scheduler")

    def _on_cron_signal(self, payload: str) -> None:
        self.wake(_notified_time(payload))

    def wake(self, at: datetime | None = None) -> None:
        """Look at the crons again: a cron may now be due at `at` (None: at any time).
        A scheduler already waking up before `at` sleeps on."""
        if at is None or self._deadline is None or at < self._deadline:
            self._wakeup.set()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            self._wakeup.clear()
            try:
                await self.run_due()
                next_due = await self._ctx.storage.cron_next_due(self._clock())
            except Exception:
                logger.exception("Cron scheduler pass failed; retrying")
                await asyncio.sleep(ERROR_BACKOFF_SECONDS)
                continue
            await self._sleep(next_due)

    async def _sleep(self, next_due: datetime | None) -> None:
        timeout = self._max_sleep
        if next_due is not None:
            timeout = min(timeout, (next_due - self._clock()).total_seconds())
            # Still due after a pass: a claim in flight on another server, or a failing
            # database. Look again soon, never in a busy loop.
            timeout = max(timeout, RETRY_SECONDS)
        self._deadline = self._clock() + timedelta(seconds=timeout)
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            self._deadline = None

    async def run_due(self) -> int:
        """Fire every cron due now; returns how many runs this server created."""
        now = self._clock()
        gate = asyncio.Semaphore(CONCURRENCY)

        async def fire(cron: dict[str, Any]) -> str:
            async with gate:
                return await self.fire(cron, now)

        created = 0
        for _ in range(MAX_READS_PER_PASS):
            due = await self._ctx.storage.cron_due(now, limit=self._batch_size)
            outcomes = await asyncio.gather(*(fire(cron) for cron in due))
            created += outcomes.count(CREATED)
            # Done when nothing more is due. A failing database is left to the next pass.
            if len(due) < self._batch_size or FAILED in outcomes:
                break
        return created

    async def fire(self, cron: dict[str, Any], now: datetime) -> str:
        """Claim one tick of `cron`, creating its run: CREATED, TAKEN (by another server, or
        refused and skipped) or FAILED (the database failed; the tick is still due)."""
        cron_id, due = cron["cron_id"], cron["next_run_date"]
        try:
            zone = check_timezone(cron["timezone"])
        except ApiError as exc:
            # Its zone left the time zone database since it was created.
            logger.error("Cron %s disabled: %s", cron_id, exc.detail)
            await self._ctx.storage.cron_update(ANONYMOUS, cron_id, enabled=False)
            return TAKEN
        tick = CronTick(cron_id, due, next_run(cron["schedule"], zone, max(now, due)), now)
        try:
            created = await create_run(
                self._ctx, self.runs_as(cron), cron["thread_id"], tick_run(cron), cron_tick=tick
            )
        except CronTickTaken:
            return TAKEN  # claimed by another server, or mid-claim there
        except self._ctx.storage.transient_errors as exc:
            logger.warning("Cron %s: database unavailable (%s); will retry", cron_id, exc)
            return FAILED
        except (ApiError, ValidationError) as exc:
            # The run was refused (a busy thread with `reject`, a graph no longer
            # loaded): that tick is skipped.
            reason = exc.detail if isinstance(exc, ApiError) else str(exc)
            logger.warning("Cron %s: tick %s skipped: %s", cron_id, due.isoformat(), reason)
            await self._skip(tick)
            return TAKEN
        logger.info("Cron %s: run %s for tick %s", cron_id, created.run["run_id"], due.isoformat())
        return CREATED

    def runs_as(self, cron: dict[str, Any]) -> Caller:
        """Who a cron's runs run as: with auth, the user who created it, whose auth
        handlers decide again at every tick (a cron without one, made before auth was
        turned on, is refused and its ticks skipped); without auth, nobody."""
        policy = self._ctx.auth
        if policy is None:
            return ANONYMOUS_CALLER
        return Caller(user_of(cron.get("run_as")), policy)

    async def _skip(self, tick: CronTick) -> None:
        try:
            await self._ctx.storage.cron_skip_tick(tick)
        except self._ctx.storage.transient_errors:
            pass  # still due: the next pass tries the tick again


def _notified_time(payload: str) -> datetime | None:
    """The `next_run_date` a crons signal carries (epoch seconds), None if unreadable
    (then the scheduler looks again at once)."""
    try:
        return datetime.fromtimestamp(float(payload), UTC)
    except (ValueError, OverflowError, OSError):
        return None

"""Cron ticks on Postgres: a scheduler never waits behind another one's claim, and the
scheduler's query uses the due index."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from robyn_server.storage.persistence import Persistence
from robyn_server.storage.postgres.crons import DUE_SQL
from robyn_server.storage.types import ANONYMOUS, CronTick, CronTickTaken
from tests.support.contract import make_assistant, new_id

pytestmark = pytest.mark.postgres

S = ANONYMOUS
DUE = datetime(2030, 1, 1, tzinfo=UTC)


async def test_a_tick_held_mid_claim_elsewhere_is_skipped_at_once(
    pg_persistence: Persistence, postgres_url: str
) -> None:
    storage = pg_persistence.storage
    assistant = await make_assistant(storage)
    cron = await storage.cron_create(
        S,
        cron_id=new_id(),
        assistant_id=assistant["assistant_id"],
        thread_id=None,
        schedule="0 0 1 1 *",
        timezone=None,
        end_time=None,
        payload={},
        metadata={},
        on_run_completed="keep",
        enabled=True,
        next_run_date=DUE,
    )
    assert cron is not None
    tick = CronTick(cron["cron_id"], DUE, DUE + timedelta(days=365), DUE)
    with psycopg.connect(postgres_url) as other:
        # Another scheduler in the middle of claiming this tick holds its row.
        other.execute(
            "SELECT 1 FROM langgraph_server.crons WHERE cron_id = %s FOR UPDATE",
            (cron["cron_id"],),
        )
        started = time.monotonic()
        assert await storage.cron_skip_tick(tick) is False
        with pytest.raises(CronTickTaken):
            await storage.run_create(
                S,
                run_id=new_id(),
                thread_id=new_id(),
                assistant_id=assistant["assistant_id"],
                metadata={},
                kwargs={},
                multitask_strategy="enqueue",
                create_thread={},
                cron_tick=tick,
            )
        assert time.monotonic() - started < 1.0, "SKIP LOCKED: no waiting for the lock"
        other.rollback()  # that claim failed: the tick is still there to take
    assert await storage.cron_skip_tick(tick) is True


def test_the_due_query_uses_the_due_index(pg_persistence: Persistence, postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn, conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(
            row[0]
            for row in conn.execute("EXPLAIN " + DUE_SQL, {"now": DUE, "limit": 100}).fetchall()
        )
    assert "crons_due_idx" in plan, plan

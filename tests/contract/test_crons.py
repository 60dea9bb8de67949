"""Cron rows and tick claims, identical on every backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from robyn_server.storage.base import Storage
from robyn_server.storage.memory.storage import InMemoryStorage
from robyn_server.storage.persistence import Persistence
from robyn_server.storage.postgres.listener import PgSignals
from robyn_server.storage.signals import CRONS_CHANNEL
from robyn_server.storage.types import (
    ANONYMOUS,
    UNSET,
    CronTick,
    CronTickTaken,
    ThreadBusy,
    utcnow,
)
from tests.support.contract import (
    ALICE,
    BOB,
    CRON_KEYS,
    make_assistant,
    make_run,
    make_thread,
    new_id,
)

S = ANONYMOUS
T0 = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


async def make_cron(storage: Storage, scope: Any = S, **fields: Any) -> dict[str, Any]:
    if "assistant_id" not in fields:
        fields["assistant_id"] = (await make_assistant(storage, scope))["assistant_id"]
    values: dict[str, Any] = {
        "cron_id": new_id(),
        "thread_id": None,
        "schedule": "0 9 * * *",
        "timezone": None,
        "end_time": None,
        "payload": {"input": {"n": 1}},
        "metadata": {},
        "on_run_completed": "delete",
        "enabled": True,
        "next_run_date": T0,
    }
    values.update(fields)
    cron = await storage.cron_create(scope, **values)
    assert cron is not None
    return cron


def tick(cron: dict[str, Any], now: datetime | None = None) -> CronTick:
    due = cron["next_run_date"]
    return CronTick(cron["cron_id"], due, due + timedelta(days=1), now or due)


async def run_for(storage: Storage, cron: dict[str, Any], claim: CronTick, **fields: Any) -> Any:
    values: dict[str, Any] = {
        "run_id": new_id(),
        "thread_id": cron["thread_id"] or new_id(),
        "assistant_id": cron["assistant_id"],
        "metadata": {},
        "kwargs": {},
        "multitask_strategy": "enqueue",
        "cron_tick": claim,
    }
    if cron["thread_id"] is None:
        values["create_thread"] = {}
    values.update(fields)
    return await storage.run_create(S, **values)


async def test_create_and_get(storage: Storage) -> None:
    end = T0 + timedelta(days=30)
    cron = await make_cron(
        storage,
        ALICE,
        timezone="Europe/Paris",
        end_time=end,
        metadata={"team": "a"},
        payload={"input": {"x": [1, "é"]}},
    )
    assert set(cron) == CRON_KEYS
    assert cron["user_id"] == "alice"
    assert cron["thread_id"] is None
    assert cron["timezone"] == "Europe/Paris"
    assert cron["end_time"] == end
    assert cron["next_run_date"] == T0
    assert cron["payload"] == {"input": {"x": [1, "é"]}}
    assert cron["metadata"] == {"team": "a"}
    assert cron["created_at"] == cron["updated_at"]
    assert await storage.cron_get(ALICE, cron["cron_id"].upper()) == cron
    assert await storage.cron_get(S, cron["cron_id"]) == cron
    assert await storage.cron_get(BOB, cron["cron_id"]) is None
    assert await storage.cron_get(S, "not-a-uuid") is None
    anonymous = await make_cron(storage)
    assert anonymous["user_id"] == ""


async def test_a_thread_cron_needs_a_visible_thread_and_an_existing_assistant(
    storage: Storage,
) -> None:
    thread = await make_thread(storage, ALICE)
    cron = await make_cron(storage, ALICE, thread_id=thread["thread_id"], on_run_completed=None)
    assert cron["thread_id"] == thread["thread_id"]
    assert cron["on_run_completed"] is None
    assistant = await make_assistant(storage, BOB)
    for scope, thread_id, assistant_id in [
        (BOB, thread["thread_id"], assistant["assistant_id"]),  # not Bob's thread
        (BOB, new_id(), assistant["assistant_id"]),  # no such thread
        (BOB, None, new_id()),  # no such assistant
    ]:
        created = await storage.cron_create(
            scope,
            cron_id=new_id(),
            assistant_id=assistant_id,
            thread_id=thread_id,
            schedule="* * * * *",
            timezone=None,
            end_time=None,
            payload={},
            metadata={},
            on_run_completed=None,
            enabled=True,
            next_run_date=T0,
        )
        assert created is None
    assert await storage.cron_count(S) == 1


async def test_update_merges_payload_and_metadata_and_clears_end_time(storage: Storage) -> None:
    cron = await make_cron(
        storage, end_time=T0, timezone="UTC", metadata={"a": 1}, payload={"input": 1, "x": 2}
    )
    updated = await storage.cron_update(
        S,
        cron["cron_id"],
        payload={"input": 3},
        metadata={"b": 2},
        schedule="*/5 * * * *",
        end_time=None,
        enabled=False,
        on_run_completed="keep",
        next_run_date=T0 + timedelta(hours=1),
    )
    assert updated is not None
    assert updated["payload"] == {"input": 3, "x": 2}
    assert updated["metadata"] == {"a": 1, "b": 2}
    assert updated["schedule"] == "*/5 * * * *"
    assert updated["end_time"] is None
    assert updated["timezone"] == "UTC"  # not passed: unchanged
    assert updated["enabled"] is False
    assert updated["on_run_completed"] == "keep"
    assert updated["next_run_date"] == T0 + timedelta(hours=1)
    assert updated["updated_at"] > cron["updated_at"]
    assert updated["created_at"] == cron["created_at"]
    cleared = await storage.cron_update(S, cron["cron_id"], timezone=None, end_time=UNSET)
    assert cleared is not None and cleared["timezone"] is None and cleared["end_time"] is None
    assert await storage.cron_update(BOB, cron["cron_id"], enabled=True) is None
    assert await storage.cron_update(S, new_id(), enabled=True) is None


async def test_delete_and_cascades(storage: Storage) -> None:
    cron = await make_cron(storage)
    assert await storage.cron_delete(S, cron["cron_id"].upper()) is True
    assert await storage.cron_get(S, cron["cron_id"]) is None
    assert await storage.cron_delete(S, cron["cron_id"]) is False

    thread = await make_thread(storage)
    on_thread = await make_cron(storage, thread_id=thread["thread_id"])
    assert await storage.thread_delete(S, thread["thread_id"])
    assert await storage.cron_get(S, on_thread["cron_id"]) is None

    assistant = await make_assistant(storage)
    of_assistant = await make_cron(storage, assistant_id=assistant["assistant_id"])
    assert await storage.assistant_delete(S, assistant["assistant_id"]) == []
    assert await storage.cron_get(S, of_assistant["cron_id"]) is None


async def test_owners_cannot_delete_each_others_crons(storage: Storage) -> None:
    cron = await make_cron(storage, ALICE)
    assert await storage.cron_delete(BOB, cron["cron_id"]) is False
    assert await storage.cron_get(ALICE, cron["cron_id"]) is not None


async def test_search_filters_sorts_and_pages(storage: Storage) -> None:
    assistant = await make_assistant(storage)
    other = await make_assistant(storage)
    thread = await make_thread(storage)
    a = await make_cron(storage, assistant_id=assistant["assistant_id"], metadata={"k": 1})
    b = await make_cron(
        storage,
        assistant_id=assistant["assistant_id"],
        thread_id=thread["thread_id"],
        end_time=T0,
        next_run_date=T0 + timedelta(minutes=1),
    )
    c = await make_cron(
        storage,
        assistant_id=other["assistant_id"],
        enabled=False,
        next_run_date=T0 - timedelta(minutes=1),
    )
    await make_cron(storage, BOB)

    def ids(page: Any) -> list[str]:
        return [cron["cron_id"] for cron in page.items]

    everything = await storage.cron_search(S, limit=10)
    assert len(everything.items) == 4
    mine = await storage.cron_search(S, assistant_id=assistant["assistant_id"])
    assert sorted(ids(mine)) == sorted([a["cron_id"], b["cron_id"]])
    assert ids(await storage.cron_search(S, thread_id=thread["thread_id"])) == [b["cron_id"]]
    assert ids(await storage.cron_search(S, enabled=False)) == [c["cron_id"]]
    assert ids(await storage.cron_search(S, metadata={"k": 1})) == [a["cron_id"]]
    assert ids(await storage.cron_search(S, thread_id="nope")) == []
    by_next = await storage.cron_search(
        S, assistant_id=None, sort_by="next_run_date", sort_order="asc", limit=3
    )
    assert ids(by_next)[0] == c["cron_id"]
    # NULL end times sort after every time ascending, and first descending.
    asc = await storage.cron_search(S, sort_by="end_time", sort_order="asc", limit=10)
    assert ids(asc)[0] == b["cron_id"]
    desc = await storage.cron_search(S, sort_by="end_time", sort_order="desc", limit=10)
    assert ids(desc)[-1] == b["cron_id"]
    first = await storage.cron_search(S, sort_by="cron_id", sort_order="asc", limit=2)
    assert first.next_offset == 2
    rest = await storage.cron_search(S, sort_by="cron_id", sort_order="asc", limit=2, offset=2)
    assert rest.next_offset is None
    assert ids(first) + ids(rest) == sorted(ids(everything))
    assert await storage.cron_count(S) == 4
    assert await storage.cron_count(BOB) == 1
    assert await storage.cron_count(S, assistant_id=assistant["assistant_id"]) == 2
    assert await storage.cron_count(S, thread_id=thread["thread_id"], metadata={"k": 1}) == 0
    with pytest.raises(ValueError):
        await storage.cron_search(S, sort_by="schedule")


async def test_due_and_next_due(storage: Storage) -> None:
    now = T0
    due = await make_cron(storage, next_run_date=now - timedelta(seconds=1))
    later = await make_cron(storage, next_run_date=now + timedelta(minutes=5))
    await make_cron(storage, enabled=False, next_run_date=now - timedelta(hours=1))
    # Due, but past its end: never fires, and no scheduler should wake for it.
    await make_cron(storage, next_run_date=now - timedelta(hours=2), end_time=now)
    # Ends before its next run: cannot fire either.
    await make_cron(
        storage, next_run_date=now + timedelta(minutes=1), end_time=now + timedelta(seconds=30)
    )
    assert [c["cron_id"] for c in await storage.cron_due(now, limit=10)] == [due["cron_id"]]
    assert await storage.cron_next_due(now) == due["next_run_date"]
    assert await storage.cron_due(now - timedelta(hours=3), limit=10) == []
    assert await storage.cron_update(S, due["cron_id"], enabled=False) is not None
    assert await storage.cron_next_due(now) == later["next_run_date"]
    assert await storage.cron_due(now, limit=10) == []


async def test_a_tick_is_claimed_with_its_run_exactly_once(storage: Storage) -> None:
    cron = await make_cron(storage)
    claim = tick(cron)
    created = await run_for(storage, cron, claim)
    assert created is not None
    run, _ = created
    after = await storage.cron_get(S, cron["cron_id"])
    assert after is not None and after["next_run_date"] == claim.following
    assert after["updated_at"] == cron["updated_at"]  # a tick is not an edit

    # The same tick again: refused, and nothing is written (no run, no thread).
    thread_id = new_id()
    with pytest.raises(CronTickTaken):
        await run_for(storage, cron, claim, thread_id=thread_id)
    assert await storage.thread_get(S, thread_id) is None
    assert await storage.cron_skip_tick(claim) is False
    assert await storage.run_get(S, run["run_id"]) is not None


async def test_concurrent_claims_of_one_tick_create_one_run(storage: Storage) -> None:
    cron = await make_cron(storage)
    claim = tick(cron)
    results = await asyncio.gather(
        *(run_for(storage, cron, claim) for _ in range(12)), return_exceptions=True
    )
    created = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, CronTickTaken)]
    assert len(created) == 1 and len(refused) == 11, results
    assert await storage.thread_count(S) == 1


async def test_a_changed_cron_cannot_be_claimed(storage: Storage) -> None:
    ended = await make_cron(storage, end_time=T0 + timedelta(seconds=1))
    with pytest.raises(CronTickTaken):
        await run_for(storage, ended, tick(ended, now=T0 + timedelta(seconds=2)))
    disabled = await make_cron(storage)
    await storage.cron_update(S, disabled["cron_id"], enabled=False)
    assert await storage.cron_skip_tick(tick(disabled)) is False
    moved = await make_cron(storage)
    await storage.cron_update(S, moved["cron_id"], next_run_date=T0 + timedelta(minutes=1))
    assert await storage.cron_skip_tick(tick(moved)) is False
    deleted = await make_cron(storage)
    await storage.cron_delete(S, deleted["cron_id"])
    assert await storage.cron_skip_tick(tick(deleted)) is False


async def test_a_refused_run_leaves_the_tick_unclaimed(storage: Storage) -> None:
    thread = await make_thread(storage)
    cron = await make_cron(storage, thread_id=thread["thread_id"])
    await make_run(storage, thread["thread_id"])
    claim = tick(cron)
    with pytest.raises(ThreadBusy):
        await run_for(storage, cron, claim, reject_if_inflight=True)
    unchanged = await storage.cron_get(S, cron["cron_id"])
    assert unchanged is not None and unchanged["next_run_date"] == claim.due
    assert await storage.cron_skip_tick(claim) is True
    skipped = await storage.cron_get(S, cron["cron_id"])
    assert skipped is not None and skipped["next_run_date"] == claim.following
    assert await storage.run_search(S, thread["thread_id"]) != []


@pytest.fixture
async def cron_signals(
    backend: Persistence | None, storage: Storage
) -> AsyncIterator[asyncio.Queue[datetime]]:
    """The `next_run_date`s schedulers hear on `CRONS_CHANNEL`: sent on the storage's
    own signals in memory, by the crons table's triggers on Postgres (heard here by a
    listener of the test's own, as each server process has one)."""
    heard: asyncio.Queue[datetime] = asyncio.Queue()

    def hear(payload: str) -> None:
        heard.put_nowait(datetime.fromtimestamp(float(payload), UTC))

    if backend is None:
        assert isinstance(storage, InMemoryStorage)
        storage.signals.subscribe(CRONS_CHANNEL, hear)
        yield heard
        return
    assert backend.pool is not None
    signals = PgSignals(backend.pool)
    signals.subscribe(CRONS_CHANNEL, hear)
    await signals.start()  # LISTENing when it returns
    try:
        yield heard
    finally:
        await signals.stop()


async def test_schedulers_hear_when_a_cron_may_be_due_sooner(
    storage: Storage, cron_signals: asyncio.Queue[datetime]
) -> None:
    heard = cron_signals
    soon = (utcnow() + timedelta(hours=1)).replace(microsecond=0)
    cron = await make_cron(storage, next_run_date=soon)
    assert await asyncio.wait_for(heard.get(), 5) == soon
    later = soon + timedelta(hours=1)
    await storage.cron_update(S, cron["cron_id"], next_run_date=later, metadata={"x": 1})
    await make_cron(storage, next_run_date=soon, enabled=False)
    await asyncio.sleep(0.3)
    assert heard.empty(), "a cron moved later, or created disabled, wakes nobody"
    await storage.cron_update(S, cron["cron_id"], next_run_date=soon)
    assert await asyncio.wait_for(heard.get(), 5) == soon
    await storage.cron_update(S, cron["cron_id"], enabled=False)
    await storage.cron_update(S, cron["cron_id"], enabled=True)
    assert await asyncio.wait_for(heard.get(), 5) == soon


async def test_due_crons_come_as_random_samples(storage: Storage) -> None:
    """Several schedulers reading one burst should mostly pick different crons."""
    due = {(await make_cron(storage, next_run_date=T0))["cron_id"] for _ in range(6)}
    seen: set[str] = set()
    for _ in range(30):
        sample = [c["cron_id"] for c in await storage.cron_due(T0, limit=2)]
        assert len(sample) == 2 and len(set(sample)) == 2 and set(sample) <= due
        seen.update(sample)
    assert seen == due  # six crons, 30 samples of two: all show up (p of failing < 1e-4)

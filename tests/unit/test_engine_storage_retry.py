"""The run engine's storage calls through a database outage, on a storage whose failures
the test scripts (the real outage is tests/e2e/test_runs_outage.py): what no real outage
can be timed to hit reliably, such as a claim committed whose answer never came back."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from robyn_server.config import Settings
from robyn_server.engine.broker import Broker
from robyn_server.engine.engine import RunEngine
from robyn_server.engine.stream_slots import StreamSlots
from robyn_server.storage.memory.storage import InMemoryStorage
from robyn_server.storage.signals import Signals
from robyn_server.storage.types import ANONYMOUS


class Outage(Exception):
    """Stands for psycopg's OperationalError: the database went away."""


class FlakyStorage(InMemoryStorage):
    transient_errors = (Outage,)

    def __init__(self) -> None:
        super().__init__()
        self.lost_claim_answers = 0

    async def run_claim(
        self, thread_id: str, *, worker_id: str | None = None
    ) -> dict[str, Any] | None:
        claimed = await super().run_claim(thread_id, worker_id=worker_id)
        if self.lost_claim_answers:
            # Committed, but the connection died before the answer arrived.
            self.lost_claim_answers -= 1
            raise Outage("server closed the connection unexpectedly")
        return claimed


async def _engine(storage: InMemoryStorage) -> RunEngine:
    return RunEngine(
        Settings(),
        SimpleNamespace(webhooks_config=lambda: None),  # type: ignore[arg-type]
        SimpleNamespace(storage=storage, signals=Signals()),  # type: ignore[arg-type]
        Broker(60),
        StreamSlots(10, flush=lambda: None),
    )


async def _pending_run(storage: InMemoryStorage) -> tuple[str, str]:
    thread_id, run_id = str(uuid.uuid4()), str(uuid.uuid4())
    await storage.thread_create(ANONYMOUS, thread_id=thread_id, metadata={})
    await storage.run_create(
        ANONYMOUS,
        run_id=run_id,
        thread_id=thread_id,
        assistant_id=str(uuid.uuid4()),
        metadata={},
        kwargs={},
        multitask_strategy="enqueue",
    )
    return thread_id, run_id


async def test_a_claim_whose_answer_was_lost_still_gets_its_run() -> None:
    storage = FlakyStorage()
    engine = await _engine(storage)
    thread_id, run_id = await _pending_run(storage)
    storage.lost_claim_answers = 1

    claimed = await engine._claim(thread_id)

    # Without the reclaim, the retry would find the run `running` (claimed by the lost
    # attempt), claim nothing, and the thread would stay busy for good.
    assert claimed is not None and claimed["run_id"] == run_id
    assert (await storage.run_get(ANONYMOUS, run_id))["status"] == "running"


async def test_retry_storage_repeats_only_what_the_outage_broke() -> None:
    engine = await _engine(FlakyStorage())
    calls: list[int] = []

    async def back_after_two_failures() -> str:
        calls.append(1)
        if len(calls) <= 2:
            raise Outage("connection refused")
        return "done"

    assert await engine.retry_storage("testing", back_after_two_failures) == "done"
    assert len(calls) == 3

    async def bad_call() -> None:
        calls.append(1)
        raise ValueError("not an outage")

    calls.clear()
    with pytest.raises(ValueError):
        await engine.retry_storage("testing", bad_call)
    assert len(calls) == 1

"""Crons firing on a real server, on both backends: what each tick's run is and does.

No test waits for a real minute: each cron is given a six-field schedule (croniter's
sixth field is the second) naming one exact second a moment from now, so it fires once
then and next a year later.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from langgraph_sdk import get_client
from langgraph_sdk.errors import NotFoundError

from tests.support.graphs import human, slow
from tests.support.runs import eventually, run_reaches
from tests.support.server import BACKENDS, ServerProcess, serve_backend
from tests.support.webhooks import Receiver

LEAD_SECONDS = 2


def once_at(moment: datetime) -> str:
    """A schedule that fires at `moment` (UTC, to the second), then a year later."""
    return f"{moment.minute} {moment.hour} {moment.day} {moment.month} * {moment.second}"


def soon() -> datetime:
    return (datetime.now(UTC) + timedelta(seconds=LEAD_SECONDS + 1)).replace(microsecond=0)


@pytest.fixture(scope="module", params=BACKENDS)
def cron_server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    yield from serve_backend(request, env={"WEBHOOK_ALLOW_PRIVATE": "true"})


@pytest.fixture
def cron_client(cron_server: ServerProcess):
    return get_client(url=cron_server.url, api_key=None)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    await receiver.start()
    yield receiver
    await receiver.stop()


async def threads_of(client: Any, cron_id: str) -> list[dict[str, Any]]:
    return await client.threads.search(metadata={"cron_id": cron_id}, limit=100)


async def test_a_stateless_tick_runs_once_on_a_new_thread_it_keeps(cron_client, tag) -> None:
    moment = soon()
    cron = await cron_client.crons.create(
        "echo_config",
        schedule=once_at(moment),
        input={},
        metadata={"tag": tag, "from": "cron"},
        config={"configurable": {"setting": 1}},
        on_run_completed="keep",
    )
    threads = await eventually(lambda: threads_of(cron_client, cron["cron_id"]), within=15)
    assert len(threads) == 1
    thread = threads[0]
    assert thread["metadata"]["cron_id"] == cron["cron_id"]
    assert thread["metadata"]["tag"] == tag
    runs = await cron_client.runs.list(thread["thread_id"])
    assert len(runs) == 1
    run = await run_reaches(cron_client, thread["thread_id"], runs[0]["run_id"])
    assert run["status"] == "success"
    assert run["metadata"]["from"] == "cron"
    configurable = run["kwargs"]["config"]["configurable"]
    assert configurable["cron_id"] == cron["cron_id"]
    assert configurable["setting"] == 1
    created = datetime.fromisoformat(run["created_at"])
    assert moment <= created < moment + timedelta(seconds=1), "created within 1 s of its time"
    state = await cron_client.threads.get_state(thread["thread_id"])
    assert state["values"]["conf"]["cron_id"] == cron["cron_id"]

    after = await cron_client.crons.search(metadata={"tag": tag})
    assert datetime.fromisoformat(after[0]["next_run_date"]) == moment.replace(year=moment.year + 1)
    await asyncio.sleep(1.5)
    assert len(await threads_of(cron_client, cron["cron_id"])) == 1, "fired exactly once"


async def test_a_stateless_tick_deletes_its_thread_by_default(cron_client, receiver, tag) -> None:
    cron = await cron_client.crons.create(
        "agent",
        schedule=once_at(soon()),
        input=human("hi"),
        metadata={"tag": tag},
        webhook=f"{receiver.url}/done",
    )
    assert cron["on_run_completed"] == "delete"
    _, _, posted = await receiver.next()
    assert posted["status"] == "success"
    assert posted["metadata"]["tag"] == tag

    async def thread_gone() -> bool:
        try:
            await cron_client.threads.get(posted["thread_id"])
        except NotFoundError:
            return True
        return False

    await eventually(thread_gone, within=10)


async def test_a_thread_cron_runs_on_its_thread(cron_client, tag) -> None:
    thread = await cron_client.threads.create(metadata={"tag": tag})
    cron = await cron_client.crons.create_for_thread(
        thread["thread_id"], "agent", schedule=once_at(soon()), input=human("hi from cron")
    )

    async def runs() -> list[dict[str, Any]]:
        return await cron_client.runs.list(thread["thread_id"])

    (run,) = await eventually(runs, within=15)
    run = await run_reaches(cron_client, thread["thread_id"], run["run_id"])
    assert run["status"] == "success"
    assert run["kwargs"]["config"]["configurable"]["cron_id"] == cron["cron_id"]
    state = await cron_client.threads.get_state(thread["thread_id"])
    assert state["values"]["messages"][0]["content"] == "hi from cron"


async def test_a_refused_tick_is_skipped(cron_client, tag) -> None:
    """`reject` on a busy thread: that tick creates no run, and is not retried."""
    thread = await cron_client.threads.create(metadata={"tag": tag})
    busy = await cron_client.runs.create(
        thread["thread_id"], "slow", input=human("x"), config=slow(LEAD_SECONDS + 4)
    )
    moment = soon()
    cron = await cron_client.crons.create_for_thread(
        thread["thread_id"], "agent", schedule=once_at(moment), multitask_strategy="reject"
    )

    async def advanced() -> bool:
        current = await cron_client.crons.search(thread_id=thread["thread_id"])
        return datetime.fromisoformat(current[0]["next_run_date"]) > moment

    await eventually(advanced, within=15)
    runs = await cron_client.runs.list(thread["thread_id"])
    assert [r["run_id"] for r in runs] == [busy["run_id"]]
    await cron_client.crons.delete(cron["cron_id"])


async def test_disabled_and_ended_crons_never_fire(cron_client, tag) -> None:
    moment = soon()
    disabled = await cron_client.crons.create(
        "echo_config", schedule=once_at(moment), input={}, enabled=False, metadata={"tag": tag}
    )
    ended = await cron_client.crons.create(
        "echo_config",
        schedule=once_at(moment),
        input={},
        end_time=datetime.now(UTC),
        metadata={"tag": tag},
    )
    await asyncio.sleep((moment - datetime.now(UTC)).total_seconds() + 1.5)
    current = {c["cron_id"]: c for c in await cron_client.crons.search(metadata={"tag": tag})}
    for cron in (disabled, ended):
        assert await threads_of(cron_client, cron["cron_id"]) == []
        assert current[cron["cron_id"]]["next_run_date"] == cron["next_run_date"]


async def test_enabling_a_cron_wakes_the_scheduler(cron_client, tag) -> None:
    """A cron enabled (or re-scheduled) is picked up at once, not after a long sleep."""
    moment = soon()
    cron = await cron_client.crons.create(
        "echo_config",
        schedule="0 0 1 1 *",
        input={},
        enabled=False,
        on_run_completed="keep",
        metadata={"tag": tag},
    )
    await cron_client.crons.update(cron["cron_id"], schedule=once_at(moment), enabled=True)
    threads = await eventually(lambda: threads_of(cron_client, cron["cron_id"]), within=15)
    runs = await cron_client.runs.list(threads[0]["thread_id"])
    created = datetime.fromisoformat(runs[0]["created_at"])
    assert moment <= created < moment + timedelta(seconds=1)


async def test_a_cron_with_a_context_fires_with_it(cron_client, tag) -> None:
    cron = await cron_client.crons.create(
        "echo_config",
        schedule=once_at(soon()),
        input={},
        context={"model": "from-context"},
        on_run_completed="keep",
        metadata={"tag": tag},
    )
    threads = await eventually(lambda: threads_of(cron_client, cron["cron_id"]), within=15)
    runs = await cron_client.runs.list(threads[0]["thread_id"])
    run = await run_reaches(cron_client, threads[0]["thread_id"], runs[0]["run_id"])
    assert run["status"] == "success"
    state = await cron_client.threads.get_state(threads[0]["thread_id"])
    assert state["values"]["context"]["model"] == "from-context"
    assert state["values"]["conf"]["cron_id"] == cron["cron_id"]

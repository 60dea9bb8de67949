"""Joining a run's event stream (GET /threads/{t}/runs/{r}/stream), resumable runs and
Last-Event-ID replay, several watchers of one run, and the thread stream
(GET /threads/{t}/stream)."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import uuid
from collections.abc import Callable
from contextlib import aclosing
from typing import Any

from tests.support.graphs import human, slow
from tests.support.runs import event_key, run_id_of
from tests.support.sse import parse_sse, read_sse

RESUMABLE_BODY = {
    "assistant_id": "agent",
    "input": human("hi"),
    "stream_mode": ["values", "messages-tuple"],
    "stream_resumable": True,
}


async def resumable_run(client, http, tag: str) -> tuple[str, str, list[dict[str, Any]]]:
    """A finished resumable run on a new thread, with the events its creator received."""
    thread = await client.threads.create(metadata={"tag": tag})
    thread_id = thread["thread_id"]
    response, events = await read_sse(
        http, "POST", f"/threads/{thread_id}/runs/stream", json=RESUMABLE_BODY
    )
    assert response.status_code == 200
    return thread_id, run_id_of(response.headers["content-location"]), events


async def collect(parts: Any, until: Callable[[Any], bool]) -> list[Any]:
    """Parts of a stream up to and including the first one `until` accepts; then the
    stream is closed (thread streams never end by themselves). The SDK's
    `threads.join_stream` is a coroutine that returns the stream."""
    if inspect.isawaitable(parts):
        parts = await parts
    seen = []
    async with aclosing(parts) as stream:
        async for part in stream:
            seen.append(part)
            if until(part):
                return seen
    raise AssertionError(f"stream ended before the expected part; got {seen}")


def run_done(run_id: str) -> Callable[[Any], bool]:
    def match(part) -> bool:
        return part.event == "metadata" and part.data == {"status": "run_done", "run_id": run_id}

    return match


# -- resumable runs ---------------------------------------------------------------------------


async def test_resumable_events_have_strictly_increasing_ids(client, http, tag) -> None:
    _, run_id, events = await resumable_run(client, http, tag)
    assert events[0] == {
        "event": "metadata",
        "data": {"run_id": run_id, "attempt": 1},
        "id": events[0]["id"],
    }
    assert {e["event"] for e in events} == {"metadata", "values", "messages"}
    keys = [event_key(e["id"]) for e in events]
    assert all(a < b for a, b in itertools.pairwise(keys))


async def test_last_event_id_replays_what_came_after_it(client, http, tag) -> None:
    thread_id, run_id, events = await resumable_run(client, http, tag)
    url = f"/threads/{thread_id}/runs/{run_id}/stream"

    response, replayed = await read_sse(
        http, "GET", url, headers={"Last-Event-ID": events[1]["id"]}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["location"] == url
    assert replayed == events[2:]

    _, everything = await read_sse(http, "GET", url, headers={"Last-Event-ID": "-"})
    assert everything == events

    # The SDK's join_stream with last_event_id sends the same header.
    parts = [
        p async for p in client.runs.join_stream(thread_id, run_id, last_event_id=events[-2]["id"])
    ]
    assert [(p.event, p.data, p.id) for p in parts] == [
        (events[-1]["event"], events[-1]["data"], events[-1]["id"])
    ]


async def test_joining_a_finished_run_without_last_event_id_is_empty(client, http, tag) -> None:
    thread_id, run_id, _ = await resumable_run(client, http, tag)
    response = await http.get(f"/threads/{thread_id}/runs/{run_id}/stream")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.content == b""
    assert [p async for p in client.runs.join_stream(thread_id, run_id)] == []


async def test_join_stream_mode_filter(client, http, tag) -> None:
    thread_id, run_id, events = await resumable_run(client, http, tag)
    url = f"/threads/{thread_id}/runs/{run_id}/stream"
    everything = {"Last-Event-ID": "-"}
    _, values = await read_sse(
        http, "GET", url, headers=everything, params={"stream_mode": "values"}
    )
    assert values == [e for e in events if e["event"] == "values"]
    assert len(values) == 2
    _, tuples = await read_sse(
        http, "GET", url, headers=everything, params={"stream_mode": "messages-tuple"}
    )
    assert tuples == [e for e in events if e["event"] == "messages"]
    assert tuples
    _, both = await read_sse(
        http,
        "GET",
        url,
        headers=everything,
        params=[("stream_mode", "values"), ("stream_mode", "messages")],
    )
    assert both == [e for e in events if e["event"] != "metadata"]


async def test_joining_an_unknown_run_is_one_error_event(client, http, tag) -> None:
    thread = await client.threads.create(metadata={"tag": tag})
    response, events = await read_sse(
        http, "GET", f"/threads/{thread['thread_id']}/runs/{uuid.uuid4()}/stream"
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert events == [
        {
            "event": "error",
            "data": {"error": "HTTPException", "message": "404: Run not found"},
            "id": None,
        }
    ]


# -- joining live runs ----------------------------------------------------------------------


async def test_join_of_a_queued_background_run_gets_all_its_events(client, tag) -> None:
    thread = await client.threads.create(metadata={"tag": tag})
    thread_id = thread["thread_id"]
    await client.runs.create(thread_id, "slow", input=human("first"), config=slow(0.5))
    run = await client.runs.create(
        thread_id,
        "slow",
        input=human("second"),
        config=slow(0.1),
        stream_mode=["values", "updates"],
    )
    parts = [p async for p in client.runs.join_stream(thread_id, run["run_id"])]
    assert [p.event for p in parts] == ["metadata", "values", "updates", "values"]
    assert parts[0].data == {"run_id": run["run_id"], "attempt": 1}
    assert parts[2].data["wait"]["messages"][0]["content"] == "slept 0.1s"
    assert [m["content"] for m in parts[3].data["messages"]] == [
        "first",
        "slept 0.5s",
        "second",
        "slept 0.1s",
    ]
    assert all(p.id is None for p in parts)  # not resumable: no ids
    # The run had ended (with its status written) before the stream closed.
    assert (await client.runs.get(thread_id, run["run_id"]))["status"] == "success"


async def test_every_watcher_gets_every_event_in_order(client, http, tag) -> None:
    thread = await client.threads.create(metadata={"tag": tag})
    thread_id = thread["thread_id"]
    watched: dict[str, str] = {}
    run_known = asyncio.Event()
    thread_stream = asyncio.create_task(
        collect(
            client.threads.join_stream(thread_id),
            until=lambda p: "run_id" in watched and run_done(watched["run_id"])(p),
        )
    )
    # Every watcher attaches while the blocker runs, before the watched run starts.
    blocker = await client.runs.create(thread_id, "slow", input=human("first"), config=slow(1))

    async def creator() -> list[dict[str, Any]]:
        async with http.stream(
            "POST",
            f"/threads/{thread_id}/runs/stream",
            json={
                "assistant_id": "slow",
                "input": human("second"),
                "config": slow(0.1),
                "stream_mode": ["values", "updates", "debug"],
            },
        ) as response:
            watched["run_id"] = run_id_of(response.headers["content-location"])
            run_known.set()
            return parse_sse(await response.aread())

    created = asyncio.create_task(creator())
    await run_known.wait()
    joiner = [p async for p in client.runs.join_stream(thread_id, watched["run_id"])]
    from_creator = await created
    from_thread = await asyncio.wait_for(thread_stream, 20)

    expected = [(e["event"], e["data"]) for e in from_creator]
    names = [name for name, _ in expected]
    assert names[0] == "metadata"
    assert {"values", "updates", "debug"} <= set(names)
    assert [(p.event, p.data) for p in joiner] == expected
    start = next(
        i
        for i, p in enumerate(from_thread)
        if p.event == "metadata" and p.data.get("run_id") == watched["run_id"]
    )
    assert [(p.event, p.data) for p in from_thread[start:-1]] == expected
    # The thread stream saw the blocker end just before, and has ids throughout.
    assert run_done(blocker["run_id"])(from_thread[start - 1])
    keys = [event_key(p.id) for p in from_thread]
    assert all(a < b for a, b in itertools.pairwise(keys))


# -- the thread stream ------------------------------------------------------------------------


async def test_thread_stream_lifecycle_shows_only_run_starts_and_ends(client, tag) -> None:
    thread = await client.threads.create(metadata={"tag": tag})
    thread_id = thread["thread_id"]
    ends: list[str] = []

    def second_run_done(part) -> bool:
        return len(ends) == 2 and run_done(ends[1])(part)

    # The SDK sends stream_mode=lifecycle; the reference server reads stream_modes.
    by_sdk = asyncio.create_task(
        collect(client.threads.join_stream(thread_id, stream_mode="lifecycle"), second_run_done)
    )
    by_reference_name = asyncio.create_task(
        collect(
            client.threads.join_stream(
                thread_id, stream_mode=[], params={"stream_modes": "lifecycle"}
            ),
            second_run_done,
        )
    )
    # The runs wait a little, so both watchers are attached when the first starts (a
    # delayed run queues by its due time, so both are delayed to keep their order).
    for text, after in (("one", 0.5), ("two", 0.6)):
        run = await client.runs.create(thread_id, "agent", input=human(text), after_seconds=after)
        ends.append(run["run_id"])
    expected = []
    for run_id in ends:
        expected += [
            ("metadata", {"run_id": run_id, "attempt": 1}),
            ("metadata", {"status": "run_done", "run_id": run_id}),
        ]
    for task in (by_sdk, by_reference_name):
        parts = await asyncio.wait_for(task, 20)
        assert [(p.event, p.data) for p in parts] == expected


async def test_thread_stream_run_modes_is_the_default(client, tag) -> None:
    thread = await client.threads.create(metadata={"tag": tag})
    thread_id = thread["thread_id"]
    done: list[str] = []

    def finished(part) -> bool:
        return bool(done) and run_done(done[0])(part)

    default = asyncio.create_task(
        collect(client.threads.join_stream(thread_id, stream_mode=[]), finished)
    )
    named = asyncio.create_task(
        collect(client.threads.join_stream(thread_id, stream_mode="run_modes"), finished)
    )
    run = await client.runs.create(
        thread_id, "agent", input=human("hi"), stream_mode=["values", "updates"], after_seconds=0.5
    )
    done.append(run["run_id"])
    for task in (default, named):
        parts = await asyncio.wait_for(task, 20)
        assert [p.event for p in parts] == ["metadata", "values", "updates", "values", "metadata"]
        assert parts[0].data == {"run_id": run["run_id"], "attempt": 1}
        assert parts[2].data["chat"]["count"] == 1
        assert all(p.id for p in parts)


async def test_thread_stream_refuses_unknown_modes_and_missing_threads(client, http) -> None:
    thread = await client.threads.create()
    bad = await http.get(f"/threads/{thread['thread_id']}/stream", params={"stream_mode": "values"})
    assert bad.status_code == 422
    missing = await http.get(f"/threads/{uuid.uuid4()}/stream")
    assert missing.status_code == 404


async def test_thread_stream_replays_resumable_runs_after_last_event_id(client, http, tag) -> None:
    thread_id, first_run, first_events = await resumable_run(client, http, tag)
    response, second_events = await read_sse(
        http, "POST", f"/threads/{thread_id}/runs/stream", json=RESUMABLE_BODY
    )
    second_run = run_id_of(response.headers["content-location"])

    replay = await collect(
        client.threads.join_stream(thread_id, last_event_id="-"), until=run_done(second_run)
    )
    events = [(p.event, p.data) for p in replay]
    done_first = ("metadata", {"status": "run_done", "run_id": first_run})
    assert events == [
        *[(e["event"], e["data"]) for e in first_events],
        done_first,
        *[(e["event"], e["data"]) for e in second_events],
        ("metadata", {"status": "run_done", "run_id": second_run}),
    ]
    # From an id on: only what came after it.
    after = await collect(
        client.threads.join_stream(thread_id, last_event_id=second_events[-2]["id"]),
        until=run_done(second_run),
    )
    assert [(p.event, p.data) for p in after] == [
        (second_events[-1]["event"], second_events[-1]["data"]),
        ("metadata", {"status": "run_done", "run_id": second_run}),
    ]

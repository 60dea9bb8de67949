"""A graph that fails: the `error` event, the run's and the thread's status, and a
thread that stays usable afterwards."""

from __future__ import annotations

from tests.support.graphs import HI, REPLY
from tests.support.runs import names, new_thread, of, stream
from tests.support.sse import parse_sse, raw_stream

KABOOM = {"error": "ValueError", "message": "kaboom"}


async def test_error_event_bytes_and_statuses(client, http, tag):
    thread_id = await new_thread(client, tag)
    response, raw = await raw_stream(
        http,
        f"/threads/{thread_id}/runs/stream",
        {"assistant_id": "errgraph", "input": {}, "stream_mode": ["values"]},
    )
    run_id = response.headers["content-location"].rsplit("/", 1)[1]
    run = await client.runs.get(thread_id, run_id)
    assert run["status"] == "error"
    assert response.status_code == 200
    assert raw.endswith(b'event: error\r\ndata: {"error":"ValueError","message":"kaboom"}\r\n\r\n')
    # As captured from the reference: an empty input streams no values before the error.
    assert [b["event"] for b in parse_sse(raw)] == ["metadata", "error"]

    thread = await client.threads.get(thread_id)
    assert thread["status"] == "error"
    assert thread["error"] == KABOOM


async def test_sdk_sees_the_error_event_last(client, tag):
    thread_id = await new_thread(client, tag)
    events = await stream(client, thread_id, "errgraph", input=HI, stream_mode="updates")
    assert names(events) == ["metadata", "error"]
    assert of(events, "error") == [KABOOM]


async def test_wait_answers_200_with_the_error(client, http, tag):
    thread_id = await new_thread(client, tag)
    response = await http.post(
        f"/threads/{thread_id}/runs/wait", json={"assistant_id": "errgraph", "input": {}}
    )
    assert response.status_code == 200
    assert response.json() == {"__error__": KABOOM}


async def test_thread_is_usable_after_a_failed_run(client, tag):
    thread_id = await new_thread(client, tag)
    failed = await stream(
        client,
        thread_id,
        "stream_loop",
        input={"until": 3, "fail_at": 2},
        stream_mode=["custom", "updates"],
    )
    assert names(failed) == ["metadata", "custom", "updates", "custom", "error"]
    assert of(failed, "error") == [{"error": "ValueError", "message": "tick 2 failed"}]
    thread = await client.threads.get(thread_id)
    assert thread["status"] == "error"
    assert thread["error"] == {"error": "ValueError", "message": "tick 2 failed"}
    # The failed step wrote nothing: the thread keeps what tick 1 left.
    assert thread["values"]["count"] == 1

    again = await stream(client, thread_id, "stream_loop", input={"fail_at": 0})
    final = of(again, "values")[-1]
    assert final["count"] == 3
    thread = await client.threads.get(thread_id)
    assert (thread["status"], thread["error"]) == ("idle", None)
    assert thread["values"] == final
    runs = await client.runs.list(thread_id)
    assert [r["status"] for r in runs] == ["success", "error"]


async def test_another_graph_can_run_after_an_error(client, tag):
    thread_id = await new_thread(client, tag)
    await stream(client, thread_id, "errgraph", input=HI)
    assert (await client.threads.get(thread_id))["status"] == "error"
    events = await stream(client, thread_id, "agent", input=HI)
    assert of(events, "values")[-1]["messages"][-1]["content"] == REPLY
    thread = await client.threads.get(thread_id)
    assert (thread["status"], thread["error"]) == ("idle", None)


async def test_recursion_limit(client, tag):
    thread_id = await new_thread(client, tag)
    events = await stream(
        client,
        thread_id,
        "stream_loop",
        input={"until": 100},
        config={"recursion_limit": 3},
        stream_mode="custom",
    )
    assert names(events)[-1] == "error"
    (error,) = of(events, "error")
    assert error["error"] == "GraphRecursionError"
    assert "Recursion limit of 3 reached" in error["message"]
    assert len(of(events, "custom")) == 3
    run = await client.runs.get(thread_id, events[0][1]["run_id"])
    assert run["status"] == "error"
    assert run["kwargs"]["config"]["recursion_limit"] == 3
    thread = await client.threads.get(thread_id)
    assert thread["status"] == "error"
    assert thread["error"]["error"] == "GraphRecursionError"

"""Cancelling runs (one, or many at once), joining them (/join, /wait), and cancelling
them when their client goes away (on_disconnect, cancel_on_disconnect).

A server of this module's own: `POST /runs/cancel` by status reaches every run on the
server, and a short SSE heartbeat makes keep-alive writes and disconnects quick to see.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import httpx
import orjson
import pytest

from tests.support.graphs import human, slow
from tests.support.runs import eventually, run_id_of, run_reaches, thread_reaches
from tests.support.server import BACKENDS, ServerProcess, serve_backend

HEARTBEAT = 0.5
QUIET_SECONDS = 6 * HEARTBEAT
NO_RUNS_TO_CANCEL = (
    "No matching runs to cancel. Please verify the thread ID and run IDs are correct, and the "
    "runs haven't been deleted or completed."
)
RUN_NOT_FOUND = {"__error__": {"error": "HTTPException", "message": "404: Run not found"}}


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    # Overrides the session server for this module; conftest's `client` and `http`
    # then talk to this one.
    yield from serve_backend(request, env={"SSE_HEARTBEAT_SECONDS": str(HEARTBEAT)})


async def running_slow_run(client, delay: float = 10) -> tuple[str, str]:
    thread = await client.threads.create()
    run = await client.runs.create(
        thread["thread_id"], "slow", input=human("x"), config=slow(delay)
    )
    await run_reaches(client, thread["thread_id"], run["run_id"], ("running",))

    async def inside_its_node() -> bool:
        # `running` is set at the claim, before the graph has saved its input: a cancel
        # landing in between would find no values yet. Wait for the input's checkpoint.
        state = await client.threads.get_state(thread["thread_id"])
        return state["next"] == ["wait"]

    await eventually(inside_its_node)
    return thread["thread_id"], run["run_id"]


# -- cancel one run ---------------------------------------------------------------------------


async def test_cancel_without_wait_answers_202_and_interrupts_the_run(client, http) -> None:
    thread_id, run_id = await running_slow_run(client)
    response = await http.post(f"/threads/{thread_id}/runs/{run_id}/cancel", params={"wait": 0})
    assert response.status_code == 202
    assert response.content == b""
    assert (await run_reaches(client, thread_id, run_id))["status"] == "interrupted"
    # Stopped inside its node, which is still to run: the thread is interrupted, with no
    # interrupt to answer, and takes new runs.
    thread = await thread_reaches(client, thread_id, "interrupted")
    assert thread["interrupts"] == {}
    assert thread["error"] is None
    assert (await client.threads.get_state(thread_id))["next"] == ["wait"]
    again = await client.runs.wait(thread_id, "slow", input=human("y"), config=slow(0))
    assert [m["content"] for m in again["messages"]] == ["x", "y", "slept 0s"]
    await thread_reaches(client, thread_id, "idle")


async def test_cancel_with_wait_answers_once_the_run_stopped(client, http) -> None:
    thread_id, run_id = await running_slow_run(client)
    response = await http.post(f"/threads/{thread_id}/runs/{run_id}/cancel", params={"wait": "1"})
    assert response.status_code == 200
    assert response.headers["location"] == f"/threads/{thread_id}/runs/{run_id}/join"
    body = orjson.loads(response.content)
    assert [m["content"] for m in body["messages"]] == ["x"]
    assert (await client.runs.get(thread_id, run_id))["status"] == "interrupted"

    # The SDK's cancel(wait=True) gets the same answer.
    thread_id, run_id = await running_slow_run(client)
    answer = await client.runs.cancel(thread_id, run_id, wait=True)
    assert [m["content"] for m in answer["messages"]] == ["x"]
    assert (await client.runs.get(thread_id, run_id))["status"] == "interrupted"


async def test_cancel_with_rollback_deletes_the_run_and_its_checkpoints(client, http) -> None:
    thread = await client.threads.create()
    thread_id = thread["thread_id"]
    await client.runs.wait(thread_id, "slow", input=human("kept"), config=slow(0))
    run = await client.runs.create(thread_id, "slow", input=human("dropped"), config=slow(10))
    await run_reaches(client, thread_id, run["run_id"], ("running",))
    await client.runs.cancel(thread_id, run["run_id"], wait=True, action="rollback")
    gone = await http.get(f"/threads/{thread_id}/runs/{run['run_id']}")
    assert gone.status_code == 404
    thread = await thread_reaches(client, thread_id, "idle")
    assert [m["content"] for m in thread["values"]["messages"]] == ["kept", "slept 0s"]
    history = await client.threads.get_history(thread_id, limit=50)
    assert run["run_id"] not in {state["metadata"].get("run_id") for state in history}


async def test_cancelling_a_queued_run_means_it_never_runs(client) -> None:
    thread_id, first = await running_slow_run(client, delay=0.6)
    queued = await client.runs.create(thread_id, "slow", input=human("never"), config=slow(0))
    await client.runs.cancel(thread_id, queued["run_id"])
    assert (await client.runs.get(thread_id, queued["run_id"]))["status"] == "interrupted"
    assert (await run_reaches(client, thread_id, first))["status"] == "success"
    thread = await thread_reaches(client, thread_id, "idle")
    assert [m["content"] for m in thread["values"]["messages"]] == ["x", "slept 0.6s"]


async def test_cancel_of_a_finished_or_unknown_run_is_404(client, http) -> None:
    thread = await client.threads.create()
    thread_id = thread["thread_id"]
    run = await client.runs.create(thread_id, "agent", input=human("hi"))
    await run_reaches(client, thread_id, run["run_id"])
    for run_id in (run["run_id"], str(uuid.uuid4())):
        response = await http.post(f"/threads/{thread_id}/runs/{run_id}/cancel")
        assert response.status_code == 404
        assert response.json() == {"detail": NO_RUNS_TO_CANCEL}
    assert (await client.runs.get(thread_id, run["run_id"]))["status"] == "success"


async def _is_gone(http, thread_id: str, run_id: str) -> bool:
    return (await http.get(f"/threads/{thread_id}/runs/{run_id}")).status_code == 404


# -- cancel many -------------------------------------------------------------------------------


async def test_cancel_many_by_status(client, http) -> None:
    thread_id, running = await running_slow_run(client)
    queued = await client.runs.create(thread_id, "slow", input=human("q"), config=slow(0))

    response = await http.post("/runs/cancel", json={"status": "pending"})
    assert response.status_code == 204
    assert (await client.runs.get(thread_id, queued["run_id"]))["status"] == "interrupted"
    assert (await client.runs.get(thread_id, running))["status"] == "running"

    await client.runs.cancel_many(status="all")
    assert (await run_reaches(client, thread_id, running))["status"] == "interrupted"
    await thread_reaches(client, thread_id, "interrupted")

    nothing = await http.post("/runs/cancel", json={"status": "all"})
    assert nothing.status_code == 404
    assert nothing.json() == {"detail": "No runs found to cancel."}


async def test_cancel_many_by_thread_and_run_ids(client, http) -> None:
    thread_id, running = await running_slow_run(client)
    other_thread, other = await running_slow_run(client)
    response = await http.post(
        "/runs/cancel",
        params={"action": "interrupt"},
        json={"thread_id": thread_id, "run_ids": [running]},
    )
    assert response.status_code == 204
    assert (await run_reaches(client, thread_id, running))["status"] == "interrupted"
    assert (await client.runs.get(other_thread, other))["status"] == "running"

    await client.runs.cancel_many(thread_id=other_thread, run_ids=[other], action="rollback")
    await eventually(lambda: _is_gone(http, other_thread, other))
    await thread_reaches(client, other_thread, "idle")

    again = await http.post("/runs/cancel", json={"thread_id": thread_id, "run_ids": [running]})
    assert again.status_code == 404
    assert again.json() == {"detail": "No runs found to cancel."}


async def test_cancel_many_refuses_both_forms_at_once(client, http) -> None:
    thread_id, running = await running_slow_run(client)
    response = await http.post(
        "/runs/cancel", json={"status": "all", "thread_id": thread_id, "run_ids": [running]}
    )
    assert response.status_code == 422
    assert (await client.runs.get(thread_id, running))["status"] == "running"
    await client.runs.cancel(thread_id, running, wait=True)


# -- join and wait -----------------------------------------------------------------------------


async def test_join_returns_the_final_values_of_a_running_and_a_finished_run(client, http) -> None:
    thread_id, run_id = await running_slow_run(client, delay=0.8)
    joined = await client.runs.join(thread_id, run_id)
    assert [m["content"] for m in joined["messages"]] == ["x", "slept 0.8s"]
    assert (await client.runs.get(thread_id, run_id))["status"] == "success"

    again = await http.get(f"/threads/{thread_id}/runs/{run_id}/join", timeout=2)
    assert again.status_code == 200
    assert again.headers["location"] == f"/threads/{thread_id}/runs/{run_id}/join"
    assert again.headers["content-location"] == f"/threads/{thread_id}/runs/{run_id}"
    assert orjson.loads(again.content) == joined


async def test_join_of_an_unknown_run_is_an_error_body_with_200(client, http) -> None:
    thread = await client.threads.create()
    response = await http.get(f"/threads/{thread['thread_id']}/runs/{uuid.uuid4()}/join")
    assert response.status_code == 200
    assert response.json() == RUN_NOT_FOUND


async def test_wait_writes_newlines_while_the_run_executes(client, http) -> None:
    thread = await client.threads.create()
    thread_id = thread["thread_id"]
    response = await http.post(
        f"/threads/{thread_id}/runs/wait",
        json={"assistant_id": "slow", "input": human("x"), "config": slow(1.6)},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    run_id = response.headers["content-location"].rsplit("/", 1)[1]
    assert response.headers["location"] == f"/threads/{thread_id}/runs/{run_id}/join"
    assert response.content.startswith(b"\n")  # keep-alive writes before the answer
    body = orjson.loads(response.content)
    assert [m["content"] for m in body["messages"]] == ["x", "slept 1.6s"]
    # The SDK reads such a body as plain JSON.
    waited = await client.runs.wait(thread_id, "slow", input=human("y"), config=slow(1.2))
    assert [m["content"] for m in waited["messages"]][-2:] == ["y", "slept 1.2s"]


async def test_wait_reports_a_failed_run_as_an_error_body(client, http) -> None:
    thread = await client.threads.create()
    thread_id = thread["thread_id"]
    response = await http.post(
        f"/threads/{thread_id}/runs/wait", json={"assistant_id": "errgraph", "input": {}}
    )
    assert response.status_code == 200
    assert orjson.loads(response.content) == {
        "__error__": {"error": "ValueError", "message": "kaboom"}
    }
    with pytest.raises(Exception, match="ValueError: kaboom"):
        await client.runs.wait(thread_id, "errgraph", input={})
    errored = await client.threads.get(thread_id)
    assert errored["status"] == "error"
    assert errored["error"] == {"error": "ValueError", "message": "kaboom"}
    runs = await client.runs.list(thread_id)
    assert [r["status"] for r in runs] == ["error", "error"]


async def test_wait_on_an_interrupting_graph_returns_the_interrupt(client) -> None:
    thread = await client.threads.create()
    thread_id = thread["thread_id"]
    waited = await client.runs.wait(thread_id, "hitl", input=human("go"))
    assert [m["content"] for m in waited["messages"]] == ["go"]
    [interrupt] = waited["__interrupt__"]
    assert interrupt["value"] == {"question": "approve?"}
    assert interrupt["id"]
    assert (await client.threads.get(thread_id))["status"] == "interrupted"
    resumed = await client.runs.wait(thread_id, "hitl", command={"resume": "yes"})
    assert "__interrupt__" not in resumed
    assert resumed["messages"][-1]["content"] == "you said: yes"


async def test_join_long_after_the_run_answers_from_the_stored_state(client, http) -> None:
    """The engine forgets a finished run's events after a few seconds; /join must still
    answer the same, from the thread."""
    threads = {}
    for assistant, body in (("agent", human("hi")), ("hitl", human("go")), ("errgraph", {})):
        thread = await client.threads.create()
        run = await client.runs.create(thread["thread_id"], assistant, input=body)
        threads[assistant] = (thread["thread_id"], run["run_id"])
    fresh = {}
    for assistant, (thread_id, run_id) in threads.items():
        await run_reaches(client, thread_id, run_id)
        fresh[assistant] = (await http.get(f"/threads/{thread_id}/runs/{run_id}/join")).json()
    await asyncio.sleep(6)
    for assistant, (thread_id, run_id) in threads.items():
        late = await http.get(f"/threads/{thread_id}/runs/{run_id}/join", timeout=2)
        assert late.json() == fresh[assistant], assistant
    assert fresh["errgraph"] == {"__error__": {"error": "ValueError", "message": "kaboom"}}
    assert fresh["hitl"]["__interrupt__"][0]["value"] == {"question": "approve?"}
    assert fresh["agent"]["messages"][-1]["content"] == "hello there friend"


# -- cancel when the client goes away ---------------------------------------------------------


async def _read_first_chunk_and_leave(http, method: str, url: str, **kwargs) -> httpx.Response:
    async with http.stream(method, url, **kwargs) as response:
        assert response.status_code == 200
        async for chunk in response.aiter_bytes():
            response.first_chunk = chunk  # type: ignore[attr-defined]
            return response
    raise AssertionError("the stream ended before its first chunk")


async def status_after_quiet_time(client, thread_id: str, run_id: str | None = None) -> str:
    """The run's status after a few heartbeats in which nothing else talks to the server:
    the server must notice a client that left by itself, not when the next request comes."""
    await asyncio.sleep(QUIET_SECONDS)
    if run_id is None:
        [run] = await client.runs.list(thread_id)
        return run["status"]
    return (await client.runs.get(thread_id, run_id))["status"]


async def test_on_disconnect_cancel_interrupts_the_run_when_the_client_leaves(client, http) -> None:
    thread = await client.threads.create()
    thread_id = thread["thread_id"]
    response = await _read_first_chunk_and_leave(
        http,
        "POST",
        f"/threads/{thread_id}/runs/stream",
        json={
            "assistant_id": "slow",
            "input": human("x"),
            "config": slow(10),
            "on_disconnect": "cancel",
        },
    )
    assert response.first_chunk.startswith(b"event: metadata\r\n")
    run_id = run_id_of(response.headers["content-location"])
    assert await status_after_quiet_time(client, thread_id, run_id) == "interrupted"
    await thread_reaches(client, thread_id, "interrupted")


async def test_by_default_the_run_continues_when_the_client_leaves(client, http) -> None:
    thread = await client.threads.create()
    thread_id = thread["thread_id"]
    await _read_first_chunk_and_leave(
        http,
        "POST",
        f"/threads/{thread_id}/runs/stream",
        json={"assistant_id": "slow", "input": human("x"), "config": slow(1.5)},
    )
    [run] = await client.runs.list(thread_id)
    assert (await run_reaches(client, thread_id, run["run_id"]))["status"] == "success"


async def test_a_wait_with_on_disconnect_cancel_is_cancelled_when_the_client_leaves(
    client, http
) -> None:
    thread = await client.threads.create()
    thread_id = thread["thread_id"]
    url = f"/threads/{thread_id}/runs/wait"
    body = {
        "assistant_id": "slow",
        "input": human("x"),
        "config": slow(10),
        "on_disconnect": "cancel",
    }
    with pytest.raises(httpx.ReadTimeout):
        await http.post(url, json=body, timeout=httpx.Timeout(30, read=0.2))
    assert await status_after_quiet_time(client, thread_id) == "interrupted"


async def test_a_joiner_with_cancel_on_disconnect_cancels_when_it_leaves(client, http) -> None:
    thread_id, run_id = await running_slow_run(client, delay=10)
    await _read_first_chunk_and_leave(
        http,
        "GET",
        f"/threads/{thread_id}/runs/{run_id}/stream",
        params={"cancel_on_disconnect": "true"},
    )
    assert await status_after_quiet_time(client, thread_id, run_id) == "interrupted"

    # Without it, a joiner leaving does nothing to the run.
    thread_id, run_id = await running_slow_run(client, delay=1.5)
    await _read_first_chunk_and_leave(http, "GET", f"/threads/{thread_id}/runs/{run_id}/stream")
    assert (await run_reaches(client, thread_id, run_id))["status"] == "success"

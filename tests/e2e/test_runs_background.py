"""Background runs (POST /threads/{id}/runs): creation, listing, reading, deleting, and
what creating a run does to the run's kwargs, its metadata and its thread."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from langgraph_sdk.errors import NotFoundError

from tests.support.graphs import FIXTURE_GRAPHS, SLOW_ASSISTANT_ID, human, slow
from tests.support.runs import run_reaches, thread_reaches


async def test_a_background_run_starts_pending_and_finishes_on_its_own(client, http, tag) -> None:
    thread = await client.threads.create(metadata={"tag": tag})
    thread_id = thread["thread_id"]
    response = await http.post(
        f"/threads/{thread_id}/runs",
        json={"assistant_id": "slow", "input": human("hi"), "config": slow(0.4)},
    )
    assert response.status_code == 200
    run = response.json()
    assert run["status"] == "pending"
    assert response.headers["content-location"] == f"/threads/{thread_id}/runs/{run['run_id']}"
    assert run["thread_id"] == thread_id
    assert run["assistant_id"] == SLOW_ASSISTANT_ID
    assert run["multitask_strategy"] == "enqueue"
    assert "attempt" not in run

    busy = await client.threads.get(thread_id)
    assert busy["status"] == "busy"
    assert busy["metadata"] == {"tag": tag, "graph_id": "slow", "assistant_id": SLOW_ASSISTANT_ID}

    # Nobody joins: the run executes anyway.
    done = await run_reaches(client, thread_id, run["run_id"])
    assert done["status"] == "success"
    assert done["updated_at"] > run["updated_at"]
    idle = await thread_reaches(client, thread_id, "idle")
    assert [m["content"] for m in idle["values"]["messages"]] == ["hi", "slept 0.4s"]
    assert idle["error"] is None


async def test_run_kwargs_carry_the_request_and_the_ids_the_graph_sees(client, tag) -> None:
    thread = await client.threads.create(metadata={"tag": tag})
    thread_id = thread["thread_id"]
    run = await client.runs.create(
        thread_id,
        "agent",
        input=human("hi"),
        config={"tags": ["t1"], "configurable": {"mine": 1}},
        stream_mode=["values", "updates"],
        interrupt_after=["chat"],
    )
    kwargs = run["kwargs"]
    assert kwargs["input"] == human("hi")
    assert kwargs["command"] is None
    assert kwargs["stream_mode"] == ["values", "updates"]
    assert kwargs["interrupt_after"] == ["chat"]
    assert kwargs["interrupt_before"] is None
    assert kwargs["temporary"] is False
    assert kwargs["resumable"] is False
    assert kwargs["subgraphs"] is False
    assert kwargs["durability"] == "async"
    assert kwargs["config"]["tags"] == ["t1"]
    configurable = kwargs["config"]["configurable"]
    assert configurable["mine"] == 1
    assert configurable["run_id"] == run["run_id"]
    assert configurable["thread_id"] == thread_id
    assert configurable["graph_id"] == "agent"
    assert configurable["assistant_id"] == run["assistant_id"]
    assert configurable["user_id"] == ""
    await run_reaches(client, thread_id, run["run_id"])
    # The graph ran with those ids: its checkpoints are tagged with them.
    state = await client.threads.get_state(thread_id)
    assert state["metadata"]["run_id"] == run["run_id"]
    assert state["metadata"]["graph_id"] == "agent"


async def test_run_metadata_merges_assistant_thread_config_and_request(client, tag) -> None:
    assistant = await client.assistants.create(
        "agent", metadata={"from_assistant": 1, "shared": "assistant", "tag": tag}
    )
    thread = await client.threads.create(metadata={"from_thread": 2, "shared": "thread"})
    run = await client.runs.create(
        thread["thread_id"],
        assistant["assistant_id"],
        input=human("hi"),
        config={"metadata": {"from_config": 3, "shared": "config", "run_id": "forged"}},
        metadata={
            "from_request": 4,
            "shared": "request",
            "thread_id": "forged",
            "run_id": "forged",
            "assistant_id": "forged",
        },
    )
    metadata = run["metadata"]
    assert metadata["from_assistant"] == 1
    assert metadata["from_thread"] == 2
    assert metadata["from_config"] == 3
    assert metadata["from_request"] == 4
    assert metadata["shared"] == "request"
    assert metadata["assistant_id"] == assistant["assistant_id"]
    assert metadata["graph_id"] == "agent"
    assert "thread_id" not in metadata
    assert "run_id" not in metadata
    assert run["kwargs"]["config"]["metadata"]["shared"] == "request"
    await run_reaches(client, thread["thread_id"], run["run_id"])


async def test_listing_runs_pages_newest_first_and_filters(client, http, tag) -> None:
    thread = await client.threads.create(metadata={"tag": tag})
    thread_id = thread["thread_id"]
    created = []
    for assistant in ("agent", "errgraph", "agent"):
        run = await client.runs.create(thread_id, assistant, input=human("hi"))
        created.append(run["run_id"])
    for run_id in created:
        await run_reaches(client, thread_id, run_id)

    newest_first = list(reversed(created))
    assert [r["run_id"] for r in await client.runs.list(thread_id)] == newest_first
    assert [r["run_id"] for r in await client.runs.list(thread_id, limit=2)] == newest_first[:2]
    page = await client.runs.list(thread_id, limit=2, offset=2)
    assert [r["run_id"] for r in page] == newest_first[2:]
    failed = await client.runs.list(thread_id, status="error")
    assert [r["run_id"] for r in failed] == [created[1]]
    assert await client.runs.list(thread_id, status="pending") == []
    selected = await client.runs.list(thread_id, select=["run_id", "status"])
    assert selected[0] == {"run_id": created[2], "status": "success"}

    response = await http.get(f"/threads/{thread_id}/runs", params={"status": "finished"})
    assert response.status_code == 422
    with pytest.raises(NotFoundError):
        await client.runs.list(str(uuid.uuid4()))


async def test_get_and_delete_a_run(client, http, tag) -> None:
    thread = await client.threads.create(metadata={"tag": tag})
    thread_id = thread["thread_id"]
    run = await client.runs.create(thread_id, "agent", input=human("hi"))
    finished = await run_reaches(client, thread_id, run["run_id"])
    assert finished["run_id"] == run["run_id"]
    assert finished["kwargs"] == run["kwargs"]
    assert finished["created_at"] == run["created_at"]

    url = f"/threads/{thread_id}/runs/{run['run_id']}"
    deleted = await http.delete(url)
    assert deleted.status_code == 204
    assert deleted.content == b""
    missing = await http.get(url)
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not Found"}
    again = await http.delete(url)
    assert again.status_code == 404
    assert again.json() == {"detail": "Run not found"}
    assert await client.runs.list(thread_id) == []
    # A run of another thread is not reachable through this one.
    other = await client.threads.create(metadata={"tag": tag})
    run2 = await client.runs.create(other["thread_id"], "agent", input=human("hi"))
    wrong = await http.get(f"/threads/{thread_id}/runs/{run2['run_id']}")
    assert wrong.status_code == 404
    await run_reaches(client, other["thread_id"], run2["run_id"])


async def test_deleting_a_running_run_stops_it_and_frees_the_thread(client, http, tag) -> None:
    thread = await client.threads.create(metadata={"tag": tag})
    thread_id = thread["thread_id"]
    run = await client.runs.create(thread_id, "slow", input=human("hi"), config=slow(5))
    await run_reaches(client, thread_id, run["run_id"], ("running",))
    started = time.monotonic()
    deleted = await http.delete(f"/threads/{thread_id}/runs/{run['run_id']}")
    assert deleted.status_code == 204
    assert time.monotonic() - started < 4
    assert (await http.get(f"/threads/{thread_id}/runs/{run['run_id']}")).status_code == 404
    await thread_reaches(client, thread_id, "idle")


async def test_deleting_a_thread_stops_its_running_run(client, http, tag) -> None:
    thread_id = str(uuid.uuid4())
    await client.threads.create(thread_id=thread_id, metadata={"tag": tag})
    run = await client.runs.create(thread_id, "slow", input=human("old"), config=slow(1))
    await run_reaches(client, thread_id, run["run_id"], ("running",))
    assert (await http.delete(f"/threads/{thread_id}")).status_code == 204
    # Same id again: nothing of the stopped run may surface in the new thread.
    await client.threads.create(thread_id=thread_id, graph_id="slow", metadata={"tag": tag})
    await asyncio.sleep(1.5)  # past the moment the old run would have finished
    state = await client.threads.get_state(thread_id)
    assert state["values"] == {}
    assert (await client.threads.get(thread_id))["status"] == "idle"


async def test_a_missing_thread_is_404_unless_if_not_exists_create(client, http, tag) -> None:
    thread_id = str(uuid.uuid4())
    refused = await http.post(
        f"/threads/{thread_id}/runs", json={"assistant_id": "agent", "input": human("hi")}
    )
    assert refused.status_code == 404
    assert refused.json() == {"detail": "Thread or assistant not found."}
    with pytest.raises(NotFoundError):
        await client.threads.get(thread_id)

    run = await client.runs.create(
        thread_id, "agent", input=human("hi"), if_not_exists="create", metadata={"tag": tag}
    )
    assert run["thread_id"] == thread_id
    await run_reaches(client, thread_id, run["run_id"])
    thread = await client.threads.get(thread_id)
    assert thread["metadata"]["graph_id"] == "agent"
    assert thread["metadata"]["assistant_id"] == run["assistant_id"]
    assert thread["values"]["messages"][-1]["content"] == "hello there friend"


async def test_refused_runs_leave_nothing_behind(client, http, tag) -> None:
    thread = await client.threads.create(metadata={"tag": tag})
    url = f"/threads/{thread['thread_id']}/runs"

    bad_name = await http.post(url, json={"assistant_id": "nope", "input": {}})
    assert bad_name.status_code == 422
    detail = bad_name.json()["detail"]
    assert detail.startswith(
        "Invalid assistant: 'nope'. Must be either:\n- A valid assistant UUID, or\n"
        "- One of the registered graphs: "
    )
    registered = detail.rsplit(": ", 1)[1].split(", ")
    assert sorted(registered) == sorted(FIXTURE_GRAPHS)

    unknown = await http.post(url, json={"assistant_id": str(uuid.uuid4()), "input": {}})
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "Thread or assistant not found."}

    both = await http.post(
        url,
        json={"assistant_id": "agent", "config": {"configurable": {"a": 1}}, "context": {"b": 2}},
    )
    assert both.status_code == 400

    mode = await http.post(url, json={"assistant_id": "agent", "stream_mode": ["tools"]})
    assert mode.status_code == 422

    checkpoint = await http.post(
        url, json={"assistant_id": "agent", "input": {}, "checkpoint_id": "not-a-uuid"}
    )
    assert checkpoint.status_code == 422
    assert "Invalid checkpoint ID" in checkpoint.json()["detail"]

    after = await http.post(url, json={"assistant_id": "agent", "after_seconds": -1})
    assert after.status_code == 422

    assert await client.runs.list(thread["thread_id"]) == []
    unchanged = await client.threads.get(thread["thread_id"])
    assert unchanged["status"] == "idle"
    assert unchanged["metadata"] == {"tag": tag}


async def test_after_seconds_delays_the_run_and_keeps_the_thread_busy(client, tag) -> None:
    thread = await client.threads.create(metadata={"tag": tag})
    thread_id = thread["thread_id"]
    started = time.monotonic()
    run = await client.runs.create(thread_id, "agent", input=human("hi"), after_seconds=1)
    assert run["status"] == "pending"
    assert run["kwargs"]["config"]["configurable"]["__after_seconds__"] == 1
    await asyncio.sleep(0.5)
    assert (await client.runs.get(thread_id, run["run_id"]))["status"] == "pending"
    assert (await client.threads.get(thread_id))["status"] == "busy"
    assert (await client.threads.get_state(thread_id))["values"] == {}  # not started
    done = await run_reaches(client, thread_id, run["run_id"])
    assert done["status"] == "success"
    assert time.monotonic() - started >= 1.0
    await thread_reaches(client, thread_id, "idle")

"""Runs and thread state together: time travel, state updates between runs, what the
state endpoints and the thread row show after runs, durability, and the config a graph
receives."""

from __future__ import annotations

import uuid

import pytest
from langgraph_sdk.errors import ConflictError

from tests.support.graphs import HI, REPLY
from tests.support.runs import names, new_thread, of, stream

SYSTEM_NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")


def _ids(history: list[dict]) -> list[str]:
    return [h["checkpoint"]["checkpoint_id"] for h in history]


def _parent(state: dict) -> str | None:
    parent = state["parent_checkpoint"]
    return parent["checkpoint_id"] if parent else None


async def _agent_thread(client, tag) -> tuple[str, list[dict]]:
    """A thread with one finished agent run; its history, newest first."""
    thread_id = await new_thread(client, tag)
    await client.runs.wait(thread_id, "agent", input=HI)
    history = await client.threads.get_history(thread_id, limit=100)
    assert [(h["metadata"]["source"], h["metadata"]["step"]) for h in history] == [
        ("loop", 1),
        ("loop", 0),
        ("input", -1),
    ]
    return thread_id, history


# -- time travel -------------------------------------------------------------------------


async def test_replay_from_a_past_checkpoint(client, tag):
    thread_id, before = await _agent_thread(client, tag)
    at_chat = before[1]  # waiting to run "chat"
    assert at_chat["next"] == ["chat"]
    events = await stream(
        client,
        thread_id,
        "agent",
        input=None,
        checkpoint_id=at_chat["checkpoint"]["checkpoint_id"],
        stream_mode="updates",
    )
    assert names(events) == ["metadata", "updates"]
    assert of(events, "updates")[0]["chat"]["count"] == 1

    history = await client.threads.get_history(thread_id, limit=100)
    assert len(history) == 5
    end, fork = history[0], history[1]
    assert (fork["metadata"]["source"], fork["metadata"]["step"]) == ("fork", 1)
    assert _parent(fork) == at_chat["checkpoint"]["checkpoint_id"]
    assert fork["next"] == ["chat"]
    assert (end["metadata"]["source"], _parent(end)) == ("loop", fork["checkpoint_id"])
    # The original branch is still there, untouched.
    assert history[2:] == before
    # The thread now follows the replayed branch: one question, one answer.
    thread = await client.threads.get(thread_id)
    assert [m["content"] for m in thread["values"]["messages"]] == ["hi", REPLY]
    assert thread["values"] == end["values"]
    assert thread["status"] == "idle"


async def test_fork_with_input_and_checkpoint_object(client, tag):
    thread_id, before = await _agent_thread(client, tag)
    at_chat = before[1]
    await stream(
        client,
        thread_id,
        "agent",
        input=None,
        checkpoint_id=at_chat["checkpoint"]["checkpoint_id"],
    )
    events = await stream(
        client,
        thread_id,
        "agent",
        input={"messages": [{"role": "user", "content": "again"}]},
        checkpoint={
            "checkpoint_id": at_chat["checkpoint"]["checkpoint_id"],
            "thread_id": thread_id,
            "checkpoint_ns": "",
        },
        stream_mode="values",
    )
    final = of(events, "values")[-1]
    assert [m["content"] for m in final["messages"]] == ["hi", "again", REPLY]

    history = await client.threads.get_history(thread_id, limit=100)
    # Both branches and the original: 3 + 2 (replay) + 3 (fork), newest first.
    assert len(history) == 8
    assert _ids(history) == sorted(_ids(history), reverse=True)
    new_input = history[2]
    assert (new_input["metadata"]["source"], new_input["metadata"]["step"]) == ("input", 1)
    assert _parent(new_input) == at_chat["checkpoint"]["checkpoint_id"]
    assert [h["metadata"]["source"] for h in history] == [
        "loop",
        "loop",
        "input",
        "loop",
        "fork",
        "loop",
        "loop",
        "input",
    ]
    assert (await client.threads.get(thread_id))["values"] == final


async def test_nothing_to_continue_is_an_empty_input_error(client, tag):
    thread_id, before = await _agent_thread(client, tag)
    values = (await client.threads.get(thread_id))["values"]
    # A checkpoint that does not exist, and no input: LangGraph has nothing to run.
    events = await stream(client, thread_id, "agent", input=None, checkpoint_id=str(uuid.uuid4()))
    assert names(events) == ["metadata", "error"]
    (error,) = of(events, "error")
    assert error["error"] == "EmptyInputError"
    assert error["message"] != "An internal error occurred"
    # The thread's history and values are untouched.
    assert await client.threads.get_history(thread_id, limit=100) == before
    assert (await client.threads.get(thread_id))["values"] == values

    fresh = await new_thread(client, tag)
    events = await stream(client, fresh, "agent", input=None)
    assert of(events, "error")[0]["error"] == "EmptyInputError"


# -- state updates between runs ------------------------------------------------------------


async def test_update_state_then_run_continues_from_it(client, tag):
    thread_id, _ = await _agent_thread(client, tag)
    updated = await client.threads.update_state(thread_id, {"count": 41})
    state = await client.threads.get_state(thread_id)
    assert state["checkpoint"]["checkpoint_id"] == updated["checkpoint"]["checkpoint_id"]
    assert state["metadata"]["source"] == "update"
    assert state["values"]["count"] == 41
    assert (await client.threads.get(thread_id))["values"]["count"] == 41

    result = await client.runs.wait(thread_id, "agent", input=HI)
    assert result["count"] == 42
    assert [m["content"] for m in result["messages"]] == ["hi", REPLY, "hi", REPLY]


async def test_update_at_a_breakpoint_is_what_the_next_node_sees(client, tag):
    thread_id = await new_thread(client, tag)
    await client.runs.wait(thread_id, "stategraph", input=HI, interrupt_before=["echo"])
    assert (await client.threads.get(thread_id))["status"] == "interrupted"
    await client.threads.update_state(
        thread_id, {"messages": [{"role": "user", "content": "edited"}]}
    )
    # Still waiting for "echo": an update does not consume the breakpoint.
    assert (await client.threads.get_state(thread_id))["next"] == ["echo"]
    result = await client.runs.wait(thread_id, "stategraph", input=None)
    assert [m["content"] for m in result["messages"]] == ["hi", "edited", "echo: edited"]
    assert (await client.threads.get(thread_id))["status"] == "idle"


async def test_update_state_while_a_run_is_in_flight_is_409(client, http, tag):
    thread_id = await new_thread(client, tag)
    run = await client.runs.create(
        thread_id, "slow", input={}, config={"configurable": {"delay": 1.5}}
    )
    response = await http.post(f"/threads/{thread_id}/state", json={"values": {"messages": []}})
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/json")
    assert isinstance(response.json()["detail"], str)
    with pytest.raises(ConflictError):
        await client.threads.update_state(thread_id, {"messages": []})

    await client.runs.join(thread_id, run["run_id"])
    # The refused updates wrote nothing; once the run is done updates work again.
    state = await client.threads.get_state(thread_id)
    assert state["metadata"]["run_id"] == run["run_id"]
    await client.threads.update_state(
        thread_id, {"messages": [{"role": "user", "content": "after"}]}
    )
    assert (await client.threads.get_state(thread_id))["values"]["messages"][-1][
        "content"
    ] == "after"


# -- what the state endpoints and the thread row show -----------------------------------


async def test_state_after_a_run_has_real_checkpoints(client, tag):
    thread_id = await new_thread(client, tag)
    events = await stream(client, thread_id, "agent", input=HI)
    run_id = events[0][1]["run_id"]
    state = await client.threads.get_state(thread_id)
    history = await client.threads.get_history(thread_id, limit=10)
    assert state == history[0]
    checkpoint_id = state["checkpoint"]["checkpoint_id"]
    uuid.UUID(checkpoint_id)
    assert state["checkpoint"] == {
        "checkpoint_id": checkpoint_id,
        "thread_id": thread_id,
        "checkpoint_ns": "",
    }
    assert state["checkpoint_id"] == checkpoint_id
    assert state["parent_checkpoint"] == history[1]["checkpoint"]
    assert (state["next"], state["tasks"], state["interrupts"]) == ([], [], [])
    assert state["created_at"]
    metadata = state["metadata"]
    assert (metadata["source"], metadata["step"]) == ("loop", 1)
    assert metadata["run_id"] == run_id
    assert metadata["graph_id"] == "agent"
    # A past checkpoint by id, as the SDK asks for it.
    past = await client.threads.get_state(thread_id, checkpoint_id=history[1]["checkpoint_id"])
    assert past == history[1]
    assert past["next"] == ["chat"]
    (task,) = past["tasks"]
    assert (task["name"], task["interrupts"]) == ("chat", [])


async def test_thread_row_follows_the_final_checkpoint_after_each_run(client, tag):
    thread_id = await new_thread(client, tag)
    checks = [
        ({"input": HI}, "interrupted"),
        ({"command": {"resume": "yes"}}, "idle"),
        ({"input": {"messages": [{"role": "user", "content": "more"}]}}, "interrupted"),
    ]
    for kwargs, status in checks:
        await client.runs.wait(thread_id, "hitl", **kwargs)
        thread = await client.threads.get(thread_id)
        state = await client.threads.get_state(thread_id)
        assert thread["status"] == status
        assert thread["values"] == state["values"]
        pending = {t["id"]: t["interrupts"] for t in state["tasks"] if t["interrupts"]}
        assert thread["interrupts"] == pending
        assert bool(pending) == (status == "interrupted")
        assert thread["error"] is None


# -- durability and config ----------------------------------------------------------------


@pytest.mark.parametrize("durability", ["sync", "async"])
async def test_durability_sync_and_async_write_every_step(client, tag, durability):
    thread_id = await new_thread(client, tag)
    await client.runs.wait(thread_id, "agent", input=HI, durability=durability)
    history = await client.threads.get_history(thread_id, limit=10)
    assert [h["metadata"]["step"] for h in history] == [1, 0, -1]
    run = (await client.runs.list(thread_id))[0]
    assert run["kwargs"]["durability"] == durability


async def test_durability_exit_still_leaves_the_final_checkpoint(client, tag):
    thread_id = await new_thread(client, tag)
    events = await stream(client, thread_id, "agent", input=HI, durability="exit")
    final = of(events, "values")[-1]
    run = await client.runs.get(thread_id, events[0][1]["run_id"])
    assert run["kwargs"]["durability"] == "exit"
    state = await client.threads.get_state(thread_id)
    assert state["values"] == final
    assert state["next"] == []
    history = await client.threads.get_history(thread_id, limit=10)
    assert history[0] == state
    # Fewer checkpoints than the default (async) mode writes.
    assert len(history) < 3
    # And the next run builds on it.
    # The deprecated spelling means the same.
    with pytest.warns(DeprecationWarning):
        again = await client.runs.wait(thread_id, "agent", input=HI, checkpoint_during=False)
    assert again["count"] == 2
    latest = (await client.runs.list(thread_id, limit=1))[0]
    assert latest["kwargs"]["durability"] == "exit"


async def test_the_graph_receives_the_run_config(client, tag):
    assistant = await client.assistants.create(
        "stream_config",
        config={"configurable": {"greeting": "from the assistant"}},
        metadata={"tag": tag},
    )
    thread_id = await new_thread(client, tag)
    events = await stream(client, thread_id, assistant["assistant_id"], input={})
    run_id = events[0][1]["run_id"]
    seen = of(events, "values")[-1]["seen"]
    assert seen == {
        "run_id": run_id,
        "thread_id": thread_id,
        "assistant_id": assistant["assistant_id"],
        "graph_id": "stream_config",
        "greeting": "from the assistant",
    }
    # The request's config wins over the assistant's.
    result = await client.runs.wait(
        thread_id,
        assistant["assistant_id"],
        input={},
        config={"configurable": {"greeting": "from the run"}},
    )
    assert result["seen"]["greeting"] == "from the run"

    # By graph id, the system assistant runs it.
    events = await stream(client, thread_id, "stream_config", input={})
    system_id = str(uuid.uuid5(SYSTEM_NAMESPACE, "stream_config"))
    assert of(events, "values")[-1]["seen"]["assistant_id"] == system_id
    metadata = (await client.threads.get_state(thread_id))["metadata"]
    assert metadata["run_id"] == events[0][1]["run_id"]
    assert metadata["assistant_id"] == system_id
    assert metadata["graph_id"] == "stream_config"


async def test_the_graph_receives_the_run_context(client, tag):
    assistant = await client.assistants.create(
        "stream_config", context={"model": "small", "tone": "dry"}, metadata={"tag": tag}
    )
    thread_id = await new_thread(client, tag)
    result = await client.runs.wait(
        thread_id, assistant["assistant_id"], input={}, context={"tone": "warm"}
    )
    # The run's context is merged over the assistant's.
    assert result["context"] == {"model": "small", "tone": "warm"}
    events = await stream(client, thread_id, "stream_config", input={}, context={"a": 1})
    assert of(events, "values")[-1]["context"] == {"a": 1}
    # Without any context the graph gets none.
    assert (await client.runs.wait(thread_id, "stream_config", input={}))["context"] is None

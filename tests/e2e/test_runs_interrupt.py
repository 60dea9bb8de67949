"""Human in the loop: dynamic `interrupt()`, resuming with a value or an id map, and
static breakpoints (interrupt_before / interrupt_after)."""

from __future__ import annotations

import httpx
import pytest
from langgraph_sdk.errors import BadRequestError

from tests.support.graphs import HI, REPLY
from tests.support.runs import names, new_thread, of, stream

QUESTION = {"question": "approve?"}


async def _interrupted_hitl(client, tag) -> tuple[str, list]:
    thread_id = await new_thread(client, tag)
    events = await stream(client, thread_id, "hitl", input=HI, stream_mode=["values", "updates"])
    return thread_id, events


async def test_interrupt_streams_and_marks_the_thread(client, tag):
    thread_id, events = await _interrupted_hitl(client, tag)
    assert names(events) == ["metadata", "values", "updates", "values"]
    (update,) = of(events, "updates")
    (pending,) = update["__interrupt__"]
    assert pending["value"] == QUESTION
    assert pending["response_schema"] is None
    interrupt_id = pending["id"]
    final = of(events, "values")[-1]
    assert final["__interrupt__"] == [pending]
    assert [m["content"] for m in final["messages"]] == ["hi"]

    run = await client.runs.get(thread_id, events[0][1]["run_id"])
    assert run["status"] == "success"
    thread = await client.threads.get(thread_id)
    assert thread["status"] == "interrupted"
    ((task_id, interrupts),) = thread["interrupts"].items()
    assert interrupts == [{"id": interrupt_id, "value": QUESTION}]
    assert "__interrupt__" not in thread["values"]

    state = await client.threads.get_state(thread_id)
    assert state["next"] == ["ask"]
    (task,) = state["tasks"]
    assert (task["id"], task["name"], task["path"]) == (task_id, "ask", ["__pregel_pull", "ask"])
    assert task["error"] is None
    assert task["interrupts"] == [{"id": interrupt_id, "value": QUESTION}]
    assert state["interrupts"] == [{"id": interrupt_id, "value": QUESTION}]


async def test_resume_runs_to_the_end(client, tag):
    thread_id, _ = await _interrupted_hitl(client, tag)
    events = await stream(
        client, thread_id, "hitl", command={"resume": "ok"}, stream_mode="updates"
    )
    assert names(events) == ["metadata", "updates", "updates"]
    ask, done = of(events, "updates")
    assert ask == {"ask": {"answer": "ok"}}
    assert [m["content"] for m in done["done"]["messages"]] == ["you said: ok"]
    thread = await client.threads.get(thread_id)
    assert (thread["status"], thread["interrupts"]) == ("idle", {})
    assert thread["values"]["answer"] == "ok"
    state = await client.threads.get_state(thread_id)
    assert (state["next"], state["tasks"], state["interrupts"]) == ([], [], [])


async def test_resume_by_interrupt_id(client, tag):
    thread_id, events = await _interrupted_hitl(client, tag)
    interrupt_id = of(events, "updates")[0]["__interrupt__"][0]["id"]
    result = await client.runs.wait(thread_id, "hitl", command={"resume": {interrupt_id: "yes"}})
    assert result["answer"] == "yes"
    assert result["messages"][-1]["content"] == "you said: yes"
    assert (await client.threads.get(thread_id))["status"] == "idle"


async def test_wait_returns_the_interrupt(client, tag):
    thread_id = await new_thread(client, tag)
    result = await client.runs.wait(thread_id, "hitl", input=HI)
    (pending,) = result["__interrupt__"]
    assert pending["value"] == QUESTION
    assert pending["response_schema"] is None
    assert [m["content"] for m in result["messages"]] == ["hi"]
    thread = await client.threads.get(thread_id)
    assert [i["id"] for group in thread["interrupts"].values() for i in group] == [pending["id"]]


async def test_parallel_interrupts_resumed_one_by_one_by_id(client, tag):
    thread_id = await new_thread(client, tag)
    first = await client.runs.wait(thread_id, "stream_approvals", input={"topic": "budget"})
    pending = {i["value"]["reviewer"]: i["id"] for i in first["__interrupt__"]}
    assert set(pending) == {"legal", "finance"}
    thread = await client.threads.get(thread_id)
    assert thread["status"] == "interrupted"
    assert len(thread["interrupts"]) == 2  # one entry per task
    assert sorted(i["id"] for g in thread["interrupts"].values() for i in g) == sorted(
        pending.values()
    )
    state = await client.threads.get_state(thread_id)
    assert sorted(state["next"]) == ["finance", "legal"]

    # Answer legal only: finance is still waiting, under the same interrupt id.
    partial = await client.runs.wait(
        thread_id, "stream_approvals", command={"resume": {pending["legal"]: "yes"}}
    )
    assert [i["id"] for i in partial["__interrupt__"]] == [pending["finance"]]
    assert partial["votes"] == ["legal:yes"]
    thread = await client.threads.get(thread_id)
    assert thread["status"] == "interrupted"
    assert [i["id"] for g in thread["interrupts"].values() for i in g] == [pending["finance"]]

    final = await client.runs.wait(
        thread_id, "stream_approvals", command={"resume": {pending["finance"]: "no"}}
    )
    assert final["verdict"] == "finance:no & legal:yes"
    assert "__interrupt__" not in final
    thread = await client.threads.get(thread_id)
    assert (thread["status"], thread["interrupts"]) == ("idle", {})


async def test_both_parallel_interrupts_resumed_at_once(client, tag):
    thread_id = await new_thread(client, tag)
    first = await client.runs.wait(thread_id, "stream_approvals", input={"topic": "hiring"})
    answers = {i["id"]: f"ok-{i['value']['reviewer']}" for i in first["__interrupt__"]}
    final = await client.runs.wait(thread_id, "stream_approvals", command={"resume": answers})
    assert final["verdict"] == "finance:ok-finance & legal:ok-legal"


async def test_interrupt_before_then_continue_with_null_input(client, tag):
    thread_id = await new_thread(client, tag)
    events = await stream(
        client,
        thread_id,
        "agent",
        input=HI,
        stream_mode=["values", "updates"],
        interrupt_before=["chat"],
    )
    assert names(events) == ["metadata", "values", "updates"]
    assert of(events, "updates") == [{"__interrupt__": []}]
    run = await client.runs.get(thread_id, events[0][1]["run_id"])
    assert run["status"] == "success"
    thread = await client.threads.get(thread_id)
    assert (thread["status"], thread["interrupts"]) == ("interrupted", {})
    assert [m["content"] for m in thread["values"]["messages"]] == ["hi"]
    state = await client.threads.get_state(thread_id)
    assert state["next"] == ["chat"]
    assert state["interrupts"] == []

    resumed = await stream(client, thread_id, "agent", input=None, stream_mode="values")
    final = of(resumed, "values")[-1]
    assert [m["content"] for m in final["messages"]] == ["hi", REPLY]
    assert final["count"] == 1
    thread = await client.threads.get(thread_id)
    assert (thread["status"], thread["interrupts"]) == ("idle", {})


async def test_interrupt_after_then_continue(client, tag):
    thread_id = await new_thread(client, tag)
    ask = {"messages": [{"role": "user", "content": "weather?"}]}
    events = await stream(
        client,
        thread_id,
        "stream_tools",
        input=ask,
        stream_mode="updates",
        interrupt_after=["model"],
    )
    assert [list(u) for u in of(events, "updates")] == [["model"], ["__interrupt__"]]
    thread = await client.threads.get(thread_id)
    assert (thread["status"], thread["interrupts"]) == ("interrupted", {})
    assert (await client.threads.get_state(thread_id))["next"] == ["tools"]

    resumed = await stream(client, thread_id, "stream_tools", input=None, stream_mode="updates")
    assert [list(u) for u in of(resumed, "updates")] == [["tools"]]
    assert (await client.threads.get(thread_id))["status"] == "idle"


async def test_interrupt_before_every_node(client, tag):
    thread_id = await new_thread(client, tag)
    ask = {"messages": [{"role": "user", "content": "weather?"}]}
    await stream(client, thread_id, "stream_tools", input=ask, interrupt_before="*")
    assert (await client.threads.get_state(thread_id))["next"] == ["model"]
    await stream(client, thread_id, "stream_tools", input=None, interrupt_before="*")
    assert (await client.threads.get_state(thread_id))["next"] == ["tools"]
    await stream(client, thread_id, "stream_tools", input=None)
    state = await client.threads.get_state(thread_id)
    assert state["next"] == []
    assert [m["type"] for m in state["values"]["messages"]] == ["human", "ai", "tool"]


async def test_stateless_resume_is_refused(client, http):
    response = await http.post(
        "/runs/stream", json={"assistant_id": "hitl", "command": {"resume": "ok"}}
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "You must provide a thread_id when resuming."}
    with pytest.raises(BadRequestError):
        await stream(client, None, "hitl", command={"resume": "ok"})
    # The SDK's /wait raises the plain httpx error for a refused run.
    with pytest.raises(httpx.HTTPStatusError) as err:
        await client.runs.wait(None, "hitl", command={"resume": "ok"})
    assert err.value.response.status_code == 400


async def test_interrupt_inside_a_subgraph(client, tag):
    thread_id = await new_thread(client, tag)
    events = await stream(
        client,
        thread_id,
        "stream_subhitl",
        input={"item": "box"},
        stream_mode=["values", "updates"],
        stream_subgraphs=True,
    )
    (ns,) = {name.split("|", 1)[1] for name in names(events) if "|" in name}
    assert ns.startswith("child:")
    # The interrupt shows inside the subgraph and again at the top.
    (inner,) = of(events, f"updates|{ns}")
    (outer,) = of(events, "updates")
    assert inner == outer
    (pending,) = outer["__interrupt__"]
    assert pending["value"] == {"question": "ship box?"}
    assert of(events, "values")[-1]["__interrupt__"] == [pending]

    thread = await client.threads.get(thread_id)
    assert thread["status"] == "interrupted"
    # Listed under the parent's task: the one a client resumes through.
    task_id = ns.split(":", 1)[1]
    assert thread["interrupts"] == {task_id: [{"id": pending["id"], "value": pending["value"]}]}

    state = await client.threads.get_state(thread_id, subgraphs=True)
    assert state["next"] == ["child"]
    (task,) = state["tasks"]
    assert (task["id"], task["name"]) == (task_id, "child")
    assert task["checkpoint"]["checkpoint_ns"] == ns
    inside = task["state"]
    assert inside["next"] == ["review"]
    assert inside["interrupts"] == [{"id": pending["id"], "value": pending["value"]}]
    # The subgraph's own state is reachable by its checkpoint address.
    addressed = await client.threads.get_state(thread_id, checkpoint=task["checkpoint"])
    assert addressed["next"] == ["review"]

    result = await client.runs.wait(
        thread_id, "stream_subhitl", command={"resume": {pending["id"]: "yes"}}
    )
    assert result == {"item": "box", "approved": "yes", "result": "box: yes"}
    thread = await client.threads.get(thread_id)
    assert (thread["status"], thread["interrupts"]) == ("idle", {})


async def test_interrupt_inside_a_subgraph_without_subgraph_streaming(client, tag):
    thread_id = await new_thread(client, tag)
    events = await stream(
        client, thread_id, "stream_subhitl", input={"item": "crate"}, stream_mode="updates"
    )
    assert names(events) == ["metadata", "updates"]
    (pending,) = of(events, "updates")[0]["__interrupt__"]
    assert pending["value"] == {"question": "ship crate?"}
    result = await client.runs.wait(thread_id, "stream_subhitl", command={"resume": "no"})
    assert result["result"] == "crate: no"

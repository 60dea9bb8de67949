"""`command` on run create: update and goto (node names, lists, and the Send form
`{node, input}`), as LangGraph's Command applies them (captures/sse2.txt)."""

from __future__ import annotations

from tests.support.graphs import HI, REPLY
from tests.support.runs import names, new_thread, of, stream
from tests.support.sse import raw_stream


async def test_update_and_goto_on_an_empty_thread(client, tag):
    thread_id = await new_thread(client, tag)
    events = await stream(
        client,
        thread_id,
        "agent",
        command={"update": {"count": 100}, "goto": "chat"},
        stream_mode=["updates", "values"],
    )
    # The reference's exact sequence.
    assert names(events) == ["metadata", "values", "updates", "values"]
    first, last = of(events, "values")
    assert first == {"messages": [], "count": 100}
    (update,) = of(events, "updates")
    assert update["chat"]["count"] == 101
    assert [m["content"] for m in update["chat"]["messages"]] == [REPLY]
    assert last["count"] == 101
    thread = await client.threads.get(thread_id)
    assert (thread["status"], thread["values"]) == ("idle", last)


async def test_update_as_key_value_pairs_and_goto_list(client, tag):
    thread_id = await new_thread(client, tag)
    result = await client.runs.wait(
        thread_id, "agent", command={"update": [["count", 7]], "goto": ["chat"]}
    )
    assert result["count"] == 8


async def test_goto_with_send(client, tag):
    thread_id = await new_thread(client, tag)
    await client.runs.wait(thread_id, "agent", input=HI)
    send = {
        "node": "chat",
        "input": {"messages": [{"role": "user", "content": "via send"}], "count": 5},
    }
    events = await stream(client, thread_id, "agent", command={"goto": send}, stream_mode="updates")
    (update,) = of(events, "updates")
    # The node got the Send's input as its state, not the thread's (count 1).
    assert update["chat"]["count"] == 6
    state = await client.threads.get_state(thread_id)
    assert state["values"]["count"] == 6
    assert [m["content"] for m in state["values"]["messages"]] == ["hi", REPLY, REPLY]


async def test_goto_on_an_uncompiled_stategraph(client, tag):
    thread_id = await new_thread(client, tag)
    result = await client.runs.wait(
        thread_id,
        "stategraph",
        command={
            # With an id: LangGraph applies an input Command's update on a new thread
            # twice, and only add_messages' id matching makes that harmless.
            "update": {"messages": [{"role": "user", "content": "jump", "id": "jump-1"}]},
            "goto": "echo",
        },
    )
    assert [m["content"] for m in result["messages"]] == ["jump", "echo: jump"]


async def test_goto_after_a_finished_run(client, tag):
    thread_id = await new_thread(client, tag)
    await client.runs.wait(
        thread_id, "agent", input={"messages": [{"role": "user", "content": "hi"}]}
    )
    result = await client.runs.wait(thread_id, "agent", command={"goto": "chat"})
    # chat ran once more on the existing state.
    assert result["count"] == 2
    assert [m["type"] for m in result["messages"]] == ["human", "ai", "ai"]


async def test_malformed_command_is_refused_before_the_stream(client, http, tag):
    thread_id = await new_thread(client, tag)
    path = f"/threads/{thread_id}/runs/stream"
    for command in (
        {"goto": 42},
        {"goto": {"input": {}}},
        {"update": [["count"]]},
        {"update": [[1, 2]]},
    ):
        response, raw = await raw_stream(http, path, {"assistant_id": "agent", "command": command})
        # 400 as an invalid value (ours) or 422 as a schema failure (the reference).
        assert response.status_code in (400, 422), (command, raw)
        assert response.headers["content-type"].startswith("application/json")
    assert await client.runs.list(thread_id) == []

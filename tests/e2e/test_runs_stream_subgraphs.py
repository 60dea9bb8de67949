"""Subgraph streaming: events of a subgraph are named `<mode>|<node>:<task_id>` with
stream_subgraphs=true, and not sent at all without it (captures/sse.txt)."""

from __future__ import annotations

from tests.support.runs import names, new_thread, of, stream


def _split(name: str) -> tuple[str, str | None]:
    mode, _, ns = name.partition("|")
    return mode, ns or None


async def test_parent_graph_with_subgraphs(client, tag):
    thread_id = await new_thread(client, tag)
    events = await stream(
        client,
        thread_id,
        "parent",
        input={"messages": []},
        stream_mode=["values", "updates"],
        stream_subgraphs=True,
    )
    namespaces = {_split(name)[1] for name in names(events)} - {None}
    (ns,) = namespaces
    node, task_id = ns.split(":")
    assert node == "child" and len(task_id) == 36
    assert names(events) == [
        "metadata",
        "values",
        f"values|{ns}",
        f"updates|{ns}",
        f"values|{ns}",
        "updates",
        "values",
        "updates",
        "values",
    ]
    inner = of(events, f"updates|{ns}")[0]["inner_node"]
    assert inner["steps"] == ["inner_node"]
    assert [m["content"] for m in inner["messages"]] == ["from the child"]
    assert of(events, "updates")[1] == {"after": {"steps": ["after"]}}
    assert of(events, "values")[-1]["steps"] == ["inner_node", "after"]


async def test_parent_graph_without_subgraphs(client, tag):
    thread_id = await new_thread(client, tag)
    events = await stream(
        client, thread_id, "parent", input={"messages": []}, stream_mode=["values", "updates"]
    )
    assert names(events) == ["metadata", "values", "updates", "values", "updates", "values"]
    # The subgraph shows up only as the parent's node "child".
    assert list(of(events, "updates")[0]) == ["child"]


async def test_every_mode_is_namespaced_in_capture_order(client, tag):
    thread_id = await new_thread(client, tag)
    events = await stream(
        client,
        thread_id,
        "stream_nested",
        input={"count": 0},
        stream_mode=["values", "updates", "custom", "messages-tuple"],
        stream_subgraphs=True,
    )
    (ns,) = {_split(name)[1] for name in names(events)} - {None}
    assert ns.startswith("child:")
    tokens = ["from", " ", "the", " ", "child"]
    assert names(events) == [
        "metadata",
        "values",
        f"values|{ns}",
        f"custom|{ns}",
        *[f"messages|{ns}"] * len(tokens),
        f"updates|{ns}",
        f"values|{ns}",
        "updates",
        "values",
        "updates",
        "values",
    ]
    assert of(events, f"custom|{ns}") == [{"progress": 50}]
    messages = of(events, f"messages|{ns}")
    assert [chunk["content"] for chunk, _ in messages] == tokens
    metadata = messages[0][1]
    assert metadata["langgraph_node"] == "inner_node"
    assert metadata["langgraph_checkpoint_ns"].startswith(f"{ns}|inner_node:")
    assert [v["count"] for v in of(events, "values")] == [0, 10, 11]
    assert [v["count"] for v in of(events, f"values|{ns}")] == [0, 10]


async def test_without_subgraphs_nothing_from_inside_leaks(client, tag):
    thread_id = await new_thread(client, tag)
    events = await stream(
        client,
        thread_id,
        "stream_nested",
        input={"count": 0},
        stream_mode=["custom", "updates"],
    )
    # Not even the subgraph's custom writes (reference: "parent no subgraphs custom").
    assert names(events) == ["metadata", "updates", "updates"]
    assert of(events, "updates")[1] == {"after": {"count": 11}}


async def test_legacy_messages_from_a_subgraph_have_no_namespace(client, tag):
    thread_id = await new_thread(client, tag)
    events = await stream(
        client,
        thread_id,
        "stream_nested",
        input={"count": 0},
        stream_mode=["messages"],
        stream_subgraphs=True,
    )
    assert names(events) == ["metadata", "messages/metadata"] + ["messages/partial"] * 5
    assert of(events, "messages/partial")[-1][0]["content"] == "from the child"


async def test_subgraph_state_is_reachable_after_the_run(client, tag):
    thread_id = await new_thread(client, tag)
    await stream(client, thread_id, "stream_nested", input={"count": 0}, stream_subgraphs=True)
    state = await client.threads.get_state(thread_id, subgraphs=True)
    assert state["values"]["count"] == 11
    assert state["next"] == []
    history = await client.threads.get_history(thread_id, limit=10)
    # Parent checkpoints only: input, before child, before after, the end.
    assert [h["metadata"]["step"] for h in history] == [2, 1, 0, -1]
    assert all(h["checkpoint"]["checkpoint_ns"] == "" for h in history)

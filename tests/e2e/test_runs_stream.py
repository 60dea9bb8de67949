"""Streamed runs on the wire: SSE framing, headers, errors before the stream, and the
run's status when the stream ends. Both backends, through raw HTTP and langgraph-sdk."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError

from tests.support.graphs import HI, REPLY
from tests.support.runs import BUSY, names, new_thread, of, stream
from tests.support.sse import parse_sse, raw_stream

# -- framing -------------------------------------------------------------------------------


async def test_sse_bytes_headers_and_final_status(client, http, tag):
    thread_id = await new_thread(client, tag)
    response, raw = await raw_stream(
        http,
        f"/threads/{thread_id}/runs/stream",
        {"assistant_id": "agent", "input": HI, "stream_mode": ["values"]},
    )
    # The run's verdict is written before the stream closes: the SDK reads it to decide
    # whether to reconnect.
    run_id = response.headers["content-location"].rsplit("/", 1)[1]
    run = await client.runs.get(thread_id, run_id)
    assert run["status"] == "success"
    assert (await client.threads.get(thread_id))["status"] == "idle"

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["location"] == f"/threads/{thread_id}/runs/{run_id}/stream"
    assert response.headers["content-location"] == f"/threads/{thread_id}/runs/{run_id}"
    assert "no-store" in response.headers["cache-control"]

    metadata = f'event: metadata\r\ndata: {{"run_id":"{run_id}","attempt":1}}\r\n\r\n'
    assert raw.startswith(metadata.encode())
    blocks = parse_sse(raw)
    assert [b["event"] for b in blocks] == ["metadata", "values", "values"]
    # Without stream_resumable there are no ids, and nothing marks the end but the close.
    assert all(b["id"] is None for b in blocks)
    first, last = blocks[1]["data"], blocks[2]["data"]
    assert [m["content"] for m in first["messages"]] == ["hi"]
    assert [m["content"] for m in last["messages"]] == ["hi", REPLY]
    assert last["count"] == 1
    # Compact JSON, as orjson writes it.
    assert b'"type":"human"' in raw and b'": ' not in raw.split(b"\r\n", 2)[1]


async def test_stream_ids_only_for_resumable_runs(client, http, tag):
    thread_id = await new_thread(client, tag)
    _, raw = await raw_stream(
        http,
        f"/threads/{thread_id}/runs/stream",
        {"assistant_id": "agent", "input": HI, "stream_resumable": True},
    )
    blocks = parse_sse(raw)
    assert [b["event"] for b in blocks] == ["metadata", "values", "values"]
    keys = [tuple(int(part) for part in b["id"].split("-")) for b in blocks]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


async def test_stateless_stream_headers(client, http):
    response, raw = await raw_stream(
        http, "/runs/stream", {"assistant_id": "agent", "input": HI, "stream_mode": "updates"}
    )
    blocks = parse_sse(raw)
    run_id = blocks[0]["data"]["run_id"]
    assert response.headers["content-location"] == f"/runs/{run_id}"
    assert response.headers["location"] == f"/runs/{run_id}/stream"
    assert [b["event"] for b in blocks] == ["metadata", "updates"]
    assert blocks[1]["data"]["chat"]["count"] == 1


async def test_sdk_stream_ends_without_reconnecting(client, tag):
    """The SDK re-reads the run when a stream closes without `end`; a finished run must
    not be re-joined (which would duplicate nothing but would cost a request)."""
    thread_id = await new_thread(client, tag)
    created: list[Any] = []
    events = await stream(
        client, thread_id, "agent", input=HI, on_run_created=lambda meta: created.append(meta)
    )
    assert names(events) == ["metadata", "values", "values"]
    run_id = events[0][1]["run_id"]
    assert events[0][1] == {"run_id": run_id, "attempt": 1}
    assert created and created[0]["run_id"] == run_id
    assert created[0]["thread_id"] == thread_id
    runs = await client.runs.list(thread_id)
    assert [(r["run_id"], r["status"]) for r in runs] == [(run_id, "success")]


# -- refusals come as JSON, before any stream ----------------------------------------------


def _json_error(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()["detail"]


async def test_unknown_thread_is_404_json(client, http):
    missing = str(uuid.uuid4())
    response = await http.post(
        f"/threads/{missing}/runs/stream", json={"assistant_id": "agent", "input": HI}
    )
    assert _json_error(response, 404) == "Thread or assistant not found."
    with pytest.raises(NotFoundError):
        await stream(client, missing, "agent", input=HI)


async def test_invalid_bodies_are_422_json_and_create_nothing(client, http, tag):
    thread_id = await new_thread(client, tag)
    path = f"/threads/{thread_id}/runs/stream"
    bad = [
        {"assistant_id": "agent", "input": HI, "stream_mode": ["tools"]},
        {"assistant_id": "agent", "input": HI, "stream_mode": "lifecycle"},
        {"assistant_id": "no_such_graph", "input": HI},
        {"assistant_id": "agent", "input": HI, "checkpoint_id": "not-a-uuid"},
        {"assistant_id": "agent", "input": HI, "interrupt_before": "chat"},
    ]
    for body in bad:
        _json_error(await http.post(path, json=body), 422)
    with pytest.raises(UnprocessableEntityError):
        await stream(client, thread_id, "agent", input=HI, stream_mode="tools")
    assert await client.runs.list(thread_id) == []
    assert (await client.threads.get(thread_id))["status"] == "idle"


async def test_busy_thread_with_reject_is_409_json(client, http, tag):
    thread_id = await new_thread(client, tag)
    slow = await client.runs.create(
        thread_id, "slow", input={}, config={"configurable": {"delay": 1.5}}
    )
    response = await http.post(
        f"/threads/{thread_id}/runs/stream",
        json={"assistant_id": "agent", "input": HI, "multitask_strategy": "reject"},
    )
    assert _json_error(response, 409) == BUSY
    with pytest.raises(ConflictError):
        await stream(client, thread_id, "agent", input=HI, multitask_strategy="reject")
    await client.runs.join(thread_id, slow["run_id"])
    runs = await client.runs.list(thread_id)
    assert [r["run_id"] for r in runs] == [slow["run_id"]]
    assert runs[0]["status"] == "success"


# -- stream_mode spellings -----------------------------------------------------------------


async def test_stream_mode_string_list_and_default(client, http, tag):
    thread_id = await new_thread(client, tag)
    as_string = await stream(client, thread_id, "agent", input=HI, stream_mode="updates")
    assert names(as_string) == ["metadata", "updates"]
    as_list = await stream(client, thread_id, "agent", input=HI, stream_mode=["updates"])
    assert names(as_list) == ["metadata", "updates"]
    duplicated = await stream(
        client, thread_id, "agent", input=HI, stream_mode=["updates", "updates"]
    )
    assert names(duplicated) == ["metadata", "updates"]
    # No stream_mode at all means values.
    _, raw = await raw_stream(
        http, f"/threads/{thread_id}/runs/stream", {"assistant_id": "agent", "input": HI}
    )
    assert [b["event"] for b in parse_sse(raw)] == ["metadata", "values", "values"]
    runs = await client.runs.list(thread_id, limit=10)
    assert [r["kwargs"]["stream_mode"] for r in runs] == [
        ["values"],
        ["updates"],
        ["updates"],
        ["updates"],
    ]


async def test_sdk_v2_parts(client, tag):
    thread_id = await new_thread(client, tag)
    parts = [
        part
        async for part in client.runs.stream(
            thread_id,
            "stream_nested",
            input={"count": 0},
            stream_mode=["values", "custom"],
            stream_subgraphs=True,
            version="v2",
        )
    ]
    assert parts[0]["type"] == "metadata"
    top = [p for p in parts if p["type"] == "values" and not p["ns"]]
    assert [p["data"]["count"] for p in top] == [0, 10, 11]
    assert all(p["interrupts"] == [] for p in top)
    custom = [p for p in parts if p["type"] == "custom"]
    assert [p["data"] for p in custom] == [{"progress": 50}]
    (ns,) = {tuple(p["ns"]) for p in parts if p["ns"]}
    assert len(ns) == 1 and ns[0].startswith("child:")

    hitl_thread = await new_thread(client, tag)
    hitl = [part async for part in client.runs.stream(hitl_thread, "hitl", input=HI, version="v2")]
    values = [p for p in hitl if p["type"] == "values"]
    assert values[-1]["interrupts"][0]["value"] == {"question": "approve?"}
    assert "__interrupt__" not in values[-1]["data"]


async def test_newlines_and_unicode_stay_on_one_data_line(client, http, tag):
    thread_id = await new_thread(client, tag)
    text = "line one\nline two\r\n\u2603 caf\u00e9 \U0001f30d"
    body = {
        "assistant_id": "stategraph",
        "input": {"messages": [{"role": "user", "content": text}]},
        "stream_mode": "updates",
    }
    _, raw = await raw_stream(http, f"/threads/{thread_id}/runs/stream", body)
    (update,) = [b["data"] for b in parse_sse(raw) if b["event"] == "updates"]
    assert update["echo"]["messages"][0]["content"] == f"echo: {text}"
    # UTF-8 on the wire, not \u escapes.
    assert "\u2603".encode() in raw
    events = await stream(client, thread_id, "stategraph", input=body["input"])
    assert of(events, "values")[-1]["messages"][-1]["content"] == f"echo: {text}"


async def test_run_and_thread_while_the_stream_is_open(client, tag):
    thread_id = await new_thread(client, tag)
    seen: list[tuple[str, str]] = []
    async for part in client.runs.stream(
        thread_id, "slow", input={}, config={"configurable": {"delay": 0.5}}
    ):
        if part.event == "metadata":
            run = await client.runs.get(thread_id, part.data["run_id"])
            thread = await client.threads.get(thread_id)
            seen.append((run["status"], thread["status"]))
    assert seen == [("running", "busy")]
    thread = await client.threads.get(thread_id)
    assert thread["status"] == "idle"
    assert thread["values"]["messages"][-1]["content"] == "slept 0.5s"


async def test_concurrent_streams_each_get_their_own_events_in_order(client, tag):
    threads = [await new_thread(client, tag) for _ in range(12)]

    async def one(thread_id: str) -> list:
        return await stream(
            client, thread_id, "agent", input=HI, stream_mode=["messages-tuple", "updates"]
        )

    results = await asyncio.gather(*(one(t) for t in threads))
    run_ids = set()
    for thread_id, events in zip(threads, results, strict=True):
        assert names(events) == ["metadata"] + ["messages"] * 5 + ["updates"]
        run_id = events[0][1]["run_id"]
        run_ids.add(run_id)
        chunks = of(events, "messages")
        assert "".join(chunk["content"] for chunk, _ in chunks) == REPLY
        assert {meta["run_id"] for _, meta in chunks} == {run_id}
        assert {meta["thread_id"] for _, meta in chunks} == {thread_id}
    assert len(run_ids) == len(threads)

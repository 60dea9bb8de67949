"""A2A mapping without a server: parts to run input, run results to task states, the
v1.0 codec and the JSON-RPC envelope."""

from __future__ import annotations

import pytest

from robyn_server.services import jsonrpc
from robyn_server.services.a2a import codecs, messages, tasks
from robyn_server.services.jsonrpc import RpcError

TEXT = {"kind": "text", "text": "hi"}


def test_text_becomes_one_human_message_and_data_is_merged() -> None:
    parts = [TEXT, {"kind": "data", "data": {"count": 2}}]
    assert messages.run_input(parts, ["messages", "count"]) == {
        "count": 2,
        "messages": [{"role": "human", "content": "hi"}],
    }
    image = {"kind": "file", "file": {"uri": "http://x/y.png", "mimeType": "image/png"}}
    content = messages.run_input([TEXT, image], None)["messages"][0]["content"]
    assert content == [
        {"type": "text", "text": "hi"},
        {"type": "image", "url": "http://x/y.png", "mime_type": "image/png"},
    ]


def test_text_needs_a_messages_field() -> None:
    with pytest.raises(RpcError) as refused:
        messages.run_input([TEXT], ["conf", "meta"])
    assert refused.value.code == -32602
    assert "conf, meta" in refused.value.message
    assert messages.run_input([{"kind": "data", "data": {"conf": 1}}], ["conf"]) == {"conf": 1}


def test_resume_values() -> None:
    assert messages.resume_value([TEXT]) == "hi"
    assert messages.resume_value([{"kind": "data", "data": {"resume": [1]}}, TEXT]) == [1]
    assert messages.resume_value([{"kind": "data", "data": {"a": 1}}]) == {"a": 1}


@pytest.mark.parametrize(
    ("result", "status", "state"),
    [
        ({"messages": []}, "success", "completed"),
        ({"__interrupt__": [{"id": "i", "value": 1}]}, "success", "input-required"),
        ({"__error__": {"error": "ValueError", "message": "kaboom"}}, "error", "failed"),
        ({"messages": []}, "interrupted", "canceled"),
        (None, "timeout", "failed"),
    ],
)
def test_run_results_map_to_task_states(result, status, state) -> None:
    assert tasks.ended_outcome(result, status).state == state


def test_a_failed_task_says_why() -> None:
    outcome = tasks.ended_outcome({"__error__": {"error": "ValueError", "message": "kaboom"}}, None)
    task = tasks.build_task("t", "c", "a", outcome)
    text = task["status"]["message"]["parts"][0]["text"]
    assert text == "Error executing assistant: ValueError: kaboom"


def test_task_ids_are_run_ids_or_the_reference_form() -> None:
    run = "01a24a14-9749-70f9-a018-c5c0d68de6bb"
    assert tasks.parse_task_id(run) == run
    assert tasks.parse_task_id(f"01a24a14-9748-7410-8d44-521c07fe6796:{run}") == run
    assert tasks.parse_task_id("x") is None
    assert tasks.parse_task_id(5) is None


def test_v10_shapes() -> None:
    outcome = tasks.Outcome("completed", {"messages": [{"type": "ai", "content": "yo", "id": "1"}]})
    task = tasks.build_task("t", "c", "a", outcome)
    out = codecs.V10().send_result(task)["task"]
    assert out["status"]["state"] == "TASK_STATE_COMPLETED"
    assert out["history"][0]["role"] == "ROLE_AGENT"
    assert out["history"][0]["parts"] == [{"text": "yo"}]
    assert "kind" not in out
    update = {"kind": "status-update", "taskId": "t", "status": {"state": "working"}, "final": 0}
    assert codecs.V10().event(update) == {
        "statusUpdate": {"taskId": "t", "status": {"state": "TASK_STATE_WORKING"}}
    }
    message = codecs.V10().message_in(
        {"role": "ROLE_USER", "parts": [{"text": "a"}, {"data": 3}, {"url": "u"}]}
    )
    assert [p["kind"] for p in message["parts"]] == ["text", "data", "file"]
    with pytest.raises(RpcError) as unknown:
        codecs.V10().message_in({"parts": [{"weird": 1}]})
    assert unknown.value.code == -32005
    error = codecs.V10().error(RpcError(-32001, "Task not found: x"))
    assert error.data[0]["reason"] == "TASK_NOT_FOUND"


def test_codec_choice() -> None:
    assert codecs.codec_for("message/send", None).version == "0.3"
    assert codecs.codec_for("SendMessage", "1.0").version == "1.0"
    assert codecs.codec_for("nope", "1.0").version == "1.0"
    with pytest.raises(RpcError) as unsupported:
        codecs.codec_for("GetTask", "2.0")
    assert unsupported.value.code == -32009


@pytest.mark.parametrize(
    "body",
    [
        [],
        "x",
        {"jsonrpc": "1.0", "method": "a"},
        {"jsonrpc": "2.0"},
        {"jsonrpc": "2.0", "id": True},
    ],
)
def test_invalid_envelopes(body) -> None:
    with pytest.raises(RpcError) as invalid:
        jsonrpc.parse_message(body)
    assert invalid.value.code == -32600


def test_envelopes() -> None:
    notification = jsonrpc.parse_message({"jsonrpc": "2.0", "method": "n"})
    assert notification is not None and not notification.has_id
    assert jsonrpc.parse_message({"jsonrpc": "2.0", "id": 1, "result": {}}) is None
    with pytest.raises(RpcError) as parse:
        jsonrpc.decode(b"{")
    assert parse.value.code == -32700

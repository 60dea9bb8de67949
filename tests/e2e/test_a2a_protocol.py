"""A2A on the wire: JSON-RPC and A2A error codes, the Accept header, and bad input
(which never gets a 500)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

JSON = {"accept": "application/json"}
SSE = {"accept": "text/event-stream"}


def rpc(method: str, params: Any = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": 7, "method": method, **extra}
    if params is not None:
        body["params"] = params
    return body


def send_params(*parts: Any, **message: Any) -> dict[str, Any]:
    return {"message": {"role": "user", "messageId": "m1", "parts": list(parts), **message}}


TEXT = {"kind": "text", "text": "hi"}


async def error_of(http: httpx.AsyncClient, body: Any, path: str = "/a2a/agent", **kw: Any):
    response = await http.post(path, headers=kw.pop("headers", JSON), **kw, json=body)
    assert response.status_code == 200, response.text
    return response.json()["error"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ([rpc("tasks/get", {"id": "x"})], -32600),  # batch
        ({"id": 1, "method": "tasks/get"}, -32600),  # no jsonrpc
        ({"jsonrpc": "2.0", "id": 1}, -32600),  # no method
        ({"jsonrpc": "2.0", "method": "tasks/get", "params": {"id": "x"}}, -32600),  # no id
        ({"jsonrpc": "2.0", "id": [1], "method": "tasks/get"}, -32600),
        ("just a string", -32600),
        (rpc("foo/bar", {}), -32601),
        (rpc("tasks/pushNotificationConfig/set", {}), -32003),
        (rpc("agent/getAuthenticatedExtendedCard", {}), -32007),
        (rpc("tasks/get"), -32602),
        (rpc("tasks/get", [1]), -32602),
        (rpc("tasks/get", {"id": "x"}), -32001),
        (rpc("tasks/get", {"id": str(uuid.uuid4())}), -32001),
        (rpc("tasks/get", {"id": str(uuid.uuid4()), "historyLength": -1}), -32602),
        (rpc("tasks/cancel", {"id": str(uuid.uuid4())}), -32001),
        (rpc("message/send", {}), -32602),
        (rpc("message/send", send_params()), -32602),
        (rpc("message/send", send_params({"kind": "weird"})), -32005),
        (rpc("message/send", send_params("text")), -32005),
        (rpc("message/send", send_params({"kind": "text", "text": 5})), -32602),
        (rpc("message/send", send_params({"kind": "data", "data": [1]})), -32602),
        (rpc("message/send", send_params({"kind": "file", "file": {}})), -32602),
        (rpc("message/send", send_params(TEXT, contextId="not-a-uuid")), -32602),
        (rpc("message/send", send_params(TEXT, taskId=str(uuid.uuid4()))), -32001),
        (rpc("message/send", {**send_params(TEXT), "configuration": 3}), -32602),
        (rpc("message/send", send_params({"kind": "text", "text": "\u0000"})), -32600),
    ],
)
async def test_bad_requests_get_json_rpc_errors(http, body: Any, code: int) -> None:
    assert (await error_of(http, body))["code"] == code


async def test_malformed_json_is_a_parse_error(http) -> None:
    response = await http.post("/a2a/agent", headers=JSON, content=b"{bad")
    assert response.status_code == 200
    assert response.json() == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32700, "message": "Invalid JSON payload"},
    }


async def test_data_parts_are_structured_input(http) -> None:
    part = {"kind": "data", "data": {"conf": {"x": 1}}}
    response = await http.post(
        "/a2a/echo_config", headers=JSON, json=rpc("message/send", send_params(part))
    )
    task = response.json()["result"]
    assert task["status"]["state"] == "completed"
    assert task["artifacts"][0]["parts"][0]["kind"] == "data"


async def test_accept_header_is_required(http) -> None:
    get = rpc("tasks/get", {"id": "x"})
    for headers in ({"accept": ""}, {"accept": "text/html"}):
        response = await http.post("/a2a/agent", headers=headers, json=get)
        assert response.status_code == 400
        assert "application/json" in response.json()["detail"]
    stream = rpc("message/stream", send_params(TEXT))
    response = await http.post("/a2a/agent", headers=JSON, json=stream)
    assert response.status_code == 400
    assert "text/event-stream" in response.json()["detail"]
    response = await http.post("/a2a/agent", headers={"accept": "*/*"}, json=get)
    assert response.json()["error"]["code"] == -32001


async def test_resubscribe_to_an_unknown_task(http) -> None:
    body = rpc("tasks/resubscribe", {"id": str(uuid.uuid4())})
    response = await http.post("/a2a/agent", headers=SSE, json=body)
    assert '"code":-32001' in response.text


async def test_stream_errors_arrive_as_an_event(http) -> None:
    body = rpc("message/stream", send_params({"kind": "weird"}))
    response = await http.post("/a2a/agent", headers=SSE, json=body)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "event: error" in response.text
    assert '"code":-32005' in response.text


async def test_unknown_assistants_are_404(http) -> None:
    missing = str(uuid.uuid4())
    response = await http.post(f"/a2a/{missing}", headers=JSON, json=rpc("tasks/get", {}))
    assert response.status_code == 404
    assert (await http.get(f"/a2a/{missing}/.well-known/agent-card.json")).status_code == 404
    assert (
        await http.get(f"/.well-known/agent-card.json?assistant_id={missing}")
    ).status_code == 404
    assert (await http.get("/.well-known/agent-card.json")).status_code == 422
    assert (await http.delete("/a2a/agent")).status_code == 405


async def test_unsupported_versions_are_refused(http) -> None:
    headers = {**JSON, "a2a-version": "2.0"}
    error = await error_of(http, rpc("GetTask", {"id": "x"}), headers=headers)
    assert error["code"] == -32009


async def test_huge_messages_are_refused(http) -> None:
    text = "x" * (11 * 1024 * 1024)
    body = rpc("message/send", send_params({"kind": "text", "text": text}))
    response = await http.post("/a2a/agent", headers=JSON, json=body)
    assert response.status_code == 413


async def test_openapi_lists_a2a_and_mcp(http) -> None:
    paths = (await http.get("/openapi.json")).json()["paths"]
    assert {"get", "post"} <= set(paths["/a2a/{assistant_id}"])
    assert "get" in paths["/a2a/{assistant_id}/.well-known/agent-card.json"]
    assert "get" in paths["/.well-known/agent-card.json"]
    assert {"post", "delete"} <= set(paths["/mcp"])

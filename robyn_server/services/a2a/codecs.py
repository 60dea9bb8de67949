"""A2A v0.3 and v1.0 on the wire.

The service builds everything in v0.3's shapes. `V03` passes them through; `V10`
converts to v1.0's ProtoJSON shapes (`TASK_STATE_*` and `ROLE_*` enums, parts without
`kind`, `{"task": ...}` / `{"statusUpdate": ...}` wrappers, no `final` flag) and reads
v1.0 requests back into v0.3's. Method names pick the codec: v0.3's are
`message/send`, ..., v1.0's `SendMessage`, ...
"""

from __future__ import annotations

from typing import Any

from robyn_server.services.a2a.messages import CONTENT_TYPE_NOT_SUPPORTED, UNSUPPORTED_PART
from robyn_server.services.jsonrpc import INVALID_PARAMS, RpcError

VERSION_NOT_SUPPORTED = -32009

V03_METHODS = {
    "message/send": "send",
    "message/stream": "stream",
    "tasks/get": "get",
    "tasks/cancel": "cancel",
    "tasks/resubscribe": "resubscribe",
    "tasks/pushNotificationConfig/set": "push",
    "tasks/pushNotificationConfig/get": "push",
    "tasks/pushNotificationConfig/list": "push",
    "tasks/pushNotificationConfig/delete": "push",
    "agent/getAuthenticatedExtendedCard": "extended_card",
}
V10_METHODS = {
    "SendMessage": "send",
    "SendStreamingMessage": "stream",
    "GetTask": "get",
    "CancelTask": "cancel",
    "ListTasks": "list",
    "SubscribeToTask": "resubscribe",
    "CreateTaskPushNotificationConfig": "push",
    "GetTaskPushNotificationConfig": "push",
    "ListTaskPushNotificationConfigs": "push",
    "DeleteTaskPushNotificationConfig": "push",
    "GetExtendedAgentCard": "extended_card",
}
# google.rpc.ErrorInfo reasons v1.0 attaches to its errors (`error.data`).
REASONS = {
    -32001: "TASK_NOT_FOUND",
    -32002: "TASK_NOT_CANCELABLE",
    -32003: "PUSH_NOTIFICATION_NOT_SUPPORTED",
    -32004: "UNSUPPORTED_OPERATION",
    -32005: "CONTENT_TYPE_NOT_SUPPORTED",
    -32007: "EXTENDED_AGENT_CARD_NOT_CONFIGURED",
    -32009: "VERSION_NOT_SUPPORTED",
    -32600: "INVALID_REQUEST",
    -32601: "METHOD_NOT_FOUND",
    -32602: "INVALID_PARAMS",
    -32603: "INTERNAL_ERROR",
    -32700: "PARSE_ERROR",
}


def _int_or_none(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RpcError(INVALID_PARAMS, f"{name} must be a non-negative integer")
    return value


class V03:
    version = "0.3"

    def message_in(self, message: Any) -> Any:
        return message

    def send_options(self, params: dict[str, Any]) -> tuple[int | None, bool]:
        """historyLength, and whether the call waits for the run (`blocking`)."""
        config = params.get("configuration") or {}
        if not isinstance(config, dict):
            raise RpcError(INVALID_PARAMS, "configuration must be an object")
        blocking = config.get("blocking")
        return _int_or_none(config.get("historyLength"), "historyLength"), blocking is not False

    def history_length(self, params: dict[str, Any]) -> int | None:
        return _int_or_none(params.get("historyLength"), "historyLength")

    def task(self, task: dict[str, Any]) -> dict[str, Any]:
        return task

    def send_result(self, task: dict[str, Any]) -> dict[str, Any]:
        return task

    def event(self, item: dict[str, Any]) -> dict[str, Any]:
        return item

    def error(self, exc: RpcError) -> RpcError:
        return exc


# -- v1.0 ------------------------------------------------------------------------------------


def _state(state: str) -> str:
    return "TASK_STATE_" + state.upper().replace("-", "_")


def _part_out(part: dict[str, Any]) -> dict[str, Any]:
    kind = part.get("kind")
    if kind == "text":
        return {"text": part["text"]}
    if kind == "data":
        return {"data": part["data"]}
    file = part.get("file") or {}
    out: dict[str, Any] = {}
    if "uri" in file:
        out["url"] = file["uri"]
    else:
        out["raw"] = file.get("bytes", "")
    if file.get("mimeType"):
        out["mediaType"] = file["mimeType"]
    if file.get("name"):
        out["filename"] = file["name"]
    return out


def _part_in(part: Any) -> dict[str, Any]:
    if not isinstance(part, dict):
        raise RpcError(CONTENT_TYPE_NOT_SUPPORTED, UNSUPPORTED_PART)
    if "text" in part:
        return {"kind": "text", "text": part["text"]}
    if "data" in part:
        data = part["data"]
        # v1.0 data is any JSON value; the run input takes objects, others are wrapped.
        return {"kind": "data", "data": data if isinstance(data, dict) else {"data": data}}
    if "url" in part or "raw" in part:
        file = {"uri": part["url"]} if "url" in part else {"bytes": part["raw"]}
        if part.get("mediaType"):
            file["mimeType"] = part["mediaType"]
        if part.get("filename"):
            file["name"] = part["filename"]
        return {"kind": "file", "file": file}
    raise RpcError(CONTENT_TYPE_NOT_SUPPORTED, UNSUPPORTED_PART)


def _message_out(message: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in message.items() if k not in ("kind", "role", "parts")}
    out["role"] = "ROLE_USER" if message.get("role") == "user" else "ROLE_AGENT"
    out["parts"] = [_part_out(p) for p in message.get("parts", [])]
    return out


def _status_out(status: dict[str, Any]) -> dict[str, Any]:
    out = {**status, "state": _state(status["state"])}
    if "message" in status:
        out["message"] = _message_out(status["message"])
    return out


def _artifact_out(artifact: dict[str, Any]) -> dict[str, Any]:
    return {**artifact, "parts": [_part_out(p) for p in artifact.get("parts", [])]}


class V10(V03):
    version = "1.0"

    def message_in(self, message: Any) -> Any:
        if not isinstance(message, dict):
            return message
        parts = message.get("parts")
        converted = dict(message)
        converted["kind"] = "message"
        if isinstance(parts, list):
            converted["parts"] = [_part_in(p) for p in parts]
        return converted

    def send_options(self, params: dict[str, Any]) -> tuple[int | None, bool]:
        config = params.get("configuration") or {}
        if not isinstance(config, dict):
            raise RpcError(INVALID_PARAMS, "configuration must be an object")
        history = _int_or_none(config.get("historyLength"), "historyLength")
        return history, config.get("returnImmediately") is not True

    def task(self, task: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in task.items() if k != "kind"}
        out["status"] = _status_out(task["status"])
        out["history"] = [_message_out(m) for m in task.get("history", [])]
        out["artifacts"] = [_artifact_out(a) for a in task.get("artifacts", [])]
        return out

    def send_result(self, task: dict[str, Any]) -> dict[str, Any]:
        return {"task": self.task(task)}

    def event(self, item: dict[str, Any]) -> dict[str, Any]:
        kind = item.get("kind")
        if kind == "task":
            return {"task": self.task(item)}
        body = {k: v for k, v in item.items() if k not in ("kind", "final")}
        if kind == "status-update":
            body["status"] = _status_out(item["status"])
            return {"statusUpdate": body}
        body["artifact"] = _artifact_out(item["artifact"])
        return {"artifactUpdate": body}

    def error(self, exc: RpcError) -> RpcError:
        metadata = exc.data if isinstance(exc.data, dict) else {}
        info = {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": REASONS.get(exc.code, "UNKNOWN_ERROR"),
            "domain": "a2a-protocol.org",
            "metadata": metadata,
        }
        return RpcError(exc.code, exc.message, [info])


def codec_for(method: str, version_header: str | None) -> V03:
    """The codec of a request: its method's version, else the `A2A-Version` header's
    (for errors about unknown methods). An unsupported version is -32009."""
    version = (version_header or "").strip()
    major = version.split(".", 1)[0]
    if version and major not in ("0", "1"):
        raise RpcError(
            VERSION_NOT_SUPPORTED,
            f"A2A version '{version}' is not supported; this server speaks 0.3 and 1.0",
        )
    if method in V10_METHODS:
        return V10()
    if method in V03_METHODS:
        return V03()
    return V10() if major == "1" else V03()

"""JSON-RPC 2.0 envelopes, shared by the A2A and MCP endpoints.

Both protocols post one JSON-RPC message per request. Parsing never raises anything but
`RpcError`, so a malformed body (not JSON, a batch array, a missing method) is always
an answer with a JSON-RPC code, never a server error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from robyn_server.serialization import dumps

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603


class RpcError(Exception):
    """An error answered as a JSON-RPC error object."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


@dataclass(slots=True)
class RpcRequest:
    method: str
    params: Any
    id: Any = None
    # False for a notification (or a client's response): nothing is answered.
    has_id: bool = True

    def params_object(self) -> dict[str, Any]:
        """The params as an object: absent params read as `{}`."""
        if self.params is None:
            return {}
        if not isinstance(self.params, dict):
            raise RpcError(INVALID_PARAMS, "Invalid params: must be an object")
        return self.params


def _valid_id(value: Any) -> bool:
    return value is None or (isinstance(value, str | int) and not isinstance(value, bool))


def decode(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RpcError(PARSE_ERROR, "Invalid JSON payload") from None


def parse_message(body: Any) -> RpcRequest | None:
    """A JSON-RPC request or notification; None for a response sent by the client."""
    if not isinstance(body, dict):
        raise RpcError(INVALID_REQUEST, "Invalid message format: expected a JSON object")
    message_id = body.get("id")
    if body.get("jsonrpc") != "2.0":
        raise RpcError(INVALID_REQUEST, "Invalid JSON-RPC message: missing or invalid jsonrpc")
    if not _valid_id(message_id):
        raise RpcError(INVALID_REQUEST, "Invalid JSON-RPC message: id must be a string or number")
    method = body.get("method")
    if method is None and ("result" in body or "error" in body):
        return None
    if not isinstance(method, str) or not method:
        raise RpcError(INVALID_REQUEST, "Invalid JSON-RPC request: missing 'method' field")
    return RpcRequest(method, body.get("params"), message_id, has_id="id" in body)


def request_id(body: Any) -> Any:
    """The id to answer an invalid message with (null when it has none usable)."""
    if isinstance(body, dict) and _valid_id(body.get("id")):
        return body.get("id")
    return None


def result(message_id: Any, value: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": message_id, "result": value}


def error(message_id: Any, exc: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": message_id, "error": exc.body()}


def encode(message: dict[str, Any]) -> bytes:
    return dumps(message)


def sse_frame(message: dict[str, Any], event: str = "message") -> bytes:
    """One JSON-RPC message as an SSE event."""
    return b"event: " + event.encode() + b"\r\ndata: " + dumps(message) + b"\r\n\r\n"

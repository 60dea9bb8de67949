"""A2A messages and parts (v0.3 shapes) to run input, and graph messages back to A2A.

Text and file parts become one human message (`{"messages": [...]}`), so they need a
graph whose input has `messages`; data parts are merged into the input object.
"""

from __future__ import annotations

import uuid
from typing import Any

from robyn_server.services.jsonrpc import INVALID_PARAMS, RpcError

CONTENT_TYPE_NOT_SUPPORTED = -32005
UNSUPPORTED_PART = (
    "Unsupported part type. A2A agents support 'text', 'data', and 'file' parts only."
)
PART_KINDS = ("text", "data", "file")
_ROLES = {"human": "user", "user": "user", "ai": "agent", "AIMessageChunk": "agent"}


def check_message(value: Any) -> dict[str, Any]:
    """The `message` of send params, its parts checked (v0.3 shapes)."""
    if not isinstance(value, dict):
        raise RpcError(INVALID_PARAMS, "Missing or invalid 'message' in params")
    parts = value.get("parts")
    if not isinstance(parts, list) or not parts:
        raise RpcError(INVALID_PARAMS, "Message must contain at least one part")
    for part in parts:
        _check_part(part)
    for key in ("taskId", "contextId", "messageId"):
        if value.get(key) is not None and not isinstance(value[key], str):
            raise RpcError(INVALID_PARAMS, f"message.{key} must be a string")
    return value


def _check_part(part: Any) -> None:
    if not isinstance(part, dict) or part.get("kind") not in PART_KINDS:
        raise RpcError(CONTENT_TYPE_NOT_SUPPORTED, UNSUPPORTED_PART)
    kind = part["kind"]
    if kind == "text" and not isinstance(part.get("text"), str):
        raise RpcError(INVALID_PARAMS, "A text part needs a string 'text'")
    if kind == "data" and not isinstance(part.get("data"), dict):
        raise RpcError(INVALID_PARAMS, "A data part needs an object 'data'")
    if kind == "file":
        file = part.get("file")
        if not isinstance(file, dict) or not (
            isinstance(file.get("uri"), str) or isinstance(file.get("bytes"), str)
        ):
            raise RpcError(INVALID_PARAMS, "A file part needs 'file' with 'uri' or 'bytes'")


def _file_block(file: dict[str, Any]) -> dict[str, Any]:
    mime = file.get("mimeType") or file.get("mime_type")
    kind = "image" if isinstance(mime, str) and mime.startswith("image/") else "file"
    block: dict[str, Any] = {"type": kind}
    if isinstance(file.get("uri"), str):
        block["url"] = file["uri"]
    else:
        block["base64"] = file["bytes"]
    if mime:
        block["mime_type"] = mime
    if file.get("name"):
        block["filename"] = file["name"]
    return block


def run_input(parts: list[dict[str, Any]], input_fields: list[str] | None) -> dict[str, Any]:
    """The run input of a message's parts. `input_fields`: the graph's input fields
    (None when its schema is unknown, which accepts anything)."""
    data: dict[str, Any] = {}
    blocks: list[dict[str, Any]] = []
    for part in parts:
        if part["kind"] == "data":
            data.update(part["data"])
        elif part["kind"] == "text":
            blocks.append({"type": "text", "text": part["text"]})
        else:
            blocks.append(_file_block(part["file"]))
    if not blocks:
        return data
    if input_fields is not None and "messages" not in input_fields:
        fields = ", ".join(input_fields) or "none"
        raise RpcError(
            INVALID_PARAMS,
            "This assistant's input has no 'messages' field, so it takes no text or file "
            f"parts; send a data part with its input fields instead ({fields})",
        )
    only_text = len(blocks) == 1 and blocks[0]["type"] == "text"
    content: Any = blocks[0]["text"] if only_text else blocks
    return {**data, "messages": [{"role": "human", "content": content}]}


def resume_value(parts: list[dict[str, Any]]) -> Any:
    """What a message answering an interrupt resumes it with: a data part's `resume`,
    else the text, else the data."""
    data: dict[str, Any] = {}
    texts: list[str] = []
    for part in parts:
        if part["kind"] == "data":
            if "resume" in part["data"]:
                return part["data"]["resume"]
            data.update(part["data"])
        elif part["kind"] == "text":
            texts.append(part["text"])
    if texts:
        return "\n".join(texts)
    return data


def asks_resume(parts: list[dict[str, Any]]) -> bool:
    return any(p["kind"] == "data" and "resume" in p["data"] for p in parts)


# -- graph messages to A2A -------------------------------------------------------------------


def text_part(text: str) -> dict[str, Any]:
    return {"kind": "text", "text": text}


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [text_part(content)] if content else []
    parts: list[dict[str, Any]] = []
    if isinstance(content, list):
        for block in content:
            if isinstance(block, str):
                parts.append(text_part(block))
            elif isinstance(block, dict) and block.get("type") == "text":
                parts.append(text_part(str(block.get("text", ""))))
            elif isinstance(block, dict) and isinstance(block.get("url"), str):
                file = {"uri": block["url"]}
                if block.get("mime_type"):
                    file["mimeType"] = block["mime_type"]
                parts.append({"kind": "file", "file": file})
            elif isinstance(block, dict):
                parts.append({"kind": "data", "data": block})
    return parts


def agent_message(
    parts: list[dict[str, Any]], task_id: str, context_id: str, message_id: str | None = None
) -> dict[str, Any]:
    return {
        "kind": "message",
        "role": "agent",
        "parts": parts,
        "messageId": message_id or str(uuid.uuid4()),
        "taskId": task_id,
        "contextId": context_id,
    }


def to_a2a(message: Any, task_id: str, context_id: str) -> dict[str, Any] | None:
    """A graph message (as stored: a dict with `type` and `content`) as an A2A message;
    None for messages A2A has no role for (tools, system) or without content."""
    if not isinstance(message, dict):
        return None
    role = _ROLES.get(str(message.get("type") or message.get("role")))
    parts = _content_parts(message.get("content"))
    if role is None or not parts:
        return None
    out = agent_message(parts, task_id, context_id, str(message.get("id") or uuid.uuid4()))
    out["role"] = role
    return out


def last_agent_parts(messages: Any) -> list[dict[str, Any]] | None:
    """The parts of the last AI message with content, or None."""
    if not isinstance(messages, list):
        return None
    for message in reversed(messages):
        if isinstance(message, dict) and _ROLES.get(str(message.get("type"))) == "agent":
            parts = _content_parts(message.get("content"))
            if parts:
                return parts
    return None

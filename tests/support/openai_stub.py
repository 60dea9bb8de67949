"""An OpenAI-compatible chat-completions server on loopback, scripted per test.

It answers `POST /v1/chat/completions` the way the OpenAI API does: with `stream: true`
as `chat.completion.chunk` SSE events (text one word per chunk, tool-call arguments in
pieces, a usage chunk when `stream_options.include_usage` asks for one, then
`data: [DONE]`), otherwise as one `chat.completion` object.

Replies are scripted per model name, so tests sharing one stub (and one server process)
never see each other's replies: each test uses its own model name, queues replies with
`script(model, ...)`, and reads what the client sent with `requests(model)`. A reply is a
`Text`, a `ToolCalls`, a `Failure`, or a callable taking the request body and returning
one of those. A request with nothing scripted gets a 400 that names the model.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.loopback import LoopbackServer


@dataclass
class Text:
    content: str
    delay: float = 0.0  # seconds between streamed chunks


@dataclass
class ToolCall:
    name: str
    args: dict[str, Any]
    id: str = field(default_factory=lambda: f"call_{uuid.uuid4().hex[:12]}")


@dataclass
class ToolCalls:
    calls: list[ToolCall]
    content: str = ""


@dataclass
class Failure:
    status: int
    message: str


Reply = Text | ToolCalls | Failure | Callable[[dict[str, Any]], "Text | ToolCalls | Failure"]


def tool_call(name: str, args: dict[str, Any] | None = None, id: str | None = None) -> ToolCalls:
    call = ToolCall(name, args or {}) if id is None else ToolCall(name, args or {}, id)
    return ToolCalls([call])


@dataclass
class Recorded:
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages", [])

    @property
    def tool_names(self) -> list[str]:
        return [t["function"]["name"] for t in self.body.get("tools") or []]


class OpenAIStub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self._requests: dict[str, list[Recorded]] = defaultdict(list)
        app = Starlette(routes=[Route("/v1/chat/completions", self._complete, methods=["POST"])])
        self._server = LoopbackServer(app)

    @property
    def base_url(self) -> str:
        """What to pass as `base_url` to an OpenAI client."""
        return f"{self._server.base_url}/v1"

    def start(self) -> OpenAIStub:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def script(self, model: str, *replies: Reply) -> None:
        with self._lock:
            self._scripts[model].extend(replies)

    def requests(self, model: str) -> list[Recorded]:
        with self._lock:
            return list(self._requests[model])

    def pending(self, model: str) -> int:
        with self._lock:
            return len(self._scripts[model])

    async def _complete(self, request: Request) -> Response:
        body = await request.json()
        model = body.get("model", "")
        with self._lock:
            self._requests[model].append(Recorded(body, dict(request.headers)))
            reply = self._scripts[model].popleft() if self._scripts[model] else None
        if reply is None:
            return _error(400, f"openai stub: nothing scripted for model {model!r}")
        if callable(reply):
            reply = reply(body)
        if isinstance(reply, Failure):
            return _error(reply.status, reply.message)
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:16]}"
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            chunks = _chunks(completion_id, model, reply, include_usage)
            return StreamingResponse(_sse(chunks, reply), media_type="text/event-stream")
        return JSONResponse(_completion(completion_id, model, reply))


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": "invalid_request_error", "code": None}},
        status_code=status,
    )


def _usage(reply: Text | ToolCalls) -> dict[str, int]:
    completion = len(reply.content.split()) if isinstance(reply, Text) else 5
    return {"prompt_tokens": 10, "completion_tokens": completion, "total_tokens": 10 + completion}


def _tool_call_json(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": json.dumps(call.args)},
    }


def _completion(completion_id: str, model: str, reply: Text | ToolCalls) -> dict[str, Any]:
    if isinstance(reply, Text):
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        finish = "stop"
    else:
        message = {
            "role": "assistant",
            "content": reply.content or None,
            "tool_calls": [_tool_call_json(c) for c in reply.calls],
        }
        finish = "tool_calls"
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": _usage(reply),
    }


def _words(text: str) -> list[str]:
    """'a b c' -> ['a', ' b', ' c']: tokens the way a model streams them."""
    parts = text.split(" ")
    return [parts[0], *(f" {p}" for p in parts[1:])] if text else []


def _chunks(
    completion_id: str, model: str, reply: Text | ToolCalls, include_usage: bool
) -> Iterator[dict[str, Any]]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    if isinstance(reply, Text):
        yield chunk({"role": "assistant", "content": ""})
        for word in _words(reply.content):
            yield chunk({"content": word})
        yield chunk({}, "stop")
    else:
        yield chunk({"role": "assistant", "content": reply.content or None})
        for index, call in enumerate(reply.calls):
            opening = {"index": index, "id": call.id, "type": "function"}
            opening["function"] = {"name": call.name, "arguments": ""}
            yield chunk({"tool_calls": [opening]})
            arguments = json.dumps(call.args)
            middle = max(1, len(arguments) // 2)
            for piece in (arguments[:middle], arguments[middle:]):
                if piece:
                    delta = {"index": index, "function": {"arguments": piece}}
                    yield chunk({"tool_calls": [delta]})
        yield chunk({}, "tool_calls")
    if include_usage:
        usage_chunk = chunk({})
        usage_chunk["choices"] = []
        usage_chunk["usage"] = _usage(reply)
        yield usage_chunk


async def _sse(chunks: Iterator[dict[str, Any]], reply: Text | ToolCalls):
    delay = reply.delay if isinstance(reply, Text) else 0.0
    for item in chunks:
        yield f"data: {json.dumps(item)}\n\n"
        if delay:
            await asyncio.sleep(delay)
    yield "data: [DONE]\n\n"

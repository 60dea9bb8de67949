"""Streaming responses: Server-Sent Events and long-poll JSON bodies.

Robyn's Rust layer adds cache-control (no-store among others), pragma, expires and
x-accel-buffering to every stream itself; repeating them would send them twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from robyn import Headers, StreamingResponse

from robyn_server.http.stream_body import StreamBody

# Robyn's Rust layer adds cache-control (no-store among others), pragma, expires and
# x-accel-buffering to every stream itself; repeating them would send them twice.
SSE_HEADERS = {"content-type": "text/event-stream; charset=utf-8"}


def _response(body: AsyncIterator[bytes], headers: dict[str, str], media: str) -> StreamingResponse:
    # Robyn 0.88 annotates `content` as a generator but only calls __next__ on it, on one
    # of its blocking threads (see stream_body).
    content = StreamBody(body)
    response = StreamingResponse(content, headers=Headers({}), media_type=media)  # type: ignore[arg-type]
    for key, value in headers.items():
        response.headers.set(key, value)
    return response


def sse_response(body: AsyncIterator[bytes], headers: dict[str, str]) -> StreamingResponse:
    return _response(body, {**SSE_HEADERS, **headers}, SSE_HEADERS["content-type"])


def json_stream_response(body: AsyncIterator[bytes], headers: dict[str, str]) -> StreamingResponse:
    return _response(body, {"content-type": "application/json", **headers}, "application/json")


def native_flush() -> None:
    """Call into Robyn's native code, which applies pyo3's deferred releases of dropped
    streams (see `engine.stream_slots.StreamSlots`)."""
    Headers({})

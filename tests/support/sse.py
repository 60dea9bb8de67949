"""Server-sent events as they come off the wire, read with plain httpx.

The one SSE parser of the suite is strict on purpose: it reads a body the way the
reference server frames it, and fails the test on anything else.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

BLOCK_END = b"\r\n\r\n"


def parse_sse(raw: bytes) -> list[dict[str, Any]]:
    """Parse an SSE body strictly as the reference frames it: CRLF lines, blocks ending
    in a blank line, `event` then `data` (one line of JSON) then an optional `id`.
    Heartbeat comments are dropped. Each event is `{"event", "data", "id"}`, with `id`
    None when the block had no id line; an empty body is no events."""
    if not raw:
        return []
    assert raw.endswith(BLOCK_END), raw[-200:]
    blocks = []
    for block in raw[: -len(BLOCK_END)].split(BLOCK_END):
        if block == b": heartbeat":
            continue
        lines = block.split(b"\r\n")
        assert lines[0].startswith(b"event: "), block
        assert lines[1].startswith(b"data: "), block
        assert len(lines) in (2, 3), block
        parsed = {
            "event": lines[0][len(b"event: ") :].decode(),
            "data": orjson.loads(lines[1][len(b"data: ") :]),
            "id": None,
        }
        if len(lines) == 3:
            assert lines[2].startswith(b"id: "), block
            parsed["id"] = lines[2][len(b"id: ") :].decode()
        blocks.append(parsed)
    return blocks


async def read_sse(
    http: httpx.AsyncClient, method: str, url: str, **kwargs: Any
) -> tuple[httpx.Response, list[dict[str, Any]]]:
    """Send a request and read its whole SSE answer."""
    response = await http.request(method, url, **kwargs)
    return response, parse_sse(response.content)


async def raw_stream(
    http: httpx.AsyncClient, path: str, body: dict[str, Any]
) -> tuple[httpx.Response, bytes]:
    """POST a streamed run and read the whole body as sent, undecoded; (response, bytes)."""
    async with http.stream("POST", path, json=body) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    return response, raw

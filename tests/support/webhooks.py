"""A webhook receiver for tests: a tiny HTTP server on loopback inside the test process.

Servers under test that post to it run with WEBHOOK_ALLOW_PRIVATE=true; the default
server refuses loopback URLs.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

DELIVERY_SECONDS = 15.0


class Receiver:
    """Accepts POSTs on 127.0.0.1 and queues (path, headers, JSON body)."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[str, dict[str, str], Any]] = asyncio.Queue()
        self.server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            request_line, *lines = head.split("\r\n")
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", 0)))
            path = request_line.split(" ")[1]
            await self.received.put((path, headers, orjson.loads(body)))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
        finally:
            writer.close()

    async def next(self) -> tuple[str, dict[str, str], Any]:
        return await asyncio.wait_for(self.received.get(), DELIVERY_SECONDS)

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

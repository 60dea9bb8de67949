"""One JSON-RPC call on an assistant's A2A endpoint, and what it answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from robyn_server.auth.caller import Caller
from robyn_server.services import jsonrpc
from robyn_server.services.a2a.codecs import V03
from robyn_server.services.context import AppContext
from robyn_server.services.jsonrpc import RpcRequest
from robyn_server.storage.types import Scope


@dataclass(slots=True)
class Call:
    """One JSON-RPC call on one assistant's endpoint."""

    ctx: AppContext
    caller: Caller
    assistant: dict[str, Any]
    rpc: RpcRequest
    codec: V03
    request_id: str | None = None

    @property
    def assistant_id(self) -> str:
        return str(self.assistant["assistant_id"])

    async def reads(self, **value: Any) -> Scope:
        """The scope in which this call reads tasks and contexts: they are runs and
        threads, so the caller's `threads.read` handler decides."""
        return await self.caller.scope("threads", "read", value)

    def answer(self, value: Any) -> dict[str, Any]:
        return jsonrpc.result(self.rpc.id, value)


@dataclass(slots=True)
class Reply:
    """A JSON body, or a body that streams (`sse`: SSE events; else long-poll JSON)."""

    body: dict[str, Any] | AsyncIterator[bytes]
    sse: bool = False

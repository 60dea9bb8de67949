"""MCP tools, with one live session and tool list per server configuration.

A session is opened the first time a configuration is used and kept (held open by a
background task, as the MCP client's context managers require) for `ttl` seconds, so a
conversation does not reconnect on every message. A server that cannot be reached is
remembered for a few seconds, then tried again. A session that fails during a tool call
is dropped, and the next message reconnects.

Caches belong to one event loop: sessions cannot move between loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import os
import time
import weakref
from dataclasses import dataclass, field

from langchain_core.tools import BaseTool
from langchain_mcp_adapters.sessions import Connection, create_session
from langchain_mcp_adapters.tools import load_mcp_tools

from tools_agent.context import McpServer

__all__ = ["McpServerTools", "McpToolCache", "describe_error", "mcp_cache"]

logger = logging.getLogger(__name__)

DEFAULT_TTL = float(os.environ.get("TOOLS_AGENT_MCP_TTL_SECONDS", "300"))
FAILURE_TTL = 5.0


@dataclass
class McpServerTools:
    """What one server offers this run: its allowed tools, or why there are none."""

    server: McpServer
    key: str
    tools: list[BaseTool] = field(default_factory=list)
    error: str | None = None


def describe_error(exc: BaseException) -> str:
    """A one-line description of the innermost error (task groups wrap the real one)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Session:
    """A live MCP session and its tool list, held open by a task of its own."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.tools: list[BaseTool] = []
        self._ready = asyncio.Event()
        self._closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    async def open(self, seconds: float) -> None:
        # A fresh context: the session outlives the run that opened it, and must not keep
        # that run's config (and whatever it holds) alive.
        self._task = asyncio.get_running_loop().create_task(
            self._hold(), context=contextvars.Context()
        )
        self._task.add_done_callback(_log_end)
        ready = asyncio.ensure_future(self._ready.wait())
        try:
            done, _ = await asyncio.wait(
                {ready, self._task}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
            )
        except BaseException:
            # The run opening it was cancelled: nobody else would ever close this session.
            self._closing.set()
            self._task.cancel()
            raise
        finally:
            ready.cancel()
        if self._ready.is_set():
            return
        if self._task in done:
            raise self._task.exception() or RuntimeError("MCP session closed while opening")
        await self.close()
        raise TimeoutError(f"no answer within {seconds:g} s")

    async def _hold(self) -> None:
        async with create_session(self.connection) as session:
            await session.initialize()
            self.tools = await load_mcp_tools(session)
            self._ready.set()
            await self._closing.wait()

    async def close(self) -> None:
        self._closing.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), 5)
        except BaseException:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task


def _log_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        logger.info("MCP session ended: %s", describe_error(exc))


@dataclass
class _Entry:
    session: _Session | None
    error: str | None
    expires: float
    grace: float = 0.0  # how long calls on the session may still run after it expired


class McpToolCache:
    def __init__(self, ttl: float = DEFAULT_TTL) -> None:
        self.ttl = ttl
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._closing: set[asyncio.Task[None]] = set()

    @staticmethod
    def key(server: McpServer) -> str:
        return json.dumps(server.connection(), sort_keys=True, default=str)

    async def tools_for(self, server: McpServer) -> McpServerTools:
        """The server's tools (allowlist applied), or the reason it has none now."""
        key = self.key(server)
        self._sweep()
        entry = await self._entry(key, server)
        result = McpServerTools(server=server, key=key, error=entry.error)
        if entry.session is not None:
            allowed = set(server.tools) if server.tools is not None else None
            result.tools = [t for t in entry.session.tools if allowed is None or t.name in allowed]
        return result

    async def _entry(self, key: str, server: McpServer) -> _Entry:
        entry = self._entries.get(key)
        if entry is not None and self._usable(entry):
            return entry
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            entry = self._entries.get(key)
            if entry is not None and self._usable(entry):
                return entry
            if entry is not None and entry.session is not None:
                self._retire(entry.session, grace=entry.grace)
            self._entries[key] = entry = await self._connect(server)
            return entry

    def _sweep(self) -> None:
        """Close the sessions of configurations nobody used within the TTL."""
        now = time.monotonic()
        for key, entry in list(self._entries.items()):
            lock = self._locks.get(key)
            if now >= entry.expires and not (lock is not None and lock.locked()):
                del self._entries[key]
                if entry.session is not None:
                    self._retire(entry.session, grace=entry.grace)

    def _usable(self, entry: _Entry) -> bool:
        fresh = time.monotonic() < entry.expires
        return fresh and (entry.session is None or entry.session.alive)

    async def _connect(self, server: McpServer) -> _Entry:
        session = _Session(server.connection())
        try:
            await session.open(server.timeout)
        except Exception as exc:
            error = describe_error(exc)
            logger.warning("MCP server %s is unavailable: %s", server.label, error)
            return _Entry(None, error, time.monotonic() + min(FAILURE_TTL, self.ttl))
        return _Entry(session, None, time.monotonic() + self.ttl, grace=server.timeout)

    def invalidate(self, key: str) -> None:
        """Forget a server's session (after it failed); the next use reconnects."""
        entry = self._entries.pop(key, None)
        if entry is not None and entry.session is not None:
            self._retire(entry.session, grace=0)

    def _retire(self, session: _Session, grace: float) -> None:
        """Close a replaced session once calls that may still use it had time to end."""

        async def later() -> None:
            await asyncio.sleep(grace)
            await session.close()

        task = asyncio.get_running_loop().create_task(later())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        entries, self._entries = self._entries, {}
        sessions = [e.session for e in entries.values() if e.session is not None]
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
        for task in list(self._closing):
            task.cancel()
        await asyncio.gather(*self._closing, return_exceptions=True)


_caches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, McpToolCache] = (
    weakref.WeakKeyDictionary()
)


def mcp_cache() -> McpToolCache:
    """The cache of the running event loop."""
    loop = asyncio.get_running_loop()
    cache = _caches.get(loop)
    if cache is None:
        cache = _caches[loop] = McpToolCache()
    return cache

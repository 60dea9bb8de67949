"""A real MCP server (the `mcp` package's FastMCP) on loopback, over both transports.

One process-local server answers streamable HTTP at `/mcp` and SSE at `/sse`. Its tools:
`add(a, b)`, `echo(text)`, `fail(message)` (an MCP tool error), and `whoami()` (the
`Authorization` header the call arrived with). Every tool call and every HTTP request
(method, path, headers) are recorded so tests can see what reached the server. `stop()` takes it
down (to test a server that went away); `start()` brings it back on the same port.
"""

from __future__ import annotations

import threading
from typing import Any

from mcp.server.fastmcp import Context, FastMCP
from starlette.applications import Starlette

from tests.support.loopback import LoopbackServer

# An MCP URL nothing answers: port 9 is the discard port, where nothing listens.
UNUSED_PORT_URL = "http://127.0.0.1:9/mcp"


class McpTestServer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.request_headers: list[dict[str, str]] = []
        self.requests: list[tuple[str, str]] = []  # (method, path)
        self._server: LoopbackServer | None = None
        self._port = 0

    @property
    def streamable_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/mcp"

    @property
    def sse_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/sse"

    def start(self) -> McpTestServer:
        self._server = LoopbackServer(self._app(), port=self._port).start()
        self._port = self._server.port
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def sessions_opened(self) -> int:
        """Sessions clients opened: SSE connections, and streamable HTTP requests that
        carried no session id (the `initialize` that starts a session)."""
        with self._lock:
            pairs = list(zip(self.requests, self.request_headers, strict=True))
        return sum(
            1
            for (method, path), headers in pairs
            if (method, path) == ("GET", "/sse")
            or ((method, path) == ("POST", "/mcp") and "mcp-session-id" not in headers)
        )

    def calls_of(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            return [args for tool, args in self.calls if tool == name]

    def _record(self, name: str, args: dict[str, Any]) -> None:
        with self._lock:
            self.calls.append((name, args))

    def _app(self) -> Starlette:
        mcp = FastMCP("tools-agent-test")

        @mcp.tool()
        def add(a: int, b: int) -> int:
            """Add two integers."""
            self._record("add", {"a": a, "b": b})
            return a + b

        @mcp.tool()
        def echo(text: str) -> str:
            """Repeat the text back."""
            self._record("echo", {"text": text})
            return text

        @mcp.tool()
        def fail(message: str) -> str:
            """Always fails with the given message."""
            self._record("fail", {"message": message})
            raise ValueError(message)

        @mcp.tool()
        def whoami(ctx: Context) -> str:
            """The Authorization header this call was made with."""
            self._record("whoami", {})
            request = ctx.request_context.request
            return (request.headers.get("authorization") if request else None) or "nobody"

        streamable = mcp.streamable_http_app()
        sse = mcp.sse_app()
        app = Starlette(
            routes=[*streamable.routes, *sse.routes],
            lifespan=lambda _app: mcp.session_manager.run(),
        )
        recorder = self

        async def recording_app(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                headers = {k.decode(): v.decode() for k, v in scope["headers"]}
                with recorder._lock:
                    recorder.request_headers.append(headers)
                    recorder.requests.append((scope["method"], scope["path"]))
            await app(scope, receive, send)

        return recording_app

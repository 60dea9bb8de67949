"""The Robyn application: route tables mounted with CORS, 405s and catch-alls, and the
listening socket it serves on.

Import this module only after `cli` has cleaned `sys.argv`: Robyn parses the command
line when it is imported and would otherwise take our flags for its own.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable

import robyn.processpool
from robyn import HttpMethod, Request, Response, Robyn
from robyn.robyn import SocketHeld

from robyn_server.config import Settings
from robyn_server.http.auth import RequestAuth
from robyn_server.http.cors import CorsPolicy
from robyn_server.http.method_index import MethodIndex
from robyn_server.http.responses import error_response, method_not_allowed
from robyn_server.http.routing import RouteTable, wrap
from robyn_server.http.stream_body import GATE

logger = logging.getLogger("robyn_server")

EXPOSED_HEADERS = "content-location, location, x-pagination-total, x-pagination-next"
ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
# Methods Robyn routes to Python. Others (QUERY, ...) get Robyn's own plain-text 405
# before any Python runs (docs/robyn-payload-panic.md); CONNECT never reaches a route.
ROUTABLE_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "TRACE")
# Robyn's Rust layer parses multipart/form-data bodies itself, before any Python runs, and
# a malformed one (no boundary) becomes a plain-text 500 that leaves the keep-alive
# connection hanging. This API reads JSON whatever the declared type, as the reference
# does, so Robyn must never see a multipart type. Robyn 0.88 registers its global request
# and response headers as the same actix app-data type, so the *response* headers are
# what it appends to every request's headers; it then decides by the last content-type
# value. A global response content-type therefore hides the client's from that parser,
# and on responses it only fills in where a handler set none (204s). A test sends a
# multipart request without a boundary, so a Robyn upgrade that changes this is caught.
DEFAULT_CONTENT_TYPE = "application/json"
# What `build_app` makes; the app layer names it without importing Robyn.
App = Robyn


def _configure_cors(app: Robyn, origins: list[str]) -> CorsPolicy | None:
    """Global headers reach every response, streams included (after-middleware would
    not), so a wildcard policy costs nothing per request."""
    app.set_response_header("access-control-expose-headers", EXPOSED_HEADERS)
    if "*" in origins:
        app.set_response_header("access-control-allow-origin", "*")
        return None
    return CorsPolicy(origins)


def _tune_streams(settings: Settings) -> None:
    """Thousands of open streams are thousands of Robyn threads taking turns at the GIL
    (http/stream_body.py): how long the loop keeps it when they ask, and how many of
    them are woken at once."""
    if settings.gil_switch_interval_ms > 0:
        sys.setswitchinterval(settings.gil_switch_interval_ms / 1000)
    GATE.limit = settings.stream_wake_limit
    if warning := settings.open_stream_limit_warning:
        logger.warning(warning)


def build_app(
    settings: Settings,
    tables: list[RouteTable],
    startup: Callable[[], Awaitable[None]],
    shutdown: Callable[[], Awaitable[None]],
    auth: RequestAuth | None = None,
) -> App:
    """The app serving `tables`; with `auth`, every route that is not public
    authenticates its request before its handler runs."""
    app = Robyn(__file__)
    app.config.disable_openapi = True  # we serve our own /openapi.json and /docs
    app.config.workers = settings.workers
    app.config.processes = 1
    _tune_streams(settings)
    cors = _configure_cors(app, settings.cors_allow_origins)
    max_body = settings.max_request_body_bytes

    app.set_response_header("content-type", DEFAULT_CONTENT_TYPE)

    infos = [info for table in tables for info in table.routes]
    methods = MethodIndex(
        [("HEAD", "/ok"), ("HEAD", "/"), *((info.method, info.path) for info in infos)]
    )
    for info in infos:
        identify = auth.for_route(info.public) if auth is not None else None
        handler = (
            info.handler
            if info.raw
            else wrap(info.handler, max_body, cors, methods.shadowed(info.path), identify)
        )
        app.add_route(info.method, info.path, handler)

    async def preflight(request: Request) -> Response:
        headers = {
            "access-control-allow-methods": ALLOWED_METHODS,
            "access-control-allow-headers": request.headers.get("access-control-request-headers")
            or "*",
            "access-control-max-age": "600",
            "access-control-allow-private-network": "true",
        }
        response = Response(204, headers, b"")
        if cors is not None:
            cors.apply(request, response)
        return response

    async def ok_head(request: Request) -> Response:
        return Response(200, {"content-type": "application/json"}, b"")

    async def unrouted(request: Request) -> Response:
        allowed = methods.allowed(request.url.path)
        response = method_not_allowed(allowed) if allowed else error_response(404, "Not Found")
        if cors is not None:
            cors.apply(request, response)
        return response

    # Health checkers often probe with HEAD.
    for path in ("/ok", "/"):
        app.add_route("HEAD", path, ok_head)
    app.add_route("OPTIONS", "/*path", preflight)
    for method in ROUTABLE_METHODS:
        # The enum: Robyn's table of method names lacks TRACE. "/*path" does not match
        # "/" itself, which gets its own catch-all for the methods it does not take.
        app.add_route(getattr(HttpMethod, method), "/*path", unrouted)
        if method not in methods.allowed("/"):
            app.add_route(getattr(HttpMethod, method), "/", unrouted)

    app.startup_handler(startup)
    app.shutdown_handler(shutdown)
    return app


def bind_listener(host: str, port: int) -> SocketHeld:
    """The listening socket, bound as Robyn binds its own (SO_REUSEADDR, SO_REUSEPORT)."""
    return SocketHeld(host, port)


def serve_on(app: Robyn, listener: SocketHeld, host: str, port: int) -> None:
    """Run Robyn until the process exits, accepting on `listener`.

    The supervisor binds the socket before it forks this process, so the socket and its
    backlog outlive a crashed server. Robyn 0.88's start() binds a socket of its own in
    `processpool.run_processes`; this hands it ours instead (robyn is pinned to 0.88.0).
    """
    # A factory stands in for Robyn's class on purpose, which mypy rejects (misc: "cannot
    # assign to a type"; assignment: a lambda is not the class).
    robyn.processpool.SocketHeld = lambda _host, _port: listener  # type: ignore[misc,assignment]
    app.start(host=host, port=port, _check_port=False)

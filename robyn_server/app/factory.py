"""The server process's application: our routes on Robyn, and our start-up and shutdown.

Import this module only after `cli` has cleaned `sys.argv`: it imports Robyn, which
parses the command line when it is imported and would otherwise take our flags.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from robyn_server.app.lifecycle import start, stop
from robyn_server.http.auth import RequestAuth
from robyn_server.http.server import App, build_app
from robyn_server.http.sse import native_flush
from robyn_server.routes import ROUTE_TABLES
from robyn_server.services.context import AppContext

logger = logging.getLogger("robyn_server")


def create_app(ctx: AppContext) -> App:
    async def startup() -> None:
        ctx.loop = asyncio.get_running_loop()
        try:
            await start(ctx, native_flush)
            if ctx.on_ready is not None:
                ctx.on_ready()
        except BaseException as exc:
            # Robyn aborts with a Rust panic if startup raises; leave with a clean message.
            logger.error("Startup failed: %s", exc)
            logging.shutdown()
            sys.stderr.flush()
            os._exit(1)

    async def shutdown() -> None:
        await stop(ctx)

    auth = RequestAuth(ctx.auth) if ctx.auth is not None else None
    return build_app(ctx.settings, ROUTE_TABLES, startup, shutdown, auth)

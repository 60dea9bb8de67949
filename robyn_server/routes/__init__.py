"""One module per resource: parse the request, call one service, serialize the answer."""

from __future__ import annotations

from robyn_server.http.routing import RouteTable
from robyn_server.routes import (
    a2a,
    assistants,
    crons,
    docs,
    mcp,
    run_joins,
    runs,
    store,
    system,
    thread_state,
    thread_stream,
    threads,
)

ROUTE_TABLES: list[RouteTable] = [
    system.table,
    assistants.table,
    threads.table,
    thread_state.table,
    thread_stream.table,
    runs.table,
    run_joins.table,
    crons.table,
    store.table,
    a2a.table,
    mcp.table,
]
# The document describes every table, its own included; after /ok, /health and /info.
ROUTE_TABLES.insert(1, docs.docs_table(ROUTE_TABLES))

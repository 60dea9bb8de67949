"""One module per resource: parse the request, call one service, serialize the answer."""

from __future__ import annotations

from robyn_server.http import RouteTable
from robyn_server.routes import assistants, store, system, threads

ROUTE_TABLES: list[RouteTable] = [system.table, assistants.table, threads.table, store.table]

"""`PostgresStorage`: the `Storage` contract on PostgreSQL (schema `langgraph_server`).

The queries live with their methods in assistants.py, threads.py, runs.py and crons.py;
this module only assembles them. The pool is shared with LangGraph's checkpointer and
store and is owned by `app.persistence`: storage borrows connections and never closes it.
Tables come from migrations/, applied at start-up by `migrate.apply_migrations`.
"""

from __future__ import annotations

import psycopg
from psycopg_pool import PoolTimeout

from robyn_server.storage.base import Storage
from robyn_server.storage.postgres.assistants import AssistantQueries
from robyn_server.storage.postgres.crons import CronQueries
from robyn_server.storage.postgres.runs import RunQueries
from robyn_server.storage.postgres.threads import ThreadQueries
from robyn_server.storage.postgres.workers import WorkerQueries
from robyn_server.storage.types import StorageUnavailable


class PostgresStorage(
    AssistantQueries, ThreadQueries, RunQueries, WorkerQueries, CronQueries, Storage
):
    """Expects pool connections with autocommit, prepare_threshold=0, dict_row and the
    session time zone set to UTC (app.persistence.open_persistence configures all four)."""

    # OperationalError: the server went away, refused the connection, or is shutting
    # down. PoolTimeout: no connection could be had, typically while the pool is
    # reconnecting (an OperationalError too; named for the reader). Neither says
    # anything about the call itself. The pool's PoolClosed is one as well, but it only
    # happens at shutdown, when the engine stops retrying anyway.
    transient_errors = (psycopg.OperationalError, PoolTimeout)

    async def reachable(self) -> bool:
        try:
            async with self._pool.connection(timeout=5) as conn:
                await conn.execute("SELECT 1")
            return True
        except Exception:
            return False


for _error in PostgresStorage.transient_errors:
    StorageUnavailable.register(_error)

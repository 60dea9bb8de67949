"""`PostgresStorage`: the `Storage` contract on PostgreSQL (schema `langgraph_server`).

The queries live with their methods in postgres_assistants.py, postgres_threads.py and
postgres_runs.py; this module only assembles them. The pool is shared with LangGraph's
checkpointer and store and is owned by database.py: storage borrows connections and
never closes it.
Tables come from storage/migrations/, applied by `database.run_migrations`.
"""

from __future__ import annotations

from robyn_server.storage.base import Storage
from robyn_server.storage.postgres_assistants import AssistantQueries
from robyn_server.storage.postgres_runs import RunQueries
from robyn_server.storage.postgres_threads import ThreadQueries


class PostgresStorage(AssistantQueries, ThreadQueries, RunQueries, Storage):
    """Expects pool connections with autocommit, prepare_threshold=0, dict_row and the
    session time zone set to UTC (database.open_persistence configures all four)."""

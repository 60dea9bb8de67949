"""Persistence for assistants and threads: one interface, two interchangeable backends."""

from robyn_server.storage.base import Storage
from robyn_server.storage.memory.storage import InMemoryStorage
from robyn_server.storage.postgres.storage import PostgresStorage
from robyn_server.storage.types import (
    ANONYMOUS,
    ASSISTANT_SORT_COLUMNS,
    THREAD_SORT_COLUMNS,
    THREAD_STATUSES,
    UNSET,
    IfExists,
    Page,
    Scope,
    SortOrder,
    StorageConflict,
)

__all__ = [
    "ANONYMOUS",
    "ASSISTANT_SORT_COLUMNS",
    "THREAD_SORT_COLUMNS",
    "THREAD_STATUSES",
    "UNSET",
    "IfExists",
    "InMemoryStorage",
    "Page",
    "PostgresStorage",
    "Scope",
    "SortOrder",
    "Storage",
    "StorageConflict",
]

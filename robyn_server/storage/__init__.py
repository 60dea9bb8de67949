"""Persistence for assistants and threads: one interface, two interchangeable backends."""

from robyn_server.storage.base import (
    ANONYMOUS,
    ASSISTANT_SORT_COLUMNS,
    THREAD_SORT_COLUMNS,
    THREAD_STATUSES,
    UNSET,
    IfExists,
    Page,
    Scope,
    SortOrder,
    Storage,
    StorageConflict,
)
from robyn_server.storage.memory import InMemoryStorage
from robyn_server.storage.postgres import PostgresStorage

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

"""`InMemoryStorage`: the `Storage` contract on plain dicts, for dev servers and tests.

It mirrors `PostgresStorage` rule for rule (the contract suite runs against both), so
switching backends never changes what a client sees. State lives only in this process.
Stored dicts never leave it: values are stored as jsonb would hand them back (a JSON
round trip, `threads.stored`) and records are copied out. Assistants live in
assistants.py, threads in threads.py, runs in runs.py, crons in crons.py; this module
only assembles them.
"""

from __future__ import annotations

from robyn_server.storage.base import Storage
from robyn_server.storage.memory.crons import CronsInMemory


class InMemoryStorage(CronsInMemory, Storage):
    """All of `Storage`, in this process's memory."""

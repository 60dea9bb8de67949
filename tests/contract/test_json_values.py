"""Both backends hand back what jsonb hands back: a JSON round trip of what was stored.

Postgres stores JSON values as jsonb, so a tuple comes back as a list and an integer key
as a string. The memory backend must do the same, or code that works in memory (the
default) breaks on Postgres, or the reverse."""

from __future__ import annotations

import uuid

from robyn_server.storage.base import Storage
from robyn_server.storage.types import ANONYMOUS

SENT = {"pair": (1, 2), 7: "seven", "nested": {"flags": (True, None), 0: [("a", 1)]}}
BACK = {"pair": [1, 2], "7": "seven", "nested": {"flags": [True, None], "0": [["a", 1]]}}


async def test_thread_metadata_and_state_round_trip_as_json(storage: Storage) -> None:
    thread_id = str(uuid.uuid4())
    metadata = {"m": dict(SENT)}
    created = await storage.thread_create(ANONYMOUS, thread_id=thread_id, metadata=metadata)
    assert created["metadata"] == {"m": BACK}
    metadata["m"]["pair"] = "changed after the call"  # the caller's object is not kept
    await storage.thread_set_state(ANONYMOUS, thread_id, values=SENT, interrupts={})
    thread = await storage.thread_get(ANONYMOUS, thread_id)
    assert thread is not None
    assert thread["metadata"] == {"m": BACK}
    assert thread["values"] == BACK
    # Filters see the stored form: the integer key is now the string "7".
    found = await storage.thread_search(ANONYMOUS, values={"7": "seven"}, limit=10, offset=0)
    assert thread_id in [t["thread_id"] for t in found.items]


async def test_assistant_config_context_and_metadata_round_trip_as_json(
    storage: Storage,
) -> None:
    created = await storage.assistant_create(
        ANONYMOUS,
        assistant_id=str(uuid.uuid4()),
        graph_id="agent",
        config={"configurable": dict(SENT)},
        context=dict(SENT),
        metadata=dict(SENT),
        name="json",
        description=None,
    )
    assert created["config"] == {"configurable": BACK}
    assert created["context"] == BACK
    assert created["metadata"] == BACK
    again = await storage.assistant_get(ANONYMOUS, created["assistant_id"])
    assert again is not None
    assert (again["config"], again["context"], again["metadata"]) == (
        {"configurable": BACK},
        BACK,
        BACK,
    )

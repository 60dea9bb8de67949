"""The legacy `messages` stream mode: whole messages instead of token deltas.

Clients of this mode (older langgraph-sdk code, some UIs) get, per message id:
`messages/metadata` once, then `messages/partial` with everything streamed so far for a
message that arrives in chunks, or `messages/complete` for one that arrives whole. The
partial is a plain message (type "ai", not "AIMessageChunk"): tool-call chunks show up as
`tool_calls` whose arguments are parsed as far as they go.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import BaseMessage, BaseMessageChunk, message_chunk_to_message


class LegacyMessages:
    """Accumulates the message chunks of one run; one instance per run."""

    __slots__ = ("_announced", "_partials")

    def __init__(self) -> None:
        self._announced: set[Any] = set()
        self._partials: dict[Any, BaseMessageChunk] = {}

    def events(self, message: BaseMessage, metadata: dict[str, Any]) -> list[tuple[str, Any]]:
        """The events for one item of LangGraph's `messages` stream."""
        events: list[tuple[str, Any]] = []
        message_id = message.id
        if message_id not in self._announced:
            self._announced.add(message_id)
            events.append(("messages/metadata", {message_id: {"metadata": metadata}}))
        if isinstance(message, BaseMessageChunk):
            so_far = self._partials.get(message_id)
            so_far = message if so_far is None else so_far + message
            self._partials[message_id] = so_far
            events.append(("messages/partial", [message_chunk_to_message(so_far).model_dump()]))
        else:
            events.append(("messages/complete", [message.model_dump()]))
        return events

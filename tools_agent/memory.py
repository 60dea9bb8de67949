"""Long-term memory: `remember`, `recall` and `forget` on the LangGraph store.

Memories live under a namespace built from the `memory_namespace` template (by default
`memories/{user_id}`), so they are shared by every thread of a user and readable through
the server's `/store` API. Each memory is one item `{"content": "..."}`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from langgraph.store.base import BaseStore

__all__ = ["ANONYMOUS", "MEMORY_TOOL_NAMES", "memory_namespace", "memory_tools", "user_id_of"]

ANONYMOUS = "anonymous"
MEMORY_TOOL_NAMES = ("remember", "recall", "forget")
# Without a semantic index, recall ranks this many recent memories by shared words.
_SCAN_LIMIT = 200
_WORD = re.compile(r"\w+")


def user_id_of(configurable: Mapping[str, Any]) -> str:
    """The authenticated user of a run, as the server reports it; "anonymous" without auth."""
    return authenticated_user(configurable) or _client_user(configurable) or ANONYMOUS


def authenticated_user(configurable: Mapping[str, Any]) -> str | None:
    """Who the server authenticated for this run, or None when it has no auth."""
    for candidate in (
        configurable.get("langgraph_auth_user_id"),
        _identity(configurable.get("langgraph_auth_user")),
    ):
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


def _client_user(configurable: Mapping[str, Any]) -> str | None:
    user_id = configurable.get("user_id")
    return user_id if isinstance(user_id, str) and user_id else None


def _identity(user: Any) -> str | None:
    if isinstance(user, Mapping):
        return user.get("identity")
    return getattr(user, "identity", None)


def _label(value: Any) -> str:
    # Store labels cannot contain "."; escaping keeps distinct ids distinct (a.b vs a%2Eb).
    return str(value).replace("%", "%25").replace(".", "%2E") or ANONYMOUS


def memory_namespace(template: str, configurable: Mapping[str, Any]) -> tuple[str, ...]:
    """The store namespace of a run's memories, from the `memory_namespace` template.

    With an authenticated user, memories live under the user's own first label, the rest
    of the template after it (its bare `{user_id}` labels dropped: the first label is the
    user): the template is a setting any client may send, and must not reach another
    user's memories. It is also where the usual store auth handler keeps each user's
    items (the identity first), so /store shows users their memories."""
    values = {
        "user_id": _label(user_id_of(configurable)),
        "assistant_id": _label(configurable.get("assistant_id") or "default"),
        "graph_id": _label(configurable.get("graph_id") or "agent"),
    }
    labels = [label for label in template.split("/") if label]
    user = authenticated_user(configurable)
    if user is None:
        return tuple(label.format(**values) for label in labels)
    rest = [label.format(**values) for label in labels if label != "{user_id}"]
    return (_label(user), *rest)


def memory_tools(store: BaseStore, namespace: tuple[str, ...]) -> list[BaseTool]:
    async def remember(content: str, memory_id: str | None = None) -> str:
        key = memory_id or uuid.uuid4().hex[:12]
        await store.aput(namespace, key, {"content": content})
        return f"Remembered (memory_id={key})."

    async def recall(query: str = "", limit: int = 5) -> str:
        limit = max(1, min(limit, 50))
        if query and getattr(store, "index_config", None):
            items = await store.asearch(namespace, query=query, limit=limit)
            note = ""
        else:
            items, note = _rank(await store.asearch(namespace, limit=_SCAN_LIMIT), query, limit)
        if not items:
            return "No memories yet."
        lines = [f"- [{item.key}] {item.value.get('content', item.value)}" for item in items]
        return note + "\n".join(lines)

    async def forget(memory_id: str) -> str:
        if await store.aget(namespace, memory_id) is None:
            return f"No memory with memory_id={memory_id}."
        await store.adelete(namespace, memory_id)
        return f"Forgot memory_id={memory_id}."

    return [
        StructuredTool.from_function(
            coroutine=remember,
            name="remember",
            description="Save a fact to long-term memory, kept across conversations. "
            "Pass memory_id to replace an existing memory.",
        ),
        StructuredTool.from_function(
            coroutine=recall,
            name="recall",
            description="Look up long-term memories relevant to a query (or the most "
            "recent ones without a query). Returns them with their memory_id.",
        ),
        StructuredTool.from_function(
            coroutine=forget,
            name="forget",
            description="Delete one long-term memory by its memory_id.",
        ),
    ]


def _rank(items: list[Any], query: str, limit: int) -> tuple[list[Any], str]:
    """Memories sharing the most words with the query (newest first among equals);
    the most recent ones, said so, when none shares a word."""
    items = sorted(items, key=lambda item: item.updated_at, reverse=True)
    words = {w.lower() for w in _WORD.findall(query)}
    if not words:
        return items[:limit], ""

    def score(item: Any) -> int:
        text = str(item.value.get("content", item.value)).lower()
        return len(words & set(_WORD.findall(text)))

    matching = [item for item in items if score(item) > 0]
    if not matching:
        return items[:limit], "Nothing matched the query; the most recent memories:\n"
    return sorted(matching, key=score, reverse=True)[:limit], ""

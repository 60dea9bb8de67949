"""The runtime context a graph receives, fitted to its `context_schema`.

A run's settings arrive as one dict (`config.configurable` and `context` are the same
settings, see `services.run_create`), so they hold keys the graph's schema may not
declare. LangGraph builds a dataclass or pydantic context schema with `schema(**context)`,
which fails on an unknown key (a dataclass always; pydantic with `extra="forbid"`). As the
reference server does, such a schema gets only the fields it declares, and is built even
when the run sent nothing, so a graph can rely on its defaults. A TypedDict schema, or none,
gets the settings as they are (None when empty).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel


def _declared_fields(schema: Any) -> set[str] | None:
    """The keys a class schema takes, or None when it is not a class LangGraph builds."""
    if not isinstance(schema, type):
        return None
    if issubclass(schema, BaseModel):
        if schema.model_config.get("extra") == "allow":
            return None  # it takes every key
        names = set(schema.model_fields)
        names.update(f.alias for f in schema.model_fields.values() if f.alias)
        return names
    if dataclasses.is_dataclass(schema):
        return {f.name for f in dataclasses.fields(schema) if f.init}
    return None


def graph_context(graph: Any, context: dict[str, Any] | None) -> Any:
    """The `context` to run `graph` with."""
    declared = _declared_fields(getattr(graph, "context_schema", None))
    if declared is None:
        return context or None
    return {k: v for k, v in (context or {}).items() if k in declared}

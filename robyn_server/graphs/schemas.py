"""JSON Schemas and drawings of compiled graphs, in the shapes the API returns.

Schema generation runs user types through pydantic and can fail for exotic annotations;
the API contract says a failed schema is `null`, so every generator here is isolated and
never raises.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import is_dataclass
from inspect import isclass
from typing import Any

from langgraph.channels.base import BaseChannel
from langgraph.graph.state import CompiledStateGraph
from langgraph.pregel import Pregel
from pydantic import BaseModel, TypeAdapter, create_model
from typing_extensions import is_typeddict

__all__ = ["SCHEMA_KEYS", "draw_graph_json", "graph_schemas"]

logger = logging.getLogger(__name__)

# Channels langgraph adds for its own bookkeeping (START/END, edge triggers).
_INTERNAL_CHANNELS = ("__", "branch:")

SCHEMA_KEYS = ("input_schema", "output_schema", "state_schema", "config_schema", "context_schema")


def graph_schemas(graph: Any) -> dict[str, dict[str, Any] | None]:
    """The five schemas of a graph; each is None when it cannot be generated."""
    return {
        "input_schema": _safe(graph, "input", lambda: graph.get_input_jsonschema()),
        "output_schema": _safe(graph, "output", lambda: graph.get_output_jsonschema()),
        "state_schema": _safe(graph, "state", lambda: state_jsonschema(graph)),
        "config_schema": _safe(graph, "config", lambda: config_jsonschema(graph)),
        "context_schema": _safe(graph, "context", lambda: graph.get_context_jsonschema()),
    }


def state_jsonschema(graph: Any) -> dict[str, Any] | None:
    if isinstance(graph, CompiledStateGraph):
        schema = graph.builder.state_schema
        if isclass(schema) and issubclass(schema, BaseModel):
            return schema.model_json_schema()
        if is_typeddict(schema) or is_dataclass(schema):
            return TypeAdapter(schema).json_schema()
    if not isinstance(graph, Pregel):
        return None
    # Plain Pregel graphs (functional API, hand-built) have no declared state type, so
    # the state is described by what the channels hold. Each value is a (type, default)
    # pair; typed Any because create_model's other keyword parameters (__config__, ...)
    # would otherwise not accept a `**` of tuples.
    fields: dict[str, Any] = {
        name: (channel.ValueType, None)
        for name, channel in graph.channels.items()
        if isinstance(channel, BaseChannel) and not name.startswith(_INTERNAL_CHANNELS)
    }
    return create_model(graph.get_name("State"), **fields).model_json_schema()


def config_jsonschema(graph: Any) -> dict[str, Any] | None:
    if not hasattr(graph, "config_schema"):
        return None
    # Deprecated upstream in favour of the context schema, but clients still read
    # `config_schema` (the configurable fields) so it is still served.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = graph.config_schema()
    # Clients (Open Agent Platform forms) read the configurable fields at the top level
    # (`config_schema.properties.<field>.x_oap_ui_config`), not under `configurable`.
    field = getattr(model, "model_fields", {}).get("configurable")
    if field is None:
        return model.model_json_schema()
    return TypeAdapter(field.annotation).json_schema()


def draw_graph_json(drawable: Any) -> dict[str, Any]:
    """`Graph.to_json()` without the per-node `data.id` (an internal class path)."""
    data = drawable.to_json()
    for node in data.get("nodes", []):
        node_data = node.get("data")
        if isinstance(node_data, dict):
            node_data.pop("id", None)
    return data


def _safe(graph: Any, what: str, make: Any) -> dict[str, Any] | None:
    try:
        return make()
    except Exception:
        logger.warning(
            "Could not generate the %s schema of graph %r",
            what,
            getattr(graph, "name", graph),
            exc_info=True,
        )
        return None

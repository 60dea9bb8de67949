"""The graph registry: every graph named in langgraph.json, ready to run.

Graphs are shared by all requests, so the registry never mutates a user's object: each use
gets a copy carrying the server's checkpointer and store. Factories are called per use
because their whole point is building a graph from the request's config.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, AbstractContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

from langchain_core.runnables import RunnableConfig
from langgraph.graph import StateGraph
from langgraph.pregel import Pregel
from langgraph.store.base import IndexConfig

from robyn_server.graphs.loading import (
    GraphLoadError,
    LanggraphConfig,
    config_from_env,
    load_graph_object,
    load_langgraph_config,
    resolve_embeddings,
)
from robyn_server.graphs.schemas import SCHEMA_KEYS, draw_graph_json, graph_schemas

__all__ = [
    "ASSISTANT_NAMESPACE",
    "GraphLoadError",
    "GraphRegistry",
    "load_registry",
    "system_assistant_id",
]

# Fixed namespace so system assistant ids are stable across restarts and match the
# reference server's ids for the same graph_id.
ASSISTANT_NAMESPACE = UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")
DEFAULT_GRAPH_NAME = "LangGraph"


def system_assistant_id(graph_id: str) -> str:
    return str(uuid5(ASSISTANT_NAMESPACE, graph_id))


def load_registry(
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> GraphRegistry:
    """The registry for a server start: the given langgraph.json, else LANGSERVE_GRAPHS,
    else ./langgraph.json. Raises GraphLoadError for anything that would break serving."""
    if config_file is not None:
        config = load_langgraph_config(config_file)
    else:
        config = config_from_env(environ) or load_langgraph_config("langgraph.json")
    return GraphRegistry.load(config)


@dataclass
class _Entry:
    graph_id: str
    description: str | None
    # A compiled Pregel (StateGraphs are compiled at load), or a factory callable.
    target: Any

    @property
    def is_factory(self) -> bool:
        return not isinstance(self.target, Pregel)


class GraphRegistry:
    def __init__(self, entries: dict[str, _Entry], config: LanggraphConfig | None = None):
        self._entries = entries
        self._config = config
        self._schema_cache: dict[str, dict[str, Any]] = {}
        self._store_index: IndexConfig | None = None
        self._store_index_loaded = False

    @classmethod
    def load(cls, config: LanggraphConfig) -> GraphRegistry:
        """Apply env and import every graph now, so a broken config stops start-up."""
        config.apply_env()
        entries: dict[str, _Entry] = {}
        for graph_id, spec in config.graphs.items():
            target = load_graph_object(spec, config.config_dir)
            if isinstance(target, StateGraph):
                target = _compile(target, graph_id)
            elif isinstance(target, Pregel):
                target = _named(target, graph_id)
            entries[graph_id] = _Entry(graph_id, spec.description, target)
        return cls(entries, config)

    # -- lookup ------------------------------------------------------------------------

    def ids(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, graph_id: object) -> bool:
        return graph_id in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def description(self, graph_id: str) -> str | None:
        return self._entry(graph_id).description

    def name(self, graph_id: str) -> str:
        entry = self._entry(graph_id)
        return graph_id if entry.is_factory else entry.target.name

    def is_factory(self, graph_id: str) -> bool:
        return self._entry(graph_id).is_factory

    @staticmethod
    def system_assistant_id(graph_id: str) -> str:
        return system_assistant_id(graph_id)

    # -- materialising graphs ---------------------------------------------------------

    @asynccontextmanager
    async def graph(
        self,
        graph_id: str,
        config: Mapping[str, Any] | None = None,
        *,
        checkpointer: Any = None,
        store: Any = None,
    ) -> AsyncIterator[Pregel]:
        """A ready graph carrying exactly the given checkpointer and store.

        `config` is only used to call factories; pass it to invoke/stream as usual.
        Anything a factory opened (a context manager) is closed when this block exits.
        """
        entry = self._entry(graph_id)
        update = {"checkpointer": checkpointer, "store": store}
        if not entry.is_factory:
            yield entry.target.copy(update=update)
            return
        async with _call_factory(entry.target, graph_id, config) as built:
            if isinstance(built, StateGraph):
                yield _compile(built, graph_id, checkpointer=checkpointer, store=store)
            else:
                yield _named(built, graph_id).copy(update=update)

    async def schemas(
        self, graph_id: str, config: dict[str, Any] | None = None
    ) -> dict[str, dict[str, Any] | None]:
        """input/output/state/config/context JSON Schemas; failures become None."""
        entry = self._entry(graph_id)
        if not entry.is_factory and graph_id in self._schema_cache:
            return dict(self._schema_cache[graph_id])
        try:
            async with self.graph(graph_id, config) as graph:
                result = await asyncio.to_thread(graph_schemas, graph)
        except Exception:
            # A factory that fails for this config has no schemas, but the endpoint
            # still answers: the contract allows null for every schema.
            return dict.fromkeys(SCHEMA_KEYS)
        if not entry.is_factory:
            self._schema_cache[graph_id] = result
        return dict(result)

    async def draw(
        self, graph_id: str, xray: bool | int = False, config: RunnableConfig | None = None
    ) -> dict[str, Any]:
        """Nodes and edges as the /graph endpoint returns them; ValueError if undrawable."""
        if not isinstance(xray, int) or xray < 0:  # bool is an int
            raise ValueError(f"xray must be a boolean or a non-negative integer, got {xray!r}")
        self._entry(graph_id)  # an unknown graph is a KeyError, not an undrawable graph
        try:
            async with self.graph(graph_id, config) as graph:
                drawable = await graph.aget_graph(config, xray=xray)
                return draw_graph_json(drawable)
        except Exception as exc:
            # The caller adds which graph; the cause is what the client needs.
            raise ValueError(f"{type(exc).__name__}: {exc}") from exc

    async def subgraphs(
        self,
        graph_id: str,
        namespace: str | None = None,
        recurse: bool = False,
        config: dict[str, Any] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """namespace -> schemas for each subgraph (only `namespace` if given)."""
        self._entry(graph_id)
        async with self.graph(graph_id, config) as graph:
            found = [
                pair async for pair in graph.aget_subgraphs(namespace=namespace, recurse=recurse)
            ]
        result: dict[str, dict[str, Any]] = {}
        for ns, subgraph in found:
            result[ns] = await asyncio.to_thread(graph_schemas, subgraph)
        return result

    # -- store ---------------------------------------------------------------------------

    def checkpointer_config(self) -> dict[str, Any]:
        """The raw `checkpointer` section of langgraph.json (thread TTL defaults)."""
        return dict(self._config.raw.get("checkpointer") or {}) if self._config else {}

    def auth_config(self) -> dict[str, Any]:
        """langgraph.json's `auth` section (checked by `loading.check_auth_section`)."""
        return dict(self._config.raw.get("auth") or {}) if self._config else {}

    @property
    def config_dir(self) -> Path:
        """Where langgraph.json's relative paths start (the working directory without one)."""
        return self._config.config_dir if self._config else Path.cwd()

    def http_config(self) -> dict[str, Any]:
        """The raw `http` section of langgraph.json (CORS)."""
        return dict(self._config.raw.get("http") or {}) if self._config else {}

    def webhooks_config(self) -> dict[str, Any]:
        """The raw `webhooks` section of langgraph.json (URL policy, headers)."""
        return dict(self._config.raw.get("webhooks") or {}) if self._config else {}

    def store_config(self) -> dict[str, Any]:
        return dict(self._config.store or {}) if self._config else {}

    def store_index(self) -> IndexConfig | None:
        """The `index` config for a LangGraph store, or None without `store.index`.

        Resolved on first use so servers that never touch the store don't pay for
        loading an embedding provider.
        """
        if not self._store_index_loaded:
            self._store_index = self._build_store_index()
            self._store_index_loaded = True
        return self._store_index

    def _build_store_index(self) -> IndexConfig | None:
        index = self.store_config().get("index")
        if index is None:
            return None
        if not isinstance(index, dict):
            raise GraphLoadError("store.index must be an object with 'embed' and 'dims'")
        if "embed" not in index:
            raise GraphLoadError("store.index.embed is required")
        dims = index.get("dims")
        if isinstance(dims, bool) or not isinstance(dims, int) or dims <= 0:
            raise GraphLoadError(f"store.index.dims must be a positive integer, got {dims!r}")
        fields = index.get("fields")
        if fields is not None and not (
            isinstance(fields, list) and all(isinstance(f, str) for f in fields)
        ):
            raise GraphLoadError("store.index.fields must be a list of strings")
        assert self._config is not None
        result: IndexConfig = {
            "dims": dims,
            "embed": resolve_embeddings(index["embed"], self._config.config_dir),
        }
        if fields is not None:
            result["fields"] = fields
        return result

    # -- internals ------------------------------------------------------------------------

    def _entry(self, graph_id: str) -> _Entry:
        return self._entries[graph_id]


def _named(graph: Any, graph_id: str) -> Any:
    if not isinstance(graph, Pregel):
        raise GraphLoadError(
            f"Graph factory for '{graph_id}' returned a {type(graph).__name__}, "
            "expected a StateGraph or compiled graph"
        )
    if graph.name == DEFAULT_GRAPH_NAME:
        return graph.copy(update={"name": graph_id})
    return graph


def _compile(builder: StateGraph, graph_id: str, **kwargs: Any) -> Pregel:
    graph = builder.compile(**kwargs)
    return _named(graph, graph_id)


def _wants_config(factory: Any) -> bool:
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in params
    )


@asynccontextmanager
async def _call_factory(
    factory: Any, graph_id: str, config: Mapping[str, Any] | None
) -> AsyncIterator[Any]:
    own = dict(config or {})
    # Factories conventionally read config["configurable"][...] without checking.
    own["configurable"] = dict(own.get("configurable") or {})
    result = factory(own) if _wants_config(factory) else factory()
    if inspect.isawaitable(result):
        result = await result
    if isinstance(result, AbstractAsyncContextManager) or (
        hasattr(result, "__aenter__") and hasattr(result, "__aexit__")
    ):
        async with result as built:
            yield built
    elif isinstance(result, AbstractContextManager) or (
        hasattr(result, "__enter__") and hasattr(result, "__exit__")
    ):
        with result as built:
            yield built
    else:
        yield result

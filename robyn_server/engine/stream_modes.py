"""Executing a graph and naming what it streams the way the wire does.

`RunStream.run` yields `(event_name, data)` pairs in the order the graph produced them.
`data` is what LangGraph streamed, left as is wherever `serialization.dumps` already
writes the reference's bytes (state with LangChain messages, `Interrupt` dataclasses,
tuples); message events are model-dumped here because their shape changes per mode. The
caller must encode each pair before pulling the next one: LangGraph reuses and nodes may
mutate the objects inside.

The graph always streams `values` and `updates`, requested or not, because the `/wait`
result (the last values) and the run's interrupts come from them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

from robyn_server.engine.checkpoints import checkpoint_address
from robyn_server.engine.stream_messages import LegacyMessages

INTERRUPT = "__interrupt__"
# Modes passed through unchanged apart from their event name.
_PLAIN_MODES = ("custom", "tasks", "checkpoints")
# Runs LangChain marks as internal; the reference leaves them out of `events`.
_HIDDEN_TAG = "langsmith:hidden"


class RunStream:
    """One run's stream: what to ask LangGraph for, and how to name what comes back.

    `last_values` is the last top-level `values` chunk (None until one arrives);
    `interrupts` the top-level interrupts as the wire shows them,
    `[{"value", "id", "response_schema"}]`, in the order they happened.
    """

    def __init__(self, stream_mode: str | Iterable[str], *, subgraphs: bool) -> None:
        # Unknown modes are the request validator's to refuse (422); here they are ignored.
        requested = {stream_mode} if isinstance(stream_mode, str) else set(stream_mode)
        self._subgraphs = subgraphs
        self._events = "events" in requested
        self._values = "values" in requested
        self._updates = "updates" in requested
        self._debug = "debug" in requested
        # messages-tuple wins when both message formats are asked for.
        self._tuple_messages = "messages-tuple" in requested
        self._legacy_messages = (
            LegacyMessages() if "messages" in requested and not self._tuple_messages else None
        )
        self._plain = frozenset(mode for mode in _PLAIN_MODES if mode in requested)
        graph_modes = ["values", "updates", *self._plain]
        if self._debug:
            graph_modes.append("debug")
        if self._tuple_messages or self._legacy_messages is not None:
            graph_modes.append("messages")
        self.graph_modes: list[str] = graph_modes
        self.last_values: Any = None
        self.interrupts: list[dict[str, Any]] = []
        self._interrupt_ids: set[str] = set()

    async def run(
        self,
        graph: Any,
        input: Any,
        config: dict[str, Any] | None,
        *,
        context: Any = None,
        interrupt_before: Any = None,
        interrupt_after: Any = None,
        durability: str | None = None,
    ) -> AsyncIterator[tuple[str, Any]]:
        """Execute `graph` and yield its wire events. Graph exceptions propagate unchanged,
        after every event produced before them has been yielded."""
        options: dict[str, Any] = {
            "stream_mode": self.graph_modes,
            "subgraphs": self._subgraphs,
            "interrupt_before": interrupt_before,
            "interrupt_after": interrupt_after,
        }
        if context is not None:
            options["context"] = context
        if durability is not None:
            # LangGraph warns about durability on a graph without a checkpointer.
            options["durability"] = durability
        if self._events:
            chunks = self._through_events(graph, input, config, options)
        else:
            chunks = graph.astream(input, config, **options)

        subgraphs = self._subgraphs
        values, updates = self._values, self._updates
        tuple_messages, legacy_messages = self._tuple_messages, self._legacy_messages
        plain = self._plain
        ns: tuple[str, ...] = ()
        async for chunk in chunks:
            if subgraphs:
                ns, mode, data = chunk
            else:
                mode, data = chunk
            if mode == "messages":
                if tuple_messages:
                    message, metadata = data
                    yield _event_name(mode, ns), [message.model_dump(), metadata]
                elif legacy_messages is not None:
                    for event in legacy_messages.events(*data):
                        yield event
            elif mode == "values":
                if not ns:
                    self.last_values = data
                if values:
                    yield _event_name(mode, ns), data
            elif mode == "updates":
                if not ns and type(data) is dict and INTERRUPT in data:
                    self._add_interrupts(data[INTERRUPT])
                if updates:
                    yield _event_name(mode, ns), data
            elif mode == "events":
                yield mode, data
            elif mode == "debug":
                yield _event_name(mode, ns), _with_checkpoint_refs(data)
            elif mode in plain:
                yield _event_name(mode, ns), data

    async def _through_events(
        self, graph: Any, input: Any, config: dict[str, Any] | None, options: dict[str, Any]
    ) -> AsyncIterator[Any]:
        """astream_events, split back into the graph's own stream and the `events` mode.

        The graph run's own `on_chain_stream` events carry exactly what `astream` would have
        yielded; they become mode chunks and are not sent as `events` themselves.
        """
        subgraphs = self._subgraphs
        async for event in graph.astream_events(input, config, version="v2", **options):
            if event["event"] == "on_chain_stream" and not event.get("parent_ids"):
                yield event["data"]["chunk"]
                continue
            tags = event.get("tags")
            if tags and _HIDDEN_TAG in tags:
                continue
            yield ((), "events", event) if subgraphs else ("events", event)

    def _add_interrupts(self, interrupts: Iterable[Any]) -> None:
        # Static breakpoints stream an empty tuple: the run stops but nothing is pending.
        for interrupt in interrupts:
            if interrupt.id in self._interrupt_ids:
                continue
            self._interrupt_ids.add(interrupt.id)
            self.interrupts.append(
                {
                    "value": interrupt.value,
                    "id": interrupt.id,
                    "response_schema": interrupt.response_schema,
                }
            )


def _event_name(mode: str, ns: tuple[str, ...]) -> str:
    # A subgraph's events are named after the path to it: mode|parent_node:task_id|...
    return f"{mode}|{'|'.join(ns)}" if ns else mode


def _with_checkpoint_refs(event: dict[str, Any]) -> dict[str, Any]:
    """A debug checkpoint event with the flat `checkpoint` / `parent_checkpoint` the
    reference adds. The payload is copied: LangGraph shares it with the `checkpoints`
    mode, which does not get these keys."""
    if event.get("type") != "checkpoint":
        return event
    payload = event["payload"]
    return {
        **event,
        "payload": {
            **payload,
            "checkpoint": checkpoint_address(payload.get("config")),
            "parent_checkpoint": checkpoint_address(payload.get("parent_config")),
        },
    }

"""What a run gives the graph, from the JSON of the run body.

`input` goes to the graph as is; a `command` becomes a LangGraph `Command`. JSON has no
tuples and no `Send`, so the body spells them as `[key, value]` pairs and
`{"node": ..., "input": ...}` objects, which are turned back into what LangGraph expects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph.types import Command, Send


def build_input(input: Any, command: Mapping[str, Any] | None) -> Any:
    """The graph's input: a `Command` when the body has a non-empty `command`, else `input`.

    `input: null` without a command continues from the thread's current (or the given)
    checkpoint. Raises ValueError for a malformed `update` or `goto`.
    """
    if not command:
        return input
    update = command.get("update")
    goto = command.get("goto")
    return Command(
        update=_update(update) if update is not None else None,
        resume=command.get("resume"),
        goto=_goto(goto) if goto is not None else (),
    )


def _update(update: Any) -> Any:
    if isinstance(update, list):
        # LangGraph reads a sequence update only as (key, value) tuples.
        pairs = []
        for pair in update:
            if not (isinstance(pair, list | tuple) and len(pair) == 2 and isinstance(pair[0], str)):
                raise ValueError("command.update as a list takes [key, value] pairs")
            pairs.append((pair[0], pair[1]))
        return pairs
    return update


def _goto(goto: Any) -> Any:
    if isinstance(goto, list):
        return [_goto_target(target) for target in goto]
    return _goto_target(goto)


def _goto_target(target: Any) -> str | Send:
    if isinstance(target, str):
        return target
    if isinstance(target, Mapping) and isinstance(target.get("node"), str):
        return Send(target["node"], target.get("input"))
    raise ValueError('command.goto takes node names or {"node": ..., "input": ...} objects')

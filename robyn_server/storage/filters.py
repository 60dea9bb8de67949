"""Metadata filters: what an auth handler lets a caller see, in a form both backends apply.

A `langgraph_sdk.Auth` handler (`@auth.on...`) may return a filter on the metadata of the
resource it guards. The dialect is LangGraph's, plus `$or`/`$and`:

- `{"owner": "alice"}` or `{"owner": {"$eq": "alice"}}`: the metadata's `owner` is
  exactly that JSON value. Objects and arrays compare whole (keys in any order), as
  jsonb `=` does; numbers compare by value (1 equals 1.0), booleans only to booleans.
- `{"members": {"$contains": "alice"}}`: `members` is an array with an element that
  contains `"alice"`; `{"$contains": ["alice", "bob"]}`: each of them (jsonb `@>`,
  so an object element contains a smaller object: `{"$contains": {"id": "a"}}` matches
  `[{"id": "a", "role": "x"}]`). A string is not an array: `"alice"` does not contain
  `"alice"`.
- Several keys in one dict must all hold; `{"$or": [filter, ...]}` holds when any of
  its filters does (none: never), `{"$and": [filter, ...]}` when all do.

Filters come from the server's own auth code, not from clients: a malformed one is a
`ValueError` naming what is wrong, which the caller reports as a server error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from robyn_server.serialization import to_jsonable
from robyn_server.storage.json_match import json_contains, json_equal

__all__ = ["Contains", "Equals", "MetadataFilter", "OneOf"]

OPERATORS = ("$eq", "$contains")
COMBINATORS = ("$or", "$and")


@dataclass(frozen=True, slots=True, eq=False)
class Equals:
    """`metadata[key]` is exactly `value` (a JSON value)."""

    key: str
    value: Any

    def matches(self, metadata: Mapping[str, Any]) -> bool:
        if type(self.value) is str:
            # json_equal's answer for a string, without its type dispatch: the usual
            # filter (`{"owner": <identity>}`) runs this on every row a caller reaches.
            found = metadata.get(self.key)
            return type(found) is str and found == self.value
        return self.key in metadata and json_equal(metadata[self.key], self.value)


@dataclass(frozen=True, slots=True, eq=False)
class Contains:
    """`metadata[key]` is an array containing each of `values` (jsonb `@>`)."""

    key: str
    values: list[Any]

    def matches(self, metadata: Mapping[str, Any]) -> bool:
        return self.key in metadata and json_contains(metadata, {self.key: self.values})


@dataclass(frozen=True, slots=True, eq=False)
class OneOf:
    """At least one of `filters` holds (`$or`)."""

    filters: tuple[MetadataFilter, ...]

    def matches(self, metadata: Mapping[str, Any]) -> bool:
        return any(f.matches(metadata) for f in self.filters)


Condition = Equals | Contains | OneOf


@dataclass(frozen=True, slots=True, eq=False)
class MetadataFilter:
    """Conditions that must all hold of a row's metadata (none: every row matches)."""

    conditions: tuple[Condition, ...]

    @classmethod
    def parse(cls, raw: Any) -> MetadataFilter:
        """A handler's filter dict, checked and normalised; `ValueError` if malformed."""
        key = _flat_key(raw)
        if key is None:
            return cls(tuple(_conditions(raw, "filter")))
        parsed = _PARSED.get(key)
        if parsed is None:
            parsed = cls(tuple(_conditions(raw, "filter")))
            if len(_PARSED) >= _PARSED_MAX:
                _PARSED.clear()
            _PARSED[key] = parsed
        return parsed

    def matches(self, metadata: Mapping[str, Any] | None) -> bool:
        """Whether a row with this metadata is visible (the in-memory backend's check)."""
        doc = metadata or {}
        for condition in self.conditions:
            if not condition.matches(doc):
                return False
        return True


# A handler returns a new dict on every call, but mostly the same few flat ones
# (`{"owner": <identity>}`): those are parsed once. A filter is immutable, so sharing it
# is safe; the key holds each value's type, as 1, 1.0 and True are equal keys in Python
# but not equal JSON.
_PARSED: dict[tuple[tuple[Any, type, Any], ...], MetadataFilter] = {}
_PARSED_MAX = 4096
_FLAT_TYPES = (str, int, bool, type(None))


def _flat_key(raw: Any) -> tuple[tuple[Any, type, Any], ...] | None:
    """`raw` as a cache key when it maps names to strings, integers, booleans or None."""
    if type(raw) is not dict or len(raw) > 8:
        return None
    if len(raw) == 1:
        ((name, value),) = raw.items()
        kind = type(value)
        return ((name, kind, value),) if kind in _FLAT_TYPES else None
    key = []
    for name, value in raw.items():
        kind = type(value)
        if kind not in _FLAT_TYPES:
            return None
        key.append((name, kind, value))
    return tuple(key)


def _conditions(raw: Any, where: str) -> list[Condition]:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where} must be a dict, got {type(raw).__name__}")
    conditions: list[Condition] = []
    for key, value in raw.items():
        if not isinstance(key, str):
            raise ValueError(f"{where}: keys must be strings, got {key!r}")
        if key in COMBINATORS:
            parts = _sub_filters(value, f"{where}.{key}")
            if key == "$and":
                conditions.extend(c for part in parts for c in part.conditions)
            else:
                conditions.append(OneOf(tuple(parts)))
        elif key.startswith("$"):
            raise ValueError(
                f"{where}: unknown operator {key!r} at the top level; "
                f"use a metadata key, {' or '.join(COMBINATORS)}"
            )
        else:
            conditions.append(_condition(key, value, f"{where}.{key}"))
    return conditions


def _sub_filters(value: Any, where: str) -> list[MetadataFilter]:
    if not isinstance(value, list | tuple):
        raise ValueError(f"{where} must be a list of filters, got {type(value).__name__}")
    return [
        MetadataFilter(tuple(_conditions(item, f"{where}[{index}]")))
        for index, item in enumerate(value)
    ]


def _condition(key: str, value: Any, where: str) -> Condition:
    operators = (
        [k for k in value if isinstance(k, str) and k.startswith("$")]
        if isinstance(value, Mapping)
        else []
    )
    if not operators:
        # A plain value, nested objects and arrays included: equality.
        return Equals(key, _json(value, where))
    if len(value) != 1:
        raise ValueError(f"{where}: an operator must be alone in its dict, got {list(value)}")
    operator = operators[0]
    operand = _json(value[operator], f"{where}.{operator}")
    if operator == "$eq":
        return Equals(key, operand)
    if operator == "$contains":
        return Contains(key, operand if isinstance(operand, list) else [operand])
    raise ValueError(f"{where}: unknown operator {operator!r}; use {' or '.join(OPERATORS)}")


def _json(value: Any, where: str) -> Any:
    """The value as stored metadata holds it (tuples become lists, ids strings), so both
    backends compare the same JSON."""
    if (type(value) is str and value.isascii()) or value is None or type(value) is bool:
        return value  # JSON already, as most filters' values are: no round trip
    try:
        return to_jsonable(value)
    except TypeError as exc:
        raise ValueError(f"{where}: not a JSON value ({exc})") from None

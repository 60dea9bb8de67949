"""Python twins of PostgreSQL's jsonb comparisons, so both backends match alike.

`json_contains` is `jsonb @> jsonb` and `json_equal` is `jsonb = jsonb`, for documents
that come from JSON (dicts, lists, strings, numbers, booleans, None).
"""

from __future__ import annotations

from typing import Any


def json_contains(doc: Any, pattern: Any) -> bool:
    """Python twin of Postgres `jsonb @> jsonb`, so both backends filter alike.

    Objects match when every key of the pattern is present and contains the pattern's
    value; arrays when every element of the pattern is contained in some element of the
    document; scalars when equal (with JSON's notion of equality: True is not 1).
    """
    if isinstance(doc, list) and not isinstance(pattern, list | dict):
        # Postgres special case, at the top level only: an array contains a primitive
        # it holds ('["a"]' @> '"a"', but not '{"k": ["a"]}' @> '{"k": "a"}').
        return any(_scalar_equal(d, pattern) for d in doc if not isinstance(d, list | dict))
    return _json_contains(doc, pattern)


def json_equal(a: Any, b: Any) -> bool:
    """Python twin of Postgres `jsonb = jsonb`: objects are equal when they have the same
    keys with equal values (in any order), arrays when equal element by element, and
    scalars as in `json_contains` (1 equals 1.0, True equals neither)."""
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(json_equal(value, b[key]) for key, value in a.items())
        )
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(json_equal, a, b))
    if type(a) is str or type(b) is str:
        return type(a) is str and type(b) is str and a == b
    return _scalar_equal(a, b)


# Stored documents come from JSON, so concrete type checks suffice; they are several
# times cheaper than ABC checks, and the in-memory backend runs this for every row.
def _json_contains(doc: Any, pattern: Any) -> bool:
    if type(pattern) is str:
        return type(doc) is str and doc == pattern
    if isinstance(pattern, dict):
        if not isinstance(doc, dict):
            return False
        for key, value in pattern.items():
            if key not in doc or not _json_contains(doc[key], value):
                return False
        return True
    if isinstance(pattern, list):
        if not isinstance(doc, list):
            return False
        return all(any(_json_contains(d, p) for d in doc) for p in pattern)
    return _scalar_equal(doc, pattern)


def _scalar_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return False
    return a == b

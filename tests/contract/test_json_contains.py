"""`base.json_contains` must agree with Postgres `jsonb @>` on every case here; the
in-memory backend filters with the former and the Postgres backend with the latter."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from robyn_server.storage.types import json_contains

CASES: list[tuple[Any, Any, bool]] = [
    ({"a": 1, "b": 2}, {"a": 1}, True),
    ({"a": 1}, {"a": 1, "b": 2}, False),
    ({"a": 1}, {}, True),
    ({}, {}, True),
    ({"a": {"b": {"c": 1, "d": 2}}}, {"a": {"b": {"c": 1}}}, True),
    ({"a": {"b": 1}}, {"a": {"b": 2}}, False),
    ({"a": {"b": 1}}, {"a": {}}, True),
    ({"a": [1, 2, 3]}, {"a": [3, 1]}, True),
    ({"a": [1, 2, 3]}, {"a": [1, 1]}, True),
    ({"a": [1, 2, 3]}, {"a": []}, True),
    ({"a": [1, 2]}, {"a": [4]}, False),
    ({"a": [1, 2]}, {"a": 1}, False),
    ({"a": 1}, {"a": [1]}, False),
    ({"a": [{"b": 1, "c": 2}, {"d": 3}]}, {"a": [{"b": 1}]}, True),
    ({"a": [{"b": 1}]}, {"a": [{"b": 1, "c": 2}]}, False),
    ({"a": [[1, 2], [3]]}, {"a": [[1]]}, True),
    ({"a": [[1, 2]]}, {"a": [1]}, False),
    ([1, 2, 3], [2], True),
    ([1, 2, 3], 2, True),
    ([[1, 2]], 1, False),
    ([[1, 2]], [1], False),
    ([1, 2], [[1]], False),
    (["a", {"k": "v"}], {"k": "v"}, False),
    ([{"k": "v"}], [{}], True),
    ({"a": True}, {"a": 1}, False),
    ({"a": 1}, {"a": True}, False),
    ({"a": 0}, {"a": False}, False),
    ({"a": 1}, {"a": 1.0}, True),
    ({"a": 1.5}, {"a": 1.5}, True),
    ({"a": None}, {"a": None}, True),
    ({"a": None}, {"a": {}}, False),
    ({"a": "1"}, {"a": 1}, False),
    ({"a": ""}, {"a": ""}, True),
    ("x", "x", True),
    (1, 1, True),
    ({"a": 1}, [], False),
    ([], {}, False),
    ([], [], True),
    (None, None, True),
]


@pytest.mark.parametrize(("doc", "pattern", "expected"), CASES)
def test_python_semantics(doc: Any, pattern: Any, expected: bool) -> None:
    assert json_contains(doc, pattern) is expected


@pytest.mark.postgres
def test_postgres_agrees(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        for doc, pattern, expected in CASES:
            (result,) = conn.execute(
                "SELECT %s::jsonb @> %s::jsonb", (Jsonb(doc), Jsonb(pattern))
            ).fetchone()
            assert result is expected, (doc, pattern)

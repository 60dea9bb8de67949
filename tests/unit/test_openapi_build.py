"""How /openapi.json is built: lists the edge validates against stay those the services
check, and the document holds JSON Schema only (no pydantic leftovers)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from robyn_server.http.openapi import build_openapi
from robyn_server.routes import ROUTE_TABLES
from robyn_server.schemas import requests as wire
from robyn_server.schemas import state as wire_state
from robyn_server.schemas.runs import MAX_AFTER_SECONDS
from robyn_server.services import store, thread_state, threads

# Pydantic writes constraints it cannot place as these (e.g. `ge` on an Optional[int]):
# JSON Schema ignores them, so the document would promise nothing.
NOT_JSON_SCHEMA = {"ge", "gt", "le", "lt", "min_length", "max_length"}


def _keys(node: Any, trail: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.append((trail, key))
            # Property names are field names, not keywords.
            if key != "properties":
                found += _keys(value, f"{trail}/{key}")
            else:
                for name, sub in value.items():
                    found += _keys(sub, f"{trail}/properties/{name}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found += _keys(item, f"{trail}/{index}")
    return found


def test_document_holds_only_json_schema_keywords():
    document = build_openapi(ROUTE_TABLES, ("agent",))
    stray = [(trail, key) for trail, key in _keys(document) if key in NOT_JSON_SCHEMA]
    assert stray == []
    assert "x-assistant-id-or-graph-id" not in str(document)


def test_lists_match_what_the_services_check():
    assert wire_state.STATE_FIELDS == thread_state.STATE_FIELDS
    assert wire.EXTRACT_ROOTS == threads.EXTRACT_ROOTS
    assert set(wire.FILTER_OPERATORS) == store.FILTER_OPERATORS


def test_after_seconds_ceiling_is_a_date():
    from datetime import UTC, datetime, timedelta

    assert datetime.now(UTC) + timedelta(seconds=MAX_AFTER_SECONDS) < datetime(
        9999, 1, 1, tzinfo=UTC
    )


def test_two_models_with_one_name_are_refused():
    from robyn_server.http.routing import RouteTable

    def make(field: str) -> type[BaseModel]:
        return type("Clash", (BaseModel,), {"__annotations__": {field: int}})

    table = RouteTable()

    @table.route("POST", "/a", summary="a", tags=[], body=make("x"))
    async def a(req: Any) -> None: ...

    @table.route("POST", "/b", summary="b", tags=[], body=make("y"))
    async def b(req: Any) -> None: ...

    with pytest.raises(ValueError, match="Clash"):
        build_openapi([table])

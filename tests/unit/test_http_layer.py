"""The pure parts of the HTTP layer: decoding, validation messages, pagination headers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from robyn_server.errors import ValidationFailed
from robyn_server.http.requests import format_validation_error, parse_bool
from robyn_server.routes._common import page_response
from robyn_server.schemas.requests import ThreadSearch
from robyn_server.serialization import dumps, project
from robyn_server.services.threads import extract_path
from robyn_server.storage.types import Page, parse_uuid


def test_parse_uuid_canonicalises_and_names_the_field() -> None:
    assert parse_uuid("FE096781-5601-53D2-B2F6-0D3403F7E9CA", "thread ID") == (
        "fe096781-5601-53d2-b2f6-0d3403f7e9ca"
    )
    with pytest.raises(ValidationFailed, match="Invalid thread ID: must be a UUID"):
        parse_uuid("not-a-uuid", "thread ID")


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("1", True), ("false", False)])
def test_parse_bool(raw: str, expected: bool) -> None:
    assert parse_bool(raw) is expected


def test_parse_bool_rejects_nonsense() -> None:
    with pytest.raises(ValidationFailed):
        parse_bool("maybe")


def test_validation_error_names_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        ThreadSearch.model_validate({"limit": "abc"})
    assert format_validation_error(info.value).startswith("limit: ")


def test_unknown_fields_are_ignored_and_types_are_strict() -> None:
    assert ThreadSearch.model_validate({"limit": 5, "unknown": 1}).limit == 5
    with pytest.raises(ValidationError):
        ThreadSearch.model_validate({"limit": "5"})


def test_pagination_headers_with_and_without_a_next_page() -> None:
    more = page_response(Page(items=[{"a": 1}] * 3, next_offset=3), offset=0)
    assert more.headers.get("x-pagination-next") == "3"
    assert more.headers.get("x-pagination-total") == "4"
    last = page_response(Page(items=[{"a": 1}] * 2, next_offset=None), offset=10)
    assert last.headers.get("x-pagination-next") is None
    assert last.headers.get("x-pagination-total") == "12"


def test_select_keeps_only_requested_keys() -> None:
    assert project([{"a": 1, "b": 2}], ["b"]) == [{"b": 2}]
    assert project([{"a": 1}], None) == [{"a": 1}]


def test_dumps_handles_datetimes_models_and_sets() -> None:
    from datetime import UTC, datetime

    out = dumps({"t": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), "s": {1}})
    assert out == b'{"t":"2026-01-02T03:04:05.000006+00:00","s":[1]}'


def test_extract_paths() -> None:
    thread = {"values": {"messages": [{"content": "a"}, {"content": "b"}]}, "metadata": {}}
    assert extract_path(thread, "values.messages[-1].content") == "b"
    assert extract_path(thread, "values.missing[0]") is None
    with pytest.raises(ValidationFailed):
        extract_path(thread, "status")

"""The request as `@auth.authenticate` sees it, built from a real Robyn request: each part
is read only when the handler asks for it, and reads the same as when it was built whole
(the end-to-end tests in test_auth_handlers.py watch the same through a server)."""

from __future__ import annotations

from typing import Any

import pytest
from robyn.robyn import Headers, QueryParams, Request, Url

from robyn_server.auth.requests import PARAMETERS
from robyn_server.errors import ValidationFailed
from robyn_server.http.auth import auth_request
from robyn_server.http.requests import ApiRequest


def robyn_request(
    headers: Headers, query: dict[str, list[str]] | None = None, body: bytes = b""
) -> ApiRequest:
    params = QueryParams()
    for name, values in (query or {}).items():
        for value in values:
            params.set(name, value)
    raw = Request(
        params,
        headers,
        {"thread_id": "t%201"},
        body,
        "POST",
        Url("http", "127.0.0.1", "/threads/t%201/runs"),
        {},
        {},
        None,
        "127.0.0.1",
    )
    return ApiRequest(raw, 1 << 20)


def test_every_parameter_reads_as_the_whole_request_would() -> None:
    headers = Headers({"Authorization": "Bearer abc", "X-Tenant": "acme"})
    request = auth_request(robyn_request(headers, {"limit": ["3"], "a b": ["x"]}, b'{"input": 1}'))
    values: dict[str, Any] = {name: get(request) for name, get in PARAMETERS.items()}
    assert values["authorization"] == "Bearer abc"
    assert values["headers"] == {b"authorization": b"Bearer abc", b"x-tenant": b"acme"}
    assert values["method"] == "POST"
    assert values["path"] == "/threads/t%201/runs"
    assert values["path_params"] == {"thread_id": "t 1"}
    assert values["query_params"] == {"limit": "3", "a b": "x"}
    assert values["body"] == {"input": 1}
    assert values["scopes"] == []
    # Robyn keeps query parameters in a hash map: their order is not the request's.
    path, _, query = str(request.url).partition("?")
    assert path == "/threads/t%201/runs"
    assert sorted(query.split("&")) == ["a+b=x", "limit=3"]
    assert request.read_body() == b'{"input": 1}'


@pytest.mark.parametrize("built_first", [False, True])
def test_one_header_reads_as_in_the_headers(built_first: bool) -> None:
    headers = Headers({"x-tenant": "acme"})
    headers.append("authorization", "Bearer one")
    headers.append("authorization", "Bearer two")
    request = auth_request(robyn_request(headers))
    if built_first:
        assert request.headers.get("Authorization") == "Bearer one, Bearer two"
    assert request.header("authorization") == "Bearer one, Bearer two"
    assert request.header("Authorization") == "Bearer one, Bearer two"
    assert request.header("x-tenant") == "acme"
    assert request.header("x-missing") is None


def test_a_body_that_is_not_json_reads_as_none() -> None:
    request = auth_request(robyn_request(Headers({}), body=b"not json"))
    assert request.read_json() is None
    assert request.read_body() == b"not json"


def test_a_query_with_a_nul_is_refused_before_any_handler_runs() -> None:
    with pytest.raises(ValidationFailed):
        auth_request(robyn_request(Headers({}), {"q": ["a\x00b"]}))

"""JSON, empty, error and HTML responses; every error body is `{"detail": ...}`."""

from __future__ import annotations

from typing import Any

# Re-exported: route modules name the type without importing Robyn.
from robyn import Response as Response

from robyn_server.serialization import dumps

JSON_HEADERS = {"content-type": "application/json"}


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    merged = JSON_HEADERS if headers is None else {**JSON_HEADERS, **headers}
    return Response(status, merged, dumps(data))


def empty_response(status: int = 204, headers: dict[str, str] | None = None) -> Response:
    return Response(status, headers or {}, b"")


def error_response(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    merged = JSON_HEADERS if not headers else {**headers, **JSON_HEADERS}
    return Response(status, merged, dumps({"detail": detail}))


def method_not_allowed(allowed: list[str]) -> Response:
    headers = {**JSON_HEADERS, "allow": ", ".join(allowed)}
    return Response(405, headers, dumps({"detail": "Method Not Allowed"}))


def html_response(text: str, status: int = 200) -> Response:
    return Response(status, {"content-type": "text/html; charset=utf-8"}, text)

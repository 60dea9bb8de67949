"""The server's error hierarchy.

Services and storage raise these; the HTTP layer turns each into a status code and a
`{"detail": ...}` body. Nothing below the routes knows about HTTP.
"""

from __future__ import annotations


class ApiError(Exception):
    """An error with a client-facing message and an HTTP status."""

    status_code = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(ApiError):
    status_code = 400


class NotFound(ApiError):
    status_code = 404


class Conflict(ApiError):
    status_code = 409


class PayloadTooLarge(ApiError):
    status_code = 413


class ValidationFailed(ApiError):
    """Malformed JSON, wrong types, malformed UUIDs: anything the client must fix."""

    status_code = 422


class ServiceUnavailable(ApiError):
    status_code = 503

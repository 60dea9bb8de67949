"""The server's error hierarchy.

Services and storage raise these; the HTTP layer turns each into a status code and a
`{"detail": ...}` body. Nothing below the routes knows about HTTP.
"""

from __future__ import annotations


class ApiError(Exception):
    """An error with a client-facing message and an HTTP status (and headers to send
    with it, when the status calls for some: `WWW-Authenticate` on a 401)."""

    status_code = 500
    headers: dict[str, str] | None = None

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(ApiError):
    status_code = 400


class Unauthorized(ApiError):
    """The request did not prove who sends it (auth is on)."""

    status_code = 401


class Forbidden(ApiError):
    """The caller is known, and an auth handler refuses what they ask."""

    status_code = 403


class AuthRejected(ApiError):
    """An auth handler's own answer (`Auth.exceptions.HTTPException`): its status, its
    detail and its headers, as the handler chose them."""

    def __init__(
        self, status_code: int, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.headers = headers


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

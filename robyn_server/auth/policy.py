"""Running a `langgraph_sdk.Auth`'s handlers: who a request comes from, and what they may do.

`Auth` only stores handlers (its `_authenticate_handler`, `_handlers` keyed by
`(resource, action)` with `"*"` for any, and `_global_handlers`); LangGraph's servers run
them, and so does this module, with the same rules:

- authentication: the handler's parameters are injected by name (see requests.py); an
  `Auth.exceptions.HTTPException` is answered with its status, detail and headers, any
  other exception with a bare 401 (the reason goes to the server log, never the client);
- authorization: the most specific handler runs, `(resource, action)`, then
  `(resource, "*")`, then `("*", action)`, then the global one; none at all allows.
  It returns None or True (allow), False (403) or a metadata filter (storage/filters.py;
  ignored for the store, whose handlers rewrite the namespace instead).
  A handler that fails, or returns anything else, is a server error: nothing is allowed
  on a broken handler's account.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from typing import Any

from langgraph_sdk import Auth
from langgraph_sdk.auth.exceptions import HTTPException
from langgraph_sdk.auth.types import AuthContext

from robyn_server.auth.requests import PARAMETERS, AuthRequest, injected_parameters
from robyn_server.auth.users import AuthUser, user_from
from robyn_server.errors import ApiError, AuthRejected, Forbidden, Unauthorized
from robyn_server.storage.filters import MetadataFilter

__all__ = ["AuthHandlerError", "AuthPolicy"]

logger = logging.getLogger("robyn_server.auth")

UNAUTHORIZED = "Unauthorized"
FORBIDDEN = "Forbidden"
# A status an HTTPException may carry through to the client; others become 500.
_HTTP_STATUSES = range(100, 600)
_UNRESOLVED = object()


class AuthHandlerError(ApiError):
    """An authorization handler failed or returned something it may not: a bug in the
    server's auth code, answered as one (the log says which handler and why)."""

    status_code = 500

    def __init__(self) -> None:
        super().__init__("Internal server error")


def _rejected(exc: HTTPException) -> ApiError:
    status = exc.status_code if exc.status_code in _HTTP_STATUSES else 500
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return AuthRejected(status, detail, dict(exc.headers) if exc.headers else None)


class AuthPolicy:
    """A loaded `Auth`, ready to authenticate requests and authorize actions."""

    def __init__(self, auth: Auth) -> None:
        handler = auth._authenticate_handler
        if handler is None:
            raise ValueError(
                "the Auth object has no @auth.authenticate handler: without one no request "
                "can say who sends it"
            )
        self.auth = auth
        self._authenticate = handler
        self._parameters = injected_parameters(handler)
        # Per handler, not per request: what each parameter is read with, and whether
        # the handler is a coroutine function (whose result needs no inspection).
        self._getters = tuple((name, PARAMETERS[name]) for name in self._parameters)
        self._authenticate_is_async = inspect.iscoroutinefunction(handler)
        self._handlers: dict[tuple[str, str], Any] = {}
        self._store_filter_warned: set[str] = set()

    # -- authentication ----------------------------------------------------------------

    async def authenticate(self, request: AuthRequest) -> AuthUser:
        """The user a request comes from; `Unauthorized` (or the handler's own
        HTTPException) when it cannot say."""
        kwargs = {}
        for name, get in self._getters:
            kwargs[name] = get(request)
        try:
            if self._authenticate_is_async:
                result: Any = await self._authenticate(**kwargs)
            else:
                result = self._authenticate(**kwargs)
                if inspect.isawaitable(result):
                    result = await result
        except HTTPException as exc:
            raise _rejected(exc) from None
        except Exception as exc:
            logger.info(
                "Authentication of %s %s failed: %s: %s",
                request.method,
                request.url.path,
                type(exc).__name__,
                exc,
            )
            raise Unauthorized(UNAUTHORIZED) from None
        try:
            return user_from(result)
        except TypeError as exc:
            logger.error("Authentication handler %s: %s", _name(self._authenticate), exc)
            raise Unauthorized(UNAUTHORIZED) from None

    # -- authorization -----------------------------------------------------------------

    def handler_for(self, resource: str, action: str) -> Any:
        """The most specific handler for `(resource, action)`, or None."""
        key = (resource, action)
        found = self._handlers.get(key, _UNRESOLVED)
        if found is _UNRESOLVED:
            handlers = self.auth._handlers
            found = next(
                (
                    handlers[candidate][-1]
                    for candidate in (key, (resource, "*"), ("*", action))
                    if handlers.get(candidate)
                ),
                None,
            )
            if found is None and self.auth._global_handlers:
                found = self.auth._global_handlers[-1]
            self._handlers[key] = found
        return found

    async def authorize(
        self, user: AuthUser, resource: str, action: str, value: dict[str, Any]
    ) -> MetadataFilter | None:
        """Run the handler for `(resource, action)` on `value` (which it may change):
        the filter it sets on what the user reaches (None: no limit). `Forbidden` when
        it refuses; `AuthHandlerError` when it fails."""
        handler = self.handler_for(resource, action)
        if handler is None:
            return None
        context = AuthContext(user.permissions, user, resource, action)  # type: ignore[arg-type]
        try:
            result = await handler(ctx=context, value=value)
        except HTTPException as exc:
            raise _rejected(exc) from None
        except Exception:
            logger.exception("Auth handler %s failed", _where(handler, resource, action))
            raise AuthHandlerError() from None
        if result is None or result is True:
            return None
        if result is False:
            raise Forbidden(FORBIDDEN)
        if not isinstance(result, dict) and not isinstance(result, Mapping):
            logger.error(
                "Auth handler %s returned a %s; it may return None, True, False or a filter dict",
                _where(handler, resource, action),
                type(result).__name__,
            )
            raise AuthHandlerError()
        if resource == "store":
            # Store items have no metadata: handlers scope them by rewriting
            # value["namespace"]. A filter (a global handler's, usually) cannot apply and
            # is ignored, as on LangGraph's servers; said once, not on every request.
            if _name(handler) not in self._store_filter_warned:
                self._store_filter_warned.add(_name(handler))
                logger.warning(
                    "Auth handler %s returned a filter for the store, which is ignored: "
                    "scope store access by changing value['namespace'] (@auth.on.store)",
                    _where(handler, resource, action),
                )
            return None
        try:
            parsed = MetadataFilter.parse(result)
        except ValueError as exc:
            logger.error(
                "Auth handler %s returned a malformed filter: %s",
                _where(handler, resource, action),
                exc,
            )
            raise AuthHandlerError() from None
        return parsed if parsed.conditions else None


def _where(handler: Any, resource: str, action: str) -> str:
    return f"{_name(handler)} on {resource}.{action}"


def _name(handler: Any) -> str:
    return getattr(handler, "__qualname__", None) or repr(handler)

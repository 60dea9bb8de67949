"""Which `langgraph_sdk.Auth` the server enforces, loaded once at start-up.

`load_auth` is the one place that decides: langgraph.json's `auth.path` (custom auth,
an `Auth` written by the operator), else the `AUTH_JWT_*` settings (built-in bearer
tokens, `auth/jwt.py`, an `Auth` built by code the way a user's `auth.py` would build
it), else none (every caller is anonymous). Everything after this point (`AuthPolicy`,
the routes, storage) cannot tell the difference.
"""

from __future__ import annotations

import logging
from typing import Any

from langgraph_sdk import Auth

from robyn_server.auth.jwt import build_jwt_auth
from robyn_server.config import Settings
from robyn_server.graphs.loading import GraphLoadError, import_object
from robyn_server.graphs.registry import GraphRegistry

__all__ = ["auth_openapi", "load_auth"]

logger = logging.getLogger("robyn_server.auth")


def load_auth(registry: GraphRegistry, settings: Settings) -> Auth | None:
    """The Auth to enforce, or None to serve every caller anonymously.

    Raises `GraphLoadError` naming the file or variable at fault, so a broken auth
    setup stops start-up instead of serving the data unprotected."""
    section = registry.auth_config()
    path = section.get("path")
    if path and settings.auth_jwt_enabled:
        # Two sources of identity would leave one silently unused: refuse to guess.
        raise GraphLoadError(
            f"auth.path ({path}) in langgraph.json and AUTH_JWT_* settings are both set: "
            "use one (the built-in JWT auth, or your own auth.py verifying the tokens)"
        )
    if path:
        return _custom_auth(path, registry)
    if settings.auth_jwt_enabled:
        return build_jwt_auth(settings)
    return None


def _custom_auth(path: str, registry: GraphRegistry) -> Auth:
    try:
        _, _, value = import_object(path, registry.config_dir)
    except GraphLoadError as exc:
        raise GraphLoadError(f"auth.path ({path}): {exc}") from exc
    if not isinstance(value, Auth):
        raise GraphLoadError(
            f"auth.path ({path}) is a {type(value).__name__}, not a langgraph_sdk.Auth"
        )
    section = registry.auth_config()
    if "cache" in section:
        logger.warning(
            "auth.cache in langgraph.json is ignored: @auth.authenticate runs on every request"
        )
    return value


def auth_openapi(registry: GraphRegistry) -> dict[str, Any]:
    """langgraph.json's `auth.openapi` (`securitySchemes` and `security`), for the
    document at /openapi.json; {} without one."""
    return dict(registry.auth_config().get("openapi") or {})

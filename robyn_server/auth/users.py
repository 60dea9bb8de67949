"""The authenticated user, as auth handlers and graphs see it.

`@auth.authenticate` may return an identity string, a dict with `identity` (plus
`permissions`, `display_name` and anything else), or an object with an `identity`
(LangGraph's `BaseUser` / `MinimalUser`). `user_from` turns any of these into one
`AuthUser`: a dict, so it travels in a run's `config["configurable"]` as JSON and a
graph reads `user["identity"]` or `user.get("token")`, which also answers the
`BaseUser` protocol, so handlers and graphs may write `user.identity` too.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["AuthUser", "user_from", "user_of"]

# The keys every AuthUser has; anything else the handler returned rides along.
USER_KEYS = ("identity", "display_name", "is_authenticated", "permissions")


class AuthUser(dict[str, Any]):
    """A user: `identity`, `display_name`, `is_authenticated`, `permissions`, and what
    else the auth handler returned. Attribute access reads the dict, then the object the
    handler returned (when it was an object), so its own properties keep working."""

    __slots__ = ("_source",)

    def __init__(self, data: Mapping[str, Any], source: Any = None) -> None:
        dict.__init__(self, data)  # not super(): one of these is made per request
        self._source = source

    @property
    def identity(self) -> str:
        return str(self["identity"])

    @property
    def display_name(self) -> str:
        return str(self.get("display_name") or self.identity)

    @property
    def is_authenticated(self) -> bool:
        return bool(self.get("is_authenticated", True))

    @property
    def permissions(self) -> list[str]:
        return list(self.get("permissions") or [])

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name in self:
            return self[name]
        source = object.__getattribute__(self, "_source")
        if source is not None and not isinstance(source, Mapping):
            return getattr(source, name)
        raise AttributeError(f"user has no attribute {name!r}")

    # The source object is the handler's own: copies share it rather than copy it.
    def __copy__(self) -> AuthUser:
        return AuthUser(self, self._source)

    def __deepcopy__(self, memo: dict[int, Any]) -> AuthUser:
        return AuthUser(copy.deepcopy(dict(self), memo), self._source)

    def __reduce__(self) -> tuple[Any, ...]:
        return (AuthUser, (dict(self),))


def user_from(result: Any) -> AuthUser:
    """What `@auth.authenticate` returned, as an AuthUser; `TypeError` naming what is
    wrong when it is not a user (no identity, or an identity that is not a string)."""
    if isinstance(result, str):
        if not result:
            _normalised({"identity": result})  # raises, naming what is wrong
        # What _normalised makes of it, without the copies (handlers often return this).
        return AuthUser(
            {
                "identity": result,
                "display_name": str(result),
                "is_authenticated": True,
                "permissions": [],
            }
        )
    if isinstance(result, dict) or isinstance(result, Mapping):
        return AuthUser(_normalised(result))
    if hasattr(result, "identity"):
        data = {key: getattr(result, key) for key in USER_KEYS if hasattr(result, key)}
        if callable(getattr(result, "keys", None)):  # a dict-like user object
            data = {**{k: result[k] for k in result.keys()}, **data}
        return AuthUser(_normalised(data), result)
    raise TypeError(
        "@auth.authenticate must return an identity string, a dict with 'identity', or "
        f"an object with an 'identity'; it returned {type(result).__name__}"
    )


def _normalised(data: Mapping[str, Any]) -> dict[str, Any]:
    identity = data.get("identity")
    if not isinstance(identity, str) or not identity:
        raise TypeError(
            f"the user's identity must be a non-empty string, got {type(identity).__name__}"
        )
    permissions = data.get("permissions") or []
    if type(permissions) is not list and (
        isinstance(permissions, str) or not isinstance(permissions, Sequence)
    ):
        raise TypeError("the user's permissions must be a list of strings")
    return {
        **data,
        "identity": identity,
        "display_name": str(data.get("display_name") or identity),
        "is_authenticated": bool(data.get("is_authenticated", True)),
        "permissions": [str(p) for p in permissions] if permissions else [],
    }


def user_of(data: Any) -> AuthUser | None:
    """A user read back from JSON (a run's config, a cron's `run_as`), or None."""
    if isinstance(data, AuthUser):
        return data
    if isinstance(data, Mapping) and isinstance(data.get("identity"), str):
        return AuthUser(data)
    return None

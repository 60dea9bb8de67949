"""Every resource belongs to the user who created it: the default policy of built-in JWT auth.

`scope_to_owner` is an `@auth.on` global handler in the LangGraph programming model:

- creates (and runs) are stamped `metadata.owner = <identity>`, overwriting whatever the
  client sent, so nobody can create a resource in someone else's name; an update that
  carries metadata is stamped too, so nobody can give a resource away;
- every other action gets the filter `{"owner": <identity>}`, which storage applies;
- reading and searching assistants also sees the system assistants (one per graph,
  `metadata.created_by = "system"`), through our `$or` filter extension; changing or
  deleting them stays out of reach, and a user's own `created_by: "system"` is dropped,
  so nobody can publish an assistant to everyone;
- the store is scoped by prefixing the namespace with the user's identity, as the
  LangGraph docs do it (a namespace that already starts with it is left alone).
"""

from __future__ import annotations

from typing import Any

from langgraph_sdk import Auth

__all__ = ["OWNER_KEY", "SYSTEM_ASSISTANT_FILTER", "scope_to_owner", "store_label"]

OWNER_KEY = "owner"
SYSTEM_ASSISTANT_FILTER = {"created_by": "system"}
_CREATE_ACTIONS = frozenset({"create", "create_run"})


def store_label(identity: str) -> str:
    """`identity` as a store namespace label: labels cannot contain "."; this escaping
    (the one `tools_agent` uses for `{user_id}`) keeps distinct ids distinct."""
    return identity.replace("%", "%25").replace(".", "%2E")


def _stamp_owner(value: dict[str, Any], identity: str, *, create: bool) -> None:
    metadata = value.get("metadata")
    if metadata is None:
        if create:
            value["metadata"] = {OWNER_KEY: identity}
        return
    if not isinstance(metadata, dict):
        raise Auth.exceptions.HTTPException(status_code=422, detail="metadata must be an object")
    metadata[OWNER_KEY] = identity
    if metadata.get("created_by") == SYSTEM_ASSISTANT_FILTER["created_by"]:
        # What makes an assistant visible to everyone is the server's to say.
        del metadata["created_by"]


def _scope_namespace(value: dict[str, Any], identity: str) -> None:
    label = store_label(identity)
    namespace = tuple(value.get("namespace") or ())
    if not namespace or namespace[0] != label:
        namespace = (label, *namespace)
    value["namespace"] = namespace


async def scope_to_owner(ctx: Auth.types.AuthContext, value: Any) -> dict[str, Any] | None:
    identity = ctx.user.identity
    if ctx.resource == "store":
        _scope_namespace(value, identity)
        return None
    if ctx.action in _CREATE_ACTIONS:
        _stamp_owner(value, identity, create=True)
    elif ctx.action == "update" and isinstance(value, dict):
        _stamp_owner(value, identity, create=False)
    if ctx.resource == "assistants" and ctx.action in ("read", "search"):
        return {"$or": [{OWNER_KEY: identity}, dict(SYSTEM_ASSISTANT_FILTER)]}
    return {OWNER_KEY: identity}

"""The /store API over the same LangGraph store the graphs receive.

An item an agent writes through `store.aput` is the item `/store/items` returns, and the
other way round: there is one store per server, not a copy for the API.
"""

from __future__ import annotations

import logging
from typing import Any

from langgraph.store.base import Item, SearchItem

from robyn_server.auth.caller import Caller
from robyn_server.auth.policy import AuthHandlerError
from robyn_server.errors import BadRequest, ValidationFailed
from robyn_server.schemas import requests as wire
from robyn_server.schemas.requests import StoreDelete, StoreNamespaces, StorePut, StoreSearch
from robyn_server.services.context import AppContext
from robyn_server.storage.store_ttl import check_ttl

logger = logging.getLogger("robyn_server.auth")

# The operators /openapi.json documents (schemas.requests.STORE_FILTER) are the ones checked here.
FILTER_OPERATORS = frozenset(wire.FILTER_OPERATORS)


def validate_namespace(namespace: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    for label in namespace:
        if not isinstance(label, str) or not label or "." in label:
            raise ValidationFailed(
                f"Namespace label '{label}' must be a non-empty string without periods"
            )
    return tuple(namespace)


def _validate_filter(filter: dict[str, Any] | None) -> dict[str, Any] | None:
    if not filter:
        return None
    for key, condition in filter.items():
        if isinstance(condition, dict) and any(k.startswith("$") for k in condition):
            unknown = [op for op in condition if op not in FILTER_OPERATORS]
            if unknown:
                raise ValidationFailed(
                    f"Unsupported filter operator {unknown[0]!r} on {key!r}; "
                    f"use one of {sorted(FILTER_OPERATORS)}"
                )
    return filter


def item_to_dict(item: Item) -> dict[str, Any]:
    out = {
        "namespace": list(item.namespace),
        "key": item.key,
        "value": item.value,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
    }
    if isinstance(item, SearchItem):
        out["score"] = item.score
    return out


async def _authorized(
    caller: Caller, action: str, value: dict[str, Any], key: str = "namespace"
) -> tuple[str, ...] | None:
    """Run the store handler for `action`: it may refuse, or rewrite the namespace (as
    the usual one does, prefixing the user's identity). The namespace it leaves is the
    one used, checked again since a handler could leave one the store cannot take."""
    await caller.allow("store", action, value)
    namespace = value.get(key)
    if namespace is None:
        return None
    if not isinstance(namespace, list | tuple):
        logger.error("The store auth handler left value[%r] a %s", key, type(namespace).__name__)
        raise AuthHandlerError()
    return validate_namespace(namespace)


async def put(ctx: AppContext, caller: Caller, body: StorePut) -> None:
    namespace = validate_namespace(body.namespace)
    value = {"namespace": namespace, "key": body.key, "value": body.value, "index": body.index}
    namespace = await _authorized(caller, "put", value) or ()
    if not namespace:
        raise ValidationFailed("Namespace must not be empty")
    if namespace[0] == "langgraph":
        # LangGraph's store refuses it (a ValueError: it was a 500); 400 as the reference.
        raise BadRequest('Root label for namespace cannot be "langgraph"')
    if "ttl" not in body.model_fields_set:
        # Left out, the store applies store.ttl.default_ttl; an explicit null means
        # "never expires", overriding that default.
        await ctx.store.aput(namespace, body.key, body.value, index=body.index)
        return
    try:
        ttl = check_ttl(body.ttl)
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None
    await ctx.store.aput(namespace, body.key, body.value, index=body.index, ttl=ttl)


async def get(
    ctx: AppContext,
    caller: Caller,
    namespace: str | None,
    key: str | None,
    refresh_ttl: bool | None,
) -> dict[str, Any] | None:
    if not key:
        raise BadRequest("Key is required")
    labels = tuple(namespace.split(".")) if namespace else ()
    validate_namespace(labels)
    labels = await _authorized(caller, "get", {"namespace": labels, "key": key}) or ()
    item = await ctx.store.aget(labels, key, refresh_ttl=refresh_ttl)
    return None if item is None else item_to_dict(item)


async def delete(ctx: AppContext, caller: Caller, body: StoreDelete) -> None:
    value = {"namespace": validate_namespace(body.namespace), "key": body.key}
    namespace = await _authorized(caller, "delete", value) or ()
    await ctx.store.adelete(namespace, body.key)


async def search(ctx: AppContext, caller: Caller, body: StoreSearch) -> list[dict[str, Any]]:
    value = {
        "namespace": validate_namespace(body.namespace_prefix),
        "filter": body.filter,
        "limit": body.limit,
        "offset": body.offset,
        "query": body.query,
    }
    prefix = await _authorized(caller, "search", value) or ()
    items = await ctx.store.asearch(
        prefix,
        query=body.query,
        filter=_validate_filter(body.filter),
        limit=body.limit,
        offset=body.offset,
        refresh_ttl=body.refresh_ttl,
    )
    return [item_to_dict(i) for i in items]


async def list_namespaces(
    ctx: AppContext, caller: Caller, body: StoreNamespaces
) -> list[list[str]]:
    # LangGraph's store raises ValueError for an empty label (it was a 500).
    suffix = validate_namespace(body.suffix) if body.suffix else None
    value: dict[str, Any] = {
        "namespace": validate_namespace(body.prefix) if body.prefix else None,
        "suffix": suffix,
        "max_depth": body.max_depth,
        "limit": body.limit,
        "offset": body.offset,
    }
    prefix = await _authorized(caller, "list_namespaces", value)
    namespaces = await ctx.store.alist_namespaces(
        prefix=prefix or None,
        suffix=suffix,
        max_depth=body.max_depth,
        limit=body.limit,
        offset=body.offset,
    )
    return [list(ns) for ns in namespaces]

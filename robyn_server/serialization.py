"""JSON encoding for everything the server sends.

orjson writes datetimes as ISO-8601 with microseconds and `+00:00` and UUIDs as strings,
which is what the reference server sends. `_default` covers what orjson cannot encode on
its own: pydantic models and LangChain messages (`model_dump`), dataclass-like objects,
sets and bytes.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _default(obj: Any) -> Any:
    if hasattr(obj, "model_dump") and callable(obj.model_dump):
        return obj.model_dump()
    if hasattr(obj, "_asdict"):
        return obj._asdict()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, set | frozenset):
        return list(obj)
    if isinstance(obj, bytes | bytearray):
        return base64.b64encode(bytes(obj)).decode()
    if isinstance(obj, Exception):
        return {"error": type(obj).__name__, "message": str(obj)}
    if hasattr(obj, "to_json") and callable(obj.to_json):
        return obj.to_json()
    return repr(obj)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, UUID):
        return str(obj)
    return _default(obj)


def dumps(data: Any) -> bytes:
    try:
        return orjson.dumps(data, default=_default, option=_OPTIONS)
    except TypeError as exc:
        # orjson stops at 64-bit integers; JSON has no such limit, and PostgreSQL jsonb
        # hands back a number like 1.5e300 as a 301-digit integer. Rare: slow path.
        if "64-bit" not in str(exc):
            raise
        text = json.dumps(data, default=_json_default, ensure_ascii=False, separators=(",", ":"))
        return text.encode()


def to_jsonable(data: Any) -> Any:
    """`data` as plain JSON values (dicts, lists, str, numbers), as a client would see it."""
    return orjson.loads(dumps(data))


def project(rows: Iterable[Mapping[str, Any]], select: Sequence[str] | None) -> list[Any]:
    """Keep only the selected keys of each row (the `select` field of search bodies)."""
    if not select:
        return list(rows)
    return [{k: row[k] for k in select if k in row} for row in rows]

"""Secrets in configuration: found by name, kept out of everything stored or shown.

A value is secret when its key names one (`api_key`, `*_api_key`, `token`, `*_token`,
`password`, `*_secret`, `authorization`, ...) or when it is an HTTP header value (every
value of a `headers` mapping, wherever it sits, e.g. in `mcp_config` entries).

* `redact` replaces them with "***" for API output (assistants, runs).
* `split_secrets` takes them out of a run's config and context before the run is stored;
  the engine keeps the returned `Secrets` in memory for the run's lifetime only.
* `inject_secrets` hands them back right before the graph executes:
  - context values go back in place: LangGraph keeps the runtime context in memory
    (under `configurable["__pregel_runtime"]`, which it neither persists nor streams);
  - configurable values do NOT go back in place. LangGraph 1.2 copies every top-level
    str/int/float/bool of `configurable` whose key does not start with "__" into
    checkpoint metadata (`get_checkpoint_metadata`), and echoes the whole `configurable`
    minus `__pregel_*` keys in `checkpoints`/`debug` stream events. They travel instead as
    an opaque `Secrets` object under `configurable["__secrets__"]`: not a primitive (never
    copied to metadata), and its JSON form is "***" (so stream events show nothing).
    A graph reads them with `configurable["__secrets__"].apply("configurable", configurable)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "REDACTED",
    "SECRETS_KEY",
    "Secrets",
    "drop_secrets",
    "inject_secrets",
    "is_secret_key",
    "keep_redacted",
    "redact",
    "redact_run_user",
    "split_secrets",
]

REDACTED = "***"
SECRETS_KEY = "__secrets__"

_SECRET_NAMES = frozenset(
    {
        "api_key",
        "apikey",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "password",
        "passwd",
        "secret",
        "client_secret",
        "authorization",
        "proxy_authorization",
        "cookie",
        "private_key",
        "secret_key",
        "access_key",
    }
)
_SECRET_SUFFIXES = (
    "_api_key",
    "_apikey",
    "_token",
    "_secret",
    "_password",
    "_secret_key",
    "_private_key",
    "_access_key",
)
_HEADER_MAPPINGS = frozenset({"headers"})

Path = tuple[str | int, ...]


def is_secret_key(key: str) -> bool:
    """Whether a value stored under `key` is a credential (case and `-`/`_` insensitive)."""
    name = key.lower().replace("-", "_")
    return name in _SECRET_NAMES or name.endswith(_SECRET_SUFFIXES)


def _holds_secret(value: Any) -> bool:
    return value is not None and value != ""


def _scrub(
    value: Any,
    path: Path,
    found: dict[Path, Any] | None,
    headers: bool = False,
    drop: bool = False,
) -> Any:
    """A copy of `value` with secrets replaced by REDACTED (or left out, with `drop`),
    recording them in `found`."""
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            at = (*path, key)
            if key == SECRETS_KEY:
                continue  # only the engine puts one there, right before execution
            if isinstance(key, str) and (headers or is_secret_key(key)) and _holds_secret(item):
                if found is not None and item != REDACTED:
                    found[at] = item
                if not drop:
                    out[key] = REDACTED
                continue
            named_headers = isinstance(key, str) and key.lower() in _HEADER_MAPPINGS
            out[key] = _scrub(item, at, found, named_headers and isinstance(item, Mapping), drop)
        return out
    if isinstance(value, list | tuple):
        return [_scrub(item, (*path, i), found, False, drop) for i, item in enumerate(value)]
    return value


def redact(obj: Any) -> Any:
    """A copy of `obj` (any JSON-like value) with every secret replaced by "***"."""
    return _scrub(obj, (), None)


def redact_run_user(run: dict[str, Any]) -> dict[str, Any]:
    """`run` as it is shown (API answers, webhooks): the authenticated user in its config
    (`langgraph_auth_user`, which the graph receives whole) with the secrets an auth
    handler may have put there ("github_token", ...) replaced by "***"."""
    kwargs = run.get("kwargs") or {}
    config = kwargs.get("config") or {}
    configurable = config.get("configurable") or {}
    user = configurable.get("langgraph_auth_user")
    if not isinstance(user, Mapping):
        return run
    configurable = {**configurable, "langgraph_auth_user": redact(user)}
    return {**run, "kwargs": {**kwargs, "config": {**config, "configurable": configurable}}}


def drop_secrets(obj: Any) -> Any:
    """A copy of `obj` without its secrets, for what is stored now and sent to a graph
    later without them (a cron's payload): a "***" kept in their place would reach the
    graph as the key itself, where a missing key lets it fall back to the environment
    or to the assistant's configuration."""
    return _scrub(obj, (), None, drop=True)


class Secrets:
    """Secret values taken out of a run's config and context, by source and path.

    Opaque everywhere a value could leak: `repr`/`str` and its JSON form are "***", and
    pickling or copying carries nothing new (a pickle holds no values at all).
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Mapping[Path, Any]] | None = None) -> None:
        self._values = {source: dict(paths) for source, paths in (values or {}).items() if paths}

    def has(self, source: str) -> bool:
        return bool(self._values.get(source))

    def apply(self, source: str, data: Any) -> Any:
        """A copy of `data` with this source's secrets put back where "***" stands."""
        paths = self._values.get(source)
        if not paths or data is None:
            return data
        restored = _copy_containers(data)
        for path, value in paths.items():
            _put(restored, path, value)
        return restored

    def __bool__(self) -> bool:
        return bool(self._values)

    def __repr__(self) -> str:
        return f"Secrets({REDACTED})"

    __str__ = __repr__

    def to_json(self) -> str:
        return REDACTED

    def __reduce__(self) -> tuple[Any, ...]:
        return (Secrets, ())

    def __copy__(self) -> Secrets:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secrets:
        return self


def _copy_containers(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy_containers(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy_containers(v) for v in value]
    return value


def _put(container: Any, path: Path, value: Any) -> None:
    """Set `value` at `path` if the position exists and still holds the placeholder."""
    *parents, last = path
    for step in parents:
        try:
            container = container[step]
        except (KeyError, IndexError, TypeError):
            return
    try:
        if container[last] == REDACTED:
            container[last] = value
    except (KeyError, IndexError, TypeError):
        return


def split_secrets(
    config: dict[str, Any] | None, context: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any] | None, Secrets | None]:
    """`(clean_config, clean_context, secrets)`: copies with "***" in place of every
    secret (what may be stored and shown), and the secrets themselves (None if there were
    none), for `inject_secrets`. Secrets in `config["metadata"]` are redacted and dropped."""
    found_config: dict[Path, Any] = {}
    found_context: dict[Path, Any] = {}
    clean_config = _scrub(config or {}, (), found_config)
    clean_context = None if context is None else _scrub(context, (), found_context)
    configurable = {
        path[1:]: value for path, value in found_config.items() if path[0] == "configurable"
    }
    secrets = Secrets({"configurable": configurable, "context": found_context})
    return clean_config, clean_context, secrets or None


def inject_secrets(
    config: dict[str, Any], context: dict[str, Any] | None, secrets: Secrets | None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The config and context to execute the graph with (never to store or show)."""
    if not secrets:
        return config, context
    if secrets.has("configurable"):
        config = {**config, "configurable": {**(config.get("configurable") or {})}}
        config["configurable"][SECRETS_KEY] = secrets
    return config, secrets.apply("context", context)


def keep_redacted(new: Any, old: Any) -> Any:
    """`new` with every "***" replaced by the value at the same place in `old`.

    Clients read configuration back redacted and often send it back whole (Open Agent
    Platform saves the full form); a placeholder must not overwrite the stored secret.
    """
    if isinstance(new, str):
        return old if new == REDACTED and old is not None and old != REDACTED else new
    if isinstance(new, Mapping):
        previous = old if isinstance(old, Mapping) else {}
        return {k: keep_redacted(v, previous.get(k)) for k, v in new.items()}
    if isinstance(new, list | tuple):
        previous_items = old if isinstance(old, list | tuple) else []
        return [
            keep_redacted(v, previous_items[i] if i < len(previous_items) else None)
            for i, v in enumerate(new)
        ]
    return new

"""Reading `langgraph.json` and importing the objects it points at.

Everything here runs at start-up, so every failure is a `GraphLoadError` whose message
names the config file, module file or variable at fault: the operator sees one clear line
instead of a traceback from deep inside importlib.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from langgraph.graph import StateGraph
from langgraph.pregel import Pregel

__all__ = [
    "GraphLoadError",
    "GraphSpec",
    "LanggraphConfig",
    "check_auth_section",
    "config_from_env",
    "import_object",
    "is_graph_object",
    "load_graph_object",
    "load_langgraph_config",
    "parse_graphs",
    "resolve_embeddings",
]

logger = logging.getLogger("robyn_server")


class GraphLoadError(Exception):
    """langgraph.json, a graph module or a store index setting cannot be used."""


@dataclass(frozen=True)
class GraphSpec:
    graph_id: str
    path_spec: str
    description: str | None = None


@dataclass
class LanggraphConfig:
    config_dir: Path
    graphs: dict[str, GraphSpec]
    env: dict[str, str] | str | None = None
    store: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    source: str = "langgraph.json"

    def apply_env(self) -> None:
        """Export `env` into os.environ; values already set by the operator win.

        Kept separate from parsing so merely reading a config has no side effects; the
        registry calls it before importing graphs, which often read env at import time.
        """
        if self.env is None:
            return
        if isinstance(self.env, dict):
            for key, value in self.env.items():
                os.environ.setdefault(str(key), "" if value is None else str(value))
            return
        from dotenv import load_dotenv

        env_path = _env_file(self.config_dir, self.env, self.source)
        load_dotenv(env_path, override=False)


def load_langgraph_config(path: str | os.PathLike[str]) -> LanggraphConfig:
    """Parse and validate a langgraph.json; relative paths are anchored at its directory."""
    config_path = Path(path).expanduser().resolve()
    if not config_path.is_file():
        raise GraphLoadError(f"Config file not found: {config_path}")
    try:
        raw = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GraphLoadError(f"Invalid JSON in config file {config_path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise GraphLoadError(f"Config file {config_path} must contain a JSON object")
    source = str(config_path)
    config_dir = config_path.parent
    if "graphs" not in raw:
        raise GraphLoadError(f"Config file {config_path} has no 'graphs' section")
    graphs = parse_graphs(raw["graphs"], source)
    env = raw.get("env")
    if env is not None and not isinstance(env, dict | str):
        raise GraphLoadError(f"'env' in {source} must be an object or a path to a .env file")
    if isinstance(env, str):
        # Checked now rather than at apply time so a typo fails before anything imports.
        _env_file(config_dir, env, source)
    store = raw.get("store")
    if store is not None and not isinstance(store, dict):
        raise GraphLoadError(f"'store' in {source} must be an object")
    check_auth_section(raw.get("auth"), source)
    if raw.get("encryption"):
        logger.warning(
            "'encryption' in %s is ignored: custom encryption handlers are not supported. "
            "Set LANGGRAPH_AES_KEY to encrypt data at rest (see the README).",
            source,
        )
    return LanggraphConfig(
        config_dir=config_dir, graphs=graphs, env=env, store=store, raw=raw, source=source
    )


def config_from_env(environ: Mapping[str, str] | None = None) -> LanggraphConfig | None:
    """Build a config from LANGSERVE_GRAPHS (and LANGGRAPH_STORE), as the CLI passes them.

    Returns None when LANGSERVE_GRAPHS is unset. Relative paths resolve against the cwd
    because there is no config file to anchor them to.
    """
    environ = os.environ if environ is None else environ
    text = environ.get("LANGSERVE_GRAPHS")
    if not text:
        return None
    graphs_raw = _env_json(text, "LANGSERVE_GRAPHS")
    graphs = parse_graphs(graphs_raw, "LANGSERVE_GRAPHS")
    store = None
    if store_text := environ.get("LANGGRAPH_STORE"):
        store = _env_json(store_text, "LANGGRAPH_STORE")
        if not isinstance(store, dict):
            raise GraphLoadError("LANGGRAPH_STORE must be a JSON object")
    auth = None
    if auth_text := environ.get("LANGGRAPH_AUTH"):
        auth = _env_json(auth_text, "LANGGRAPH_AUTH")
        check_auth_section(auth, "LANGGRAPH_AUTH")
    return LanggraphConfig(
        config_dir=Path.cwd(),
        graphs=graphs,
        store=store,
        raw={
            "graphs": graphs_raw,
            **({"store": store} if store else {}),
            **({"auth": auth} if auth else {}),
        },
        source="LANGSERVE_GRAPHS",
    )


def check_auth_section(auth: Any, source: str) -> None:
    """`auth` as the LangGraph CLI takes it: `path` ("./auth.py:auth" or
    "package.module:auth"), `disable_studio_auth` (a boolean), `openapi` (security schemes
    for /openapi.json) and `cache`. The object itself is imported by `robyn_server.auth`."""
    if auth is None:
        return
    if not isinstance(auth, dict):
        raise GraphLoadError(f"'auth' in {source} must be an object")
    path = auth.get("path")
    if path is not None and (not isinstance(path, str) or ":" not in path):
        raise GraphLoadError(
            f"'auth.path' in {source} must be './file.py:variable' or 'package.module:variable'"
        )
    if not isinstance(auth.get("disable_studio_auth", False), bool):
        raise GraphLoadError(f"'auth.disable_studio_auth' in {source} must be true or false")
    openapi = auth.get("openapi")
    if openapi is not None and not (
        isinstance(openapi, dict)
        and isinstance(openapi.get("securitySchemes", {}), dict)
        and isinstance(openapi.get("security", []), list)
    ):
        raise GraphLoadError(
            f"'auth.openapi' in {source} must be an object with 'securitySchemes' (an "
            "object) and 'security' (a list), as in an OpenAPI document"
        )


def parse_graphs(graphs: Any, source: str) -> dict[str, GraphSpec]:
    if not isinstance(graphs, dict):
        raise GraphLoadError(f"'graphs' in {source} must be an object of graph_id -> path")
    specs: dict[str, GraphSpec] = {}
    for graph_id, value in graphs.items():
        description = None
        if isinstance(value, dict):
            path_spec = value.get("path")
            description = value.get("description")
            if description is not None and not isinstance(description, str):
                raise GraphLoadError(f"Graph '{graph_id}' in {source}: description must be text")
        else:
            path_spec = value
        if not isinstance(path_spec, str) or not path_spec.strip():
            raise GraphLoadError(
                f"Graph '{graph_id}' in {source} must be 'path.py:variable', "
                '\'package.module:variable\' or {"path": ..., "description": ...}'
            )
        specs[str(graph_id)] = GraphSpec(str(graph_id), path_spec.strip(), description)
    return specs


def is_graph_object(obj: Any) -> bool:
    return isinstance(obj, Pregel | StateGraph)


def import_object(path_spec: str, base_dir: Path) -> tuple[ModuleType, str | None, Any]:
    """Import `"file.py:var"` / `"pkg.module:var"`; returns (module, var name, value).

    With no `:var` the value is None and the caller picks what it wants from the module.
    """
    target, sep, var = path_spec.rpartition(":")
    if not sep or _looks_like_drive(target):
        target, var = path_spec, ""
    # Anything path-like is a file; a bare dotted name is an importable module.
    if "/" in target or "\\" in target or target.endswith(".py"):
        module = _load_file_module(Path(target), base_dir)
    else:
        _ensure_on_path(base_dir)
        module = _import_module(target)
    if not var:
        return module, None, None
    if not hasattr(module, var):
        candidates = _candidates(module)
        hint = f"; found: {', '.join(candidates)}" if candidates else "; no graphs found"
        raise GraphLoadError(
            f"Variable '{var}' not found in {_where(module)}{hint}",
        )
    return module, var, getattr(module, var)


def load_graph_object(spec: GraphSpec, base_dir: Path) -> Any:
    """Import a graph spec's target and check it is something the registry can serve."""
    try:
        module, var, value = import_object(spec.path_spec, base_dir)
    except GraphLoadError as exc:
        raise GraphLoadError(f"Graph '{spec.graph_id}' ({spec.path_spec}): {exc}") from exc
    if var is None:
        value = _first_graph(module)
        if value is None:
            raise GraphLoadError(
                f"Graph '{spec.graph_id}': no compiled graph or StateGraph found in "
                f"{_where(module)}; name one explicitly as '{spec.path_spec}:variable'"
            )
        return value
    if is_graph_object(value) or (callable(value) and not inspect.isclass(value)):
        return value
    raise GraphLoadError(
        f"Graph '{spec.graph_id}': '{var}' in {_where(module)} is a {type(value).__name__}, "
        "not a compiled graph, StateGraph or graph factory"
    )


def resolve_embeddings(embed: Any, base_dir: Path) -> Any:
    """Turn store.index.embed into an Embeddings object or embedding function."""
    if not isinstance(embed, str) or ":" not in embed:
        raise GraphLoadError(
            f"store.index.embed must be 'provider:model' or './file.py:function', got {embed!r}"
        )
    target = embed.rpartition(":")[0]
    if "/" in target or "\\" in target or target.endswith(".py"):
        from langchain_core.embeddings import Embeddings

        _, _, value = import_object(embed, base_dir)
        if inspect.isclass(value) and issubclass(value, Embeddings):
            value = value()
        if isinstance(value, Embeddings) or callable(value):
            return value
        raise GraphLoadError(
            f"store.index.embed '{embed}' is a {type(value).__name__}, "
            "not an Embeddings object or embedding function"
        )
    try:
        from langchain.embeddings import init_embeddings

        return init_embeddings(embed)
    except Exception as exc:
        raise GraphLoadError(f"Cannot initialise embeddings '{embed}': {exc}") from exc


def _env_file(config_dir: Path, env: str, source: str) -> Path:
    env_path = (config_dir / env).resolve()
    if not env_path.is_file():
        raise GraphLoadError(f"env file '{env}' referenced by {source} not found: {env_path}")
    return env_path


def _env_json(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise GraphLoadError(f"{name} is not valid JSON: {exc}") from exc


def _looks_like_drive(target: str) -> bool:
    return len(target) == 1 and target.isalpha()


def _ensure_on_path(directory: Path) -> None:
    # Appended, not prepended: a user file must not shadow stdlib or installed packages.
    entry = str(directory)
    if entry not in sys.path:
        sys.path.append(entry)


def _import_module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise GraphLoadError(f"Module '{name}' not found") from exc
        raise GraphLoadError(f"Error importing module '{name}': {exc}") from exc
    except Exception as exc:
        raise GraphLoadError(f"Error importing module '{name}': {exc!r}") from exc


def _load_file_module(file: Path, base_dir: Path) -> ModuleType:
    path = (base_dir / file).resolve() if not file.is_absolute() else file.resolve()
    if not path.is_file():
        raise GraphLoadError(f"Graph module file not found: {path}")
    _ensure_on_path(base_dir.resolve())
    name = _module_name(path, base_dir.resolve())
    existing = sys.modules.get(name)
    if existing is not None and _same_file(existing, path):
        # Reusing keeps one module object per file, so graphs imported by siblings and
        # graphs loaded from the config are the same objects.
        return existing
    if _importable_as(name, path):
        # Inside a regular package: a normal import sets up the parent package, so
        # `import pkg.graph` elsewhere yields this very module.
        return _import_module(name)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise GraphLoadError(f"Cannot import graph module file: {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise GraphLoadError(f"Error importing graph module {path}: {exc!r}") from exc
    return module


def _module_name(path: Path, base_dir: Path) -> str:
    """Dotted name relative to the config dir, so relative imports inside work."""
    try:
        parts = list(path.with_suffix("").relative_to(base_dir).parts)
    except ValueError:
        parts = []
    name = ".".join(parts)
    valid = parts and all(re.fullmatch(r"[A-Za-z_]\w*", p) for p in parts)
    existing = sys.modules.get(name) if valid else None
    if valid and (existing is None or _same_file(existing, path)):
        return name
    # Outside the config dir, not identifier-shaped, or clashing with another module.
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    stem = re.sub(r"\W", "_", path.stem)
    return f"_langgraph_graph_{stem}_{digest}"


def _importable_as(name: str, path: Path) -> bool:
    if "." not in name or not (path.parent / "__init__.py").is_file():
        return False
    try:
        spec = importlib.util.find_spec(name)
    except Exception:
        return False
    origin = getattr(spec, "origin", None)
    if not origin:
        return False
    return Path(origin).resolve() == path


def _same_file(module: ModuleType, path: Path) -> bool:
    file = getattr(module, "__file__", None)
    if not file:
        return False
    return Path(file).resolve() == path


def _where(module: ModuleType) -> str:
    file = getattr(module, "__file__", None)
    return f"{file}" if file else f"module '{module.__name__}'"


def _first_graph(module: ModuleType) -> Any:
    values = list(vars(module).values())
    for value in values:
        if isinstance(value, Pregel):
            return value
    for value in values:
        if isinstance(value, StateGraph):
            return value
    return None


def _candidates(module: ModuleType) -> list[str]:
    """Names a user most likely meant: graphs, plus functions defined in the module."""
    names = []
    for name, value in vars(module).items():
        if name.startswith("_"):
            continue
        if is_graph_object(value) or (
            inspect.isfunction(value) and value.__module__ == module.__name__
        ):
            names.append(name)
    return names

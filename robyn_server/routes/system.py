"""/ok, /, /health and /info."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from robyn_server import __version__
from robyn_server.http.requests import ApiRequest, RawRequest
from robyn_server.http.responses import error_response, json_response
from robyn_server.http.routing import RouteTable
from robyn_server.schemas.responses import Health, HealthStarting, Info, Ok
from robyn_server.services import system
from robyn_server.services.context import get_context

table = RouteTable()
route = table.route
TAGS = ["System"]
OK = {"ok": True, "services": {}}


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


@route(
    "GET",
    "/ok",
    summary="Liveness",
    tags=TAGS,
    query={"check_db": "1 to also check the database"},
    responses={500: "check_db: the database is not reachable"},
    raw=True,
    response=Ok,
)
async def ok(request: RawRequest) -> Any:
    if request.query_params.empty():
        return OK
    check_db = request.query_params.get("check_db", "0") in ("1", "true")
    if check_db and not await system.database_ok(get_context()):
        return error_response(500, "Database is not reachable")
    return OK


@route("GET", "/", summary="Liveness (alias of /ok)", tags=TAGS, raw=True, response=Ok)
async def root(request: RawRequest) -> Any:
    return await ok(request)


@route(
    "GET",
    "/health",
    summary="Health and persistence mode",
    tags=TAGS,
    responses={503: ("Starting, or the database is unreachable", Health | HealthStarting)},
    response=Health,
    public=True,
)
async def health(req: ApiRequest) -> Any:
    body, healthy = await system.health(get_context())
    return json_response(body, status=200 if healthy else 503)


@route(
    "GET",
    "/info",
    summary="Server version and feature flags",
    tags=TAGS,
    response=Info,
    public=True,
)
async def info(req: ApiRequest) -> Any:
    return {
        "version": __version__,
        "langgraph_py_version": _package_version("langgraph"),
        "flags": {
            "assistants": True,
            "crons": True,
            "langsmith": False,
            "langsmith_tracing_replicas": False,
            "langsmith_tracing_session_on_runs": False,
        },
        "host": {
            "kind": "self-hosted",
            "project_id": None,
            "host_revision_id": None,
            "revision_id": None,
            "tenant_id": None,
        },
        "persistence": system.persistence_mode(get_context()),
    }

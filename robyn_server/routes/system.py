"""/ok, /, /health, /info, /openapi.json and /docs."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from robyn import Request, Response

from robyn_server import __version__
from robyn_server.http.openapi import DOCS_HTML, openapi_document
from robyn_server.http.requests import ApiRequest
from robyn_server.http.responses import error_response, json_response
from robyn_server.http.routing import RouteTable
from robyn_server.schemas.responses import Health, HealthStarting, Info, Ok
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


async def _database_ok() -> bool:
    persistence = get_context().persistence
    if persistence is None:
        return False
    if persistence.pool is None:
        return True
    try:
        async with persistence.pool.connection(timeout=5) as conn:
            await conn.execute("SELECT 1")
        return True
    except Exception:
        return False


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
async def ok(request: Request) -> Any:
    if request.query_params.empty():
        return OK
    if request.query_params.get("check_db", "0") in ("1", "true") and not await _database_ok():
        return error_response(500, "Database is not reachable")
    return OK


@route("GET", "/", summary="Liveness (alias of /ok)", tags=TAGS, raw=True, response=Ok)
async def root(request: Request) -> Any:
    return await ok(request)


@route(
    "GET",
    "/health",
    summary="Health and persistence mode",
    tags=TAGS,
    responses={503: ("Starting, or the database is unreachable", Health | HealthStarting)},
    response=Health,
)
async def health(req: ApiRequest) -> Any:
    ctx = get_context()
    persistence = ctx.persistence
    if persistence is None:
        return json_response({"status": "starting", "persistence": None}, status=503)
    database_ok = await _database_ok()
    body: dict[str, Any] = {
        "status": "ok" if database_ok else "degraded",
        "persistence": persistence.mode,
        "database": "ok" if database_ok else "unreachable",
        "graphs": ctx.registry.ids(),
        "version": __version__,
    }
    if persistence.fallback_reason:
        body["warning"] = (
            "DATABASE_URL is set but PostgreSQL was unreachable; running in memory, so "
            f"data will be lost on restart ({persistence.fallback_reason})"
        )
    return json_response(body, status=200 if database_ok else 503)


@route("GET", "/info", summary="Server version and feature flags", tags=TAGS, response=Info)
async def info(req: ApiRequest) -> Any:
    return {
        "version": __version__,
        "langgraph_py_version": _package_version("langgraph"),
        "flags": {
            "assistants": True,
            "crons": False,
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
        "persistence": get_context().persistence.mode if get_context().persistence else None,
    }


@route("GET", "/openapi.json", summary="This document", tags=TAGS)
async def openapi(req: ApiRequest) -> Any:
    return openapi_document(tuple(get_context().registry.ids()))


@route("GET", "/docs", summary="API reference page", tags=TAGS)
async def docs(req: ApiRequest) -> Any:
    return Response(200, {"content-type": "text/html; charset=utf-8"}, DOCS_HTML)

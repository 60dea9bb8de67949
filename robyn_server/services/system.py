"""What the system endpoints report: liveness, health and the persistence mode."""

from __future__ import annotations

from typing import Any

from robyn_server import __version__
from robyn_server.services.context import AppContext


async def database_ok(ctx: AppContext) -> bool:
    persistence = ctx.persistence
    return persistence is not None and await persistence.storage.reachable()


async def health(ctx: AppContext) -> tuple[dict[str, Any], bool]:
    """The /health body, and whether the server is healthy (else it answers 503)."""
    persistence = ctx.persistence
    if persistence is None:
        return {"status": "starting", "persistence": None}, False
    ok = await database_ok(ctx)
    body: dict[str, Any] = {
        "status": "ok" if ok else "degraded",
        "persistence": persistence.mode,
        "database": "ok" if ok else "unreachable",
        "graphs": ctx.registry.ids(),
        "version": __version__,
    }
    if persistence.fallback_reason:
        body["warning"] = (
            "DATABASE_URL is set but PostgreSQL was unreachable; running in memory, so "
            f"data will be lost on restart ({persistence.fallback_reason})"
        )
    return body, ok


def persistence_mode(ctx: AppContext) -> str | None:
    return ctx.persistence.mode if ctx.persistence is not None else None

"""CORS for a list of allowed origins (with `*`, global headers do it all)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeGuard

from robyn import Request, Response, StreamingResponse


@dataclass
class CorsPolicy:
    """Echoes an allowed Origin when the origins are a list rather than `*`.

    With `*`, the headers are global response headers (set once in Rust, also on
    streams) and no per-request work is needed, so `wrap` gets no policy at all.
    """

    allow_origins: list[str]

    def allowed(self, origin: str | None) -> TypeGuard[str]:
        return origin is not None and origin in self.allow_origins

    def apply(self, request: Request, response: Response | StreamingResponse) -> None:
        origin = request.headers.get("origin")
        if self.allowed(origin):
            response.headers.set("access-control-allow-origin", origin)
            response.headers.set("vary", "origin")

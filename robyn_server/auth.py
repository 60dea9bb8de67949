"""Who is calling. Auth is not configurable yet: every caller is anonymous.

Storage calls already take a `Scope`, so turning auth on later changes only this module.
"""

from __future__ import annotations

from robyn_server.http import ApiRequest
from robyn_server.storage.base import ANONYMOUS, Scope


def scope_for(request: ApiRequest) -> Scope:
    return ANONYMOUS

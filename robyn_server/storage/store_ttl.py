"""Store item TTLs that behave the same on the in-memory and the Postgres backend.

The model is LangGraph's `AsyncPostgresStore` with `omit_expired` on: an item put with
`ttl` (minutes) expires that long after its last write, or after its last read when the
read refreshes TTLs; an expired item is invisible from that instant to get, search and
namespace listings, and a periodic sweep deletes it. `TTLInMemoryStore` gives LangGraph's
`InMemoryStore`, which has no TTLs, those semantics; `widen_ttl_minutes` fixes the one
place where the Postgres store cannot keep them (see there).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from langgraph.store.base import (
    TTLConfig,
)

logger = logging.getLogger(__name__)

# LangGraph's Postgres store writes `NOW() + '<minutes * 60> seconds'`, and Postgres
# rejects the exponent notation Python uses below 1e-4 seconds. Above the ceiling,
# "never expire" (null) is what a client means.
MIN_TTL_MINUTES = 1e-4
MAX_TTL_MINUTES = 100 * 365.25 * 24 * 60

# What AsyncPostgresStore falls back to when its config names no interval.
DEFAULT_SWEEP_INTERVAL_MINUTES = 5.0


def check_ttl(value: Any, what: str = "ttl") -> float | None:
    """`value` as TTL minutes, None meaning no expiry; ValueError when it is neither."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number of minutes or null, got {value!r}")
    minutes = float(value)
    if not math.isfinite(minutes) or minutes <= 0:
        raise ValueError(f"{what} must be a positive number of minutes, got {value!r}")
    if not MIN_TTL_MINUTES <= minutes <= MAX_TTL_MINUTES:
        raise ValueError(
            f"{what} must be between {MIN_TTL_MINUTES:g} and {MAX_TTL_MINUTES:.0f} minutes "
            f"(null for no expiry), got {value!r}"
        )
    return minutes


def ttl_config(store_ttl: dict[str, Any] | None) -> TTLConfig:
    """The TTLConfig both stores get for langgraph.json's `store.ttl` (None: not set).

    Raises ValueError for a malformed section, so a typo fails start-up instead of
    quietly keeping items forever.
    """
    raw = {} if store_ttl is None else store_ttl
    if not isinstance(raw, dict):
        raise ValueError(f"store.ttl must be an object, got {raw!r}")
    refresh = raw.get("refresh_on_read", True)
    if not isinstance(refresh, bool):
        raise ValueError(f"store.ttl.refresh_on_read must be true or false, got {refresh!r}")
    interval = raw.get("sweep_interval_minutes")
    if interval is not None and (
        isinstance(interval, bool)
        or not isinstance(interval, int | float)
        or not math.isfinite(interval)
        or interval <= 0
    ):
        raise ValueError(
            f"store.ttl.sweep_interval_minutes must be a positive number, got {interval!r}"
        )
    return TTLConfig(
        refresh_on_read=refresh,
        default_ttl=check_ttl(raw.get("default_ttl"), "store.ttl.default_ttl"),
        # LangGraph annotates this as int, but both stores only multiply it by 60 for a
        # sleep, so a fraction of a minute works (and is what tests use).
        sweep_interval_minutes=interval,  # type: ignore[typeddict-item]
        # Without this the Postgres store shows expired items until the next sweep,
        # and a refreshing read even brings them back to life.
        omit_expired=True,
    )


def sweep_minutes(config: TTLConfig | None) -> float:
    """How often to sweep: the configured interval, else LangGraph's default."""
    interval = (config or TTLConfig()).get("sweep_interval_minutes")
    return float(interval or DEFAULT_SWEEP_INTERVAL_MINUTES)

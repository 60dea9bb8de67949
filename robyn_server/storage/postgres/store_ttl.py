"""Fractional store TTLs on Postgres: LangGraph creates `store.ttl_minutes` as an
integer column, and the API accepts fractions of a minute, so the column is widened
once, at start-up."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg.rows import tuple_row

logger = logging.getLogger("robyn_server.store_ttl")

TTL_MINUTES_TYPE_SQL = """
SELECT format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a
WHERE a.attrelid = to_regclass('store') AND a.attname = 'ttl_minutes' AND NOT a.attisdropped
"""


async def widen_ttl_minutes(conn: psycopg.AsyncConnection[Any]) -> None:
    """Make LangGraph's `store.ttl_minutes` column hold fractional minutes.

    LangGraph creates it as integer, so a refresh of a 0.5-minute item would set its
    expiry to NOW() + 1 minute and one of 0.2 minutes to NOW(): refreshed TTLs would
    differ from the in-memory store's. Numeric (not double precision) because the
    refresh SQL casts `ttl_minutes || ' minutes'` to an interval, which rejects the
    exponent notation double precision prints for small values. Must run under the
    migration lock: the ALTER rewrites the table, once.
    """
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(TTL_MINUTES_TYPE_SQL)
        row = await cur.fetchone()
    if row is None or row[0] != "integer":
        return
    await conn.execute("ALTER TABLE store ALTER COLUMN ttl_minutes TYPE numeric")
    logger.info("widened store.ttl_minutes to numeric for fractional store TTLs")

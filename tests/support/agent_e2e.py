"""Helpers for end-to-end tests of the tools agent through the real server and the SDK."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql


def tokens(parts: list) -> list[str]:
    """Text of the AI message chunks, in arrival order (`messages-tuple` mode)."""
    return [
        part.data[0]["content"]
        for part in parts
        if part.event == "messages"
        and part.data[0].get("type") == "AIMessageChunk"
        and isinstance(part.data[0].get("content"), str)
        and part.data[0]["content"]
    ]


def last_values(parts: list) -> dict[str, Any]:
    return [part.data for part in parts if part.event == "values"][-1]


def text(message: dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content if isinstance(block, dict))


def tool_messages(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in values["messages"] if m["type"] == "tool"]


async def rows_containing(database_url: str, needles: list[str]) -> dict[str, list[str]]:
    """Every needle found anywhere in the database: needle -> ["schema.table.column", ...].

    Text-like columns are searched as text and bytea columns (checkpoint blobs) as bytes,
    in every table of every schema but the system ones.
    """
    found: dict[str, list[str]] = {needle: [] for needle in needles}
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute(
            "SELECT table_schema, table_name, column_name, data_type "
            "FROM information_schema.columns JOIN information_schema.tables "
            "USING (table_schema, table_name) "
            "WHERE table_type = 'BASE TABLE' "
            "AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        )
        for schema, table, column, data_type in await cur.fetchall():
            ident = sql.Identifier(schema, table)
            col = sql.Identifier(column)
            for needle in needles:
                if data_type == "bytea":
                    query = sql.SQL("SELECT count(*) FROM {} WHERE position(%s IN {}) > 0")
                    param: Any = needle.encode()
                else:
                    query = sql.SQL("SELECT count(*) FROM {} WHERE {}::text LIKE %s")
                    param = f"%{needle}%"
                count = await (await conn.execute(query.format(ident, col), (param,))).fetchone()
                if count and count[0]:
                    found[needle].append(f"{schema}.{table}.{column}")
    return {needle: places for needle, places in found.items() if places}

"""`PgEventLog`: run event logs (storage/event_log.py) in PostgreSQL.

Every call is ONE statement, so one round trip and its own transaction (the pool's
connections autocommit):

- `append` inserts a whole batch from arrays (`unnest`), creates or ends the run's
  `run_streams` row, and sends the signal that wakes readers with `pg_notify` in the
  same statement: readers are woken exactly when the batch is visible, never before.
- `read` takes events and the run's end from the same snapshot, so an end it sees
  always comes with every event written before it.
- `sweep` deletes expired logs and their events together.
"""

from __future__ import annotations

from typing import Any

from robyn_server.storage.event_log import EventKey, EventLog, LoggedEvent, RunEnd
from robyn_server.storage.postgres.sql import DictPool

_STREAM = """
INSERT INTO langgraph_server.run_streams AS s
    (run_id, thread_id, resumable, ended_at, result, expires_at)
VALUES (
    %(run_id)s, %(thread_id)s, %(resumable)s,
    CASE WHEN %(ended)s THEN now() END,
    %(result)s,
    CASE WHEN %(ended)s THEN now() + %(keep)s * interval '1 second' END
)
ON CONFLICT (run_id) DO UPDATE
    SET ended_at = EXCLUDED.ended_at, result = EXCLUDED.result, expires_at = EXCLUDED.expires_at
    WHERE EXCLUDED.ended_at IS NOT NULL
"""

_EVENTS = """
INSERT INTO langgraph_server.run_events (run_id, ms, seq, name, data)
SELECT %(run_id)s, * FROM unnest(
    %(ms)s::bigint[], %(seq)s::bigint[], %(name)s::text[], %(data)s::bytea[]
)
ON CONFLICT DO NOTHING
"""

APPEND_SQL = f"WITH s AS ({_STREAM}), e AS ({_EVENTS}) SELECT 1 AS ok"
APPEND_NOTIFY_SQL = (
    f"WITH s AS ({_STREAM}), e AS ({_EVENTS}) SELECT pg_notify(%(channel)s, %(payload)s) AS ok"
)

READ_SQL = """
WITH ev AS (
    SELECT ms, seq, name, data FROM langgraph_server.run_events
    WHERE run_id = %(run_id)s AND (ms, seq) > (%(ms)s, %(seq)s)
    ORDER BY ms, seq
    LIMIT %(limit)s
)
SELECT ms, seq, name, data, false AS is_end, NULL::float8 AS expires_in FROM ev
UNION ALL
SELECT NULL, NULL, NULL, result, true, extract(epoch FROM expires_at - now())::float8
FROM langgraph_server.run_streams
WHERE run_id = %(run_id)s AND ended_at IS NOT NULL
"""

READ_THREAD_SQL = """
SELECT e.ms, e.seq, e.name, e.data
FROM langgraph_server.run_streams s
JOIN langgraph_server.run_events e ON e.run_id = s.run_id
WHERE s.thread_id = %(thread_id)s AND s.resumable AND (e.ms, e.seq) > (%(ms)s, %(seq)s)
ORDER BY e.ms, e.seq
LIMIT %(limit)s
"""

SWEEP_SQL = """
WITH gone AS (
    DELETE FROM langgraph_server.run_streams
    WHERE expires_at <= now()
       OR (ended_at IS NULL AND created_at < now() - %(stale)s * interval '1 second')
    RETURNING run_id
), ev AS (
    DELETE FROM langgraph_server.run_events e USING gone WHERE e.run_id = gone.run_id
)
SELECT count(*) AS n FROM gone
"""


class PgEventLog(EventLog):
    def __init__(self, pool: DictPool) -> None:
        self._pool = pool

    async def append(
        self,
        run_id: str,
        thread_id: str,
        events: list[LoggedEvent],
        *,
        end: RunEnd | None = None,
        keep_seconds: float = 0.0,
        notify: tuple[str, str] | None = None,
        resumable: bool = False,
    ) -> None:
        params: dict[str, Any] = {
            "run_id": run_id,
            "thread_id": thread_id,
            "resumable": resumable,
            "ended": end is not None,
            "result": end.result if end is not None else None,
            "keep": keep_seconds,
            "ms": [e.key[0] for e in events],
            "seq": [e.key[1] for e in events],
            "name": [e.name for e in events],
            "data": [e.data for e in events],
        }
        query = APPEND_SQL
        if notify is not None:
            params["channel"], params["payload"] = notify
            query = APPEND_NOTIFY_SQL
        async with self._pool.connection() as conn:
            await conn.execute(query, params)

    async def read(
        self, run_id: str, after: EventKey = (-1, -1), limit: int = 10_000
    ) -> tuple[list[LoggedEvent], RunEnd | None]:
        params = {"run_id": run_id, "ms": after[0], "seq": after[1], "limit": limit}
        async with self._pool.connection() as conn:
            cur = await conn.execute(READ_SQL, params)
            rows = await cur.fetchall()
        events: list[LoggedEvent] = []
        end: RunEnd | None = None
        for row in rows:
            if row["is_end"]:
                end = RunEnd(bytes(row["data"]), max(0.0, row["expires_in"] or 0.0))
            else:
                events.append(LoggedEvent((row["ms"], row["seq"]), row["name"], bytes(row["data"])))
        events.sort(key=_key)
        return events, (end if len(events) < limit else None)

    async def read_thread(
        self, thread_id: str, after: EventKey, limit: int = 10_000
    ) -> list[LoggedEvent]:
        params = {"thread_id": thread_id, "ms": after[0], "seq": after[1], "limit": limit}
        async with self._pool.connection() as conn:
            cur = await conn.execute(READ_THREAD_SQL, params)
            rows = await cur.fetchall()
        return [LoggedEvent((r["ms"], r["seq"]), r["name"], bytes(r["data"])) for r in rows]

    async def sweep(self, stale_seconds: float) -> int:
        async with self._pool.connection() as conn:
            cur = await conn.execute(SWEEP_SQL, {"stale": stale_seconds})
            row = await cur.fetchone()
        return int(row["n"]) if row else 0


def _key(event: LoggedEvent) -> EventKey:
    return event.key

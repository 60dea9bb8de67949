"""`PgEventLog`: run event logs (storage/event_log.py) in PostgreSQL.

Every call is ONE statement, so one round trip and its own transaction (the pool's
connections autocommit):

- `append` inserts a whole batch from arrays (`unnest`), creates or ends the run's
  `run_streams` row (the end with the run's `run_done` in `thread_events`), and sends
  the signal that wakes readers with `pg_notify` in the same statement: readers are
  woken exactly when the batch is visible, never before.
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
    (run_id, thread_id, resumable, ended_at, result, expires_at, last_ms)
VALUES (
    %(run_id)s, %(thread_id)s, %(resumable)s,
    CASE WHEN %(ended)s THEN now() END,
    %(result)s,
    CASE WHEN %(ended)s THEN now() + %(keep)s * interval '1 second' END,
    %(last_ms)s
)
ON CONFLICT (run_id) DO UPDATE
    SET ended_at = EXCLUDED.ended_at, result = EXCLUDED.result, expires_at = EXCLUDED.expires_at,
        last_ms = GREATEST(s.last_ms, EXCLUDED.last_ms)
    WHERE EXCLUDED.ended_at IS NOT NULL
"""

_EVENTS = """
INSERT INTO langgraph_server.run_events (run_id, ms, seq, name, data)
SELECT %(run_id)s, * FROM unnest(
    %(ms)s::bigint[], %(seq)s::bigint[], %(name)s::text[], %(data)s::bytea[]
)
ON CONFLICT DO NOTHING
"""

_THREAD_EVENTS = """
INSERT INTO langgraph_server.thread_events (thread_id, ms, seq, name, data, expires_at)
SELECT %(thread_id)s, t.*, now() + %(keep)s * interval '1 second' FROM unnest(
    %(t_ms)s::bigint[], %(t_seq)s::bigint[], %(t_name)s::text[], %(t_data)s::bytea[]
) AS t
ON CONFLICT DO NOTHING
"""

_NOTIFY = "SELECT pg_notify(%(channel)s, %(payload)s) AS ok"


def _append_sql(thread_events: bool, notify: bool) -> str:
    parts = [f"s AS ({_STREAM})", f"e AS ({_EVENTS})"]
    if thread_events:
        parts.append(f"t AS ({_THREAD_EVENTS})")
    return "WITH " + ", ".join(parts) + " " + (_NOTIFY if notify else "SELECT 1 AS ok")


# By (with thread events, with a signal).
APPEND_SQL = {(t, n): _append_sql(t, n) for t in (False, True) for n in (False, True)}

THREAD_EVENT_SQL = {
    False: f"WITH t AS ({_THREAD_EVENTS}) SELECT 1 AS ok",
    True: f"WITH t AS ({_THREAD_EVENTS}) {_NOTIFY}",
}

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
SELECT ms, seq, name, data, replayable, thread_level FROM (
    SELECT e.ms, e.seq, e.name, e.data, s.resumable AS replayable, false AS thread_level
    FROM langgraph_server.run_streams s
    JOIN langgraph_server.run_events e ON e.run_id = s.run_id
    WHERE s.thread_id = %(thread_id)s AND (s.resumable OR %(live)s)
      AND (e.ms, e.seq) > (%(ms)s, %(seq)s)
    UNION ALL
    SELECT ms, seq, name, data, true, true FROM langgraph_server.thread_events
    WHERE thread_id = %(thread_id)s AND (ms, seq) > (%(t_ms)s, %(t_seq)s)
) AS events
ORDER BY ms, seq
LIMIT %(limit)s
"""

THREAD_TAIL_SQL = """
SELECT coalesce(
           GREATEST(
               max(last_ms) FILTER (WHERE ended_at IS NOT NULL),
               (SELECT max(ms) FROM langgraph_server.run_events WHERE run_id = %(run_id)s)
           ),
           -1
       ) AS floor,
       coalesce(
           array_agg(run_id::text) FILTER (WHERE ended_at IS NULL AND run_id <> %(run_id)s),
           '{}'
       ) AS open
FROM langgraph_server.run_streams
WHERE thread_id = %(thread_id)s
"""

ABANDON_SQL = """
UPDATE langgraph_server.run_streams
SET ended_at = now(), result = 'null'::bytea,
    expires_at = now() + %(keep)s * interval '1 second',
    last_ms = coalesce(
        (SELECT max(ms) FROM langgraph_server.run_events e WHERE e.run_id = run_streams.run_id),
        last_ms
    )
WHERE run_id = ANY(%(run_ids)s::uuid[]) AND ended_at IS NULL
"""

SWEEP_SQL = """
WITH gone AS (
    DELETE FROM langgraph_server.run_streams
    WHERE expires_at <= now()
       OR (ended_at IS NULL AND created_at < now() - %(stale)s * interval '1 second')
    RETURNING run_id
), ev AS (
    DELETE FROM langgraph_server.run_events e USING gone WHERE e.run_id = gone.run_id
), te AS (
    DELETE FROM langgraph_server.thread_events WHERE expires_at <= now()
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
        thread_events: list[LoggedEvent] | None = None,
    ) -> None:
        last = [e.key[0] for e in (*events, *(thread_events or ()))]
        params: dict[str, Any] = {
            "run_id": run_id,
            "thread_id": thread_id,
            "resumable": resumable,
            "ended": end is not None,
            "result": end.result if end is not None else None,
            "keep": keep_seconds,
            "last_ms": max(last) if end is not None and last else None,
            **_arrays(events),
        }
        if thread_events:
            params.update(_arrays(thread_events, "t_"))
        if notify is not None:
            params["channel"], params["payload"] = notify
        query = APPEND_SQL[bool(thread_events), notify is not None]
        async with self._pool.connection() as conn:
            await conn.execute(query, params)

    async def append_thread_event(
        self,
        thread_id: str,
        event: LoggedEvent,
        *,
        keep_seconds: float,
        notify: tuple[str, str] | None = None,
    ) -> None:
        params: dict[str, Any] = {
            "thread_id": thread_id,
            "keep": keep_seconds,
            **_arrays([event], "t_"),
        }
        if notify is not None:
            params["channel"], params["payload"] = notify
        async with self._pool.connection() as conn:
            await conn.execute(THREAD_EVENT_SQL[notify is not None], params)

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
        self,
        thread_id: str,
        after: EventKey,
        limit: int = 10_000,
        *,
        live: bool = False,
        thread_after: EventKey | None = None,
    ) -> list[LoggedEvent]:
        t_after = after if thread_after is None else thread_after
        params = {
            "thread_id": thread_id,
            "ms": after[0],
            "seq": after[1],
            "t_ms": t_after[0],
            "t_seq": t_after[1],
            "limit": limit,
            "live": live,
        }
        async with self._pool.connection() as conn:
            cur = await conn.execute(READ_THREAD_SQL, params)
            rows = await cur.fetchall()
        return [
            LoggedEvent(
                (r["ms"], r["seq"]), r["name"], bytes(r["data"]), r["replayable"], r["thread_level"]
            )
            for r in rows
        ]

    async def thread_tail(self, thread_id: str, run_id: str) -> tuple[int, list[str]]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(THREAD_TAIL_SQL, {"thread_id": thread_id, "run_id": run_id})
            row = await cur.fetchone()
        assert row is not None  # an aggregate always gives a row
        return int(row["floor"]), list(row["open"])

    async def abandon(self, run_ids: list[str], keep_seconds: float) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(ABANDON_SQL, {"run_ids": run_ids, "keep": keep_seconds})

    async def sweep(self, stale_seconds: float) -> int:
        async with self._pool.connection() as conn:
            cur = await conn.execute(SWEEP_SQL, {"stale": stale_seconds})
            row = await cur.fetchone()
        return int(row["n"]) if row else 0


def _arrays(events: list[LoggedEvent], prefix: str = "") -> dict[str, Any]:
    """Events as the parallel arrays the inserts `unnest`."""
    return {
        f"{prefix}ms": [e.key[0] for e in events],
        f"{prefix}seq": [e.key[1] for e in events],
        f"{prefix}name": [e.name for e in events],
        f"{prefix}data": [e.data for e in events],
    }


def _key(event: LoggedEvent) -> EventKey:
    return event.key

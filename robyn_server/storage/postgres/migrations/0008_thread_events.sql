-- Thread-level events (a run's `run_done`, `state_update`) in the event log, so that a
-- thread stream on any process sees them, in one order with the events of the thread's
-- runs (engine/event_bus.py).

-- The last event id's `ms` of an ended log: a run of the same thread that starts later,
-- on any process, gives ids after it, so a thread's events keep increasing.
ALTER TABLE langgraph_server.run_streams ADD COLUMN last_ms bigint;

-- A thread stream follows every stored run of its thread, not only resumable ones.
DROP INDEX langgraph_server.run_streams_thread_idx;
CREATE INDEX run_streams_thread_idx ON langgraph_server.run_streams (thread_id);

CREATE TABLE langgraph_server.thread_events (
    thread_id uuid NOT NULL,
    ms bigint NOT NULL,
    seq bigint NOT NULL,
    name text NOT NULL,
    data bytea NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (thread_id, ms, seq)
);

CREATE INDEX thread_events_expires_idx ON langgraph_server.thread_events (expires_at);

-- RLS with no policies, as in 0001: invisible to a data API running as another role.
ALTER TABLE langgraph_server.thread_events ENABLE ROW LEVEL SECURITY;

-- Run event logs (storage/event_log.py): the events of resumable runs, and of runs
-- watched from another server process, for replay by Last-Event-ID and for watchers on
-- other processes. Written in batches by the process executing the run; swept once
-- `expires_at` (set when the run ends) has passed.
--
-- No foreign key to runs: an insert per batch must stay cheap, and a log outlives
-- nothing for long (the sweep removes it).

CREATE TABLE langgraph_server.run_streams (
    run_id uuid PRIMARY KEY,
    thread_id uuid NOT NULL,
    -- Replayed on the thread stream by Last-Event-ID (only resumable runs are).
    resumable boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Set when the run ends: its /wait answer (encoded JSON) and when to sweep.
    ended_at timestamptz,
    result bytea,
    expires_at timestamptz
);

-- The sweep: ended logs by expiry, and logs of runs that never ended by age.
CREATE INDEX run_streams_expires_idx ON langgraph_server.run_streams (expires_at)
    WHERE expires_at IS NOT NULL;
CREATE INDEX run_streams_open_idx ON langgraph_server.run_streams (created_at)
    WHERE ended_at IS NULL;

-- A thread stream's replay: the thread's resumable runs.
CREATE INDEX run_streams_thread_idx ON langgraph_server.run_streams (thread_id)
    WHERE resumable;

CREATE TABLE langgraph_server.run_events (
    run_id uuid NOT NULL,
    ms bigint NOT NULL,
    seq bigint NOT NULL,
    name text NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (run_id, ms, seq)
);

-- RLS with no policies, as in 0001: invisible to a data API running as another role.
ALTER TABLE langgraph_server.run_streams ENABLE ROW LEVEL SECURITY;
ALTER TABLE langgraph_server.run_events ENABLE ROW LEVEL SECURITY;

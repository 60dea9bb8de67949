-- Runs: one execution of an assistant on a thread, queued and claimed by the run engine.
--
-- A run carries the owner of its thread (storage/base_runs.py), so scoped reads filter
-- runs exactly as they filter threads. No foreign key to assistants: a run outlives the
-- assistant it was started with, as its record of what ran.

CREATE TABLE langgraph_server.runs (
    run_id uuid PRIMARY KEY,
    thread_id uuid NOT NULL
        REFERENCES langgraph_server.threads (thread_id) ON DELETE CASCADE,
    owner text,
    assistant_id uuid NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    status text COLLATE "C" NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'running', 'success', 'error', 'timeout', 'interrupted')),
    kwargs jsonb NOT NULL DEFAULT '{}'::jsonb,
    multitask_strategy text COLLATE "C" NOT NULL,
    attempt integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- A thread's runs newest first (run_search, scanned backwards), and the cascade from
-- thread deletion, which would otherwise scan the whole table.
CREATE INDEX runs_thread_idx ON langgraph_server.runs (thread_id, created_at, run_id);

-- Inflight runs per thread, oldest first: run_create's busy check, run_claim,
-- run_next_due and run_inflight. Partial, so it holds only the few unfinished runs
-- however long the history grows.
CREATE INDEX runs_inflight_idx ON langgraph_server.runs (thread_id, created_at, run_id)
    WHERE status IN ('pending', 'running');

-- Crash recovery and shutdown scan every running run, of every thread.
CREATE INDEX runs_running_idx ON langgraph_server.runs (created_at, run_id)
    WHERE status = 'running';

-- RLS with no policies, as in 0001: invisible to a data API running as another role.
ALTER TABLE langgraph_server.runs ENABLE ROW LEVEL SECURITY;

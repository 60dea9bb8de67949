-- Several server processes share one database and one run queue (engine/engine.py).
--
-- Each process registers a worker row and renews its lease (`expires_at`) from a
-- heartbeat. A running run names the worker executing it: a run whose worker's lease
-- expired (the process died, or was paused past its lease) is an orphan, which any
-- live process puts back in the queue with attempt + 1. The pair (worker_id, attempt)
-- fences the old executor: its final writes name both, and find nothing to update
-- once the run has moved on.

CREATE TABLE langgraph_server.workers (
    worker_id uuid PRIMARY KEY,
    host text NOT NULL,
    pid integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

-- `holder`: the worker that keeps a run's secrets in memory (they are never stored);
-- while it lives, only it starts that run.
ALTER TABLE langgraph_server.runs ADD COLUMN worker_id uuid, ADD COLUMN holder uuid;

-- RLS with no policies, as in 0001: invisible to a data API running as another role.
ALTER TABLE langgraph_server.workers ENABLE ROW LEVEL SECURITY;

-- Crons: the rows are the schedule (storage/base_crons.py). Every scheduler sharing the
-- database reads the due rows and claims a tick by moving `next_run_date` forward in
-- the transaction that creates the tick's run, so a tick has exactly one run.

CREATE TABLE langgraph_server.crons (
    cron_id uuid PRIMARY KEY,
    -- Deleting the assistant or the thread deletes its crons.
    assistant_id uuid NOT NULL
        REFERENCES langgraph_server.assistants (assistant_id) ON DELETE CASCADE,
    thread_id uuid REFERENCES langgraph_server.threads (thread_id) ON DELETE CASCADE,
    owner text,
    schedule text NOT NULL,
    timezone text,
    end_time timestamptz,
    payload jsonb NOT NULL DEFAULT '{}'::jsonb,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    on_run_completed text COLLATE "C" CHECK (on_run_completed IN ('delete', 'keep')),
    enabled boolean NOT NULL DEFAULT true,
    next_run_date timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The scheduler's two queries (due crons, earliest next run) read only enabled crons in
-- next_run_date order; disabled ones stay out of the index.
CREATE INDEX crons_due_idx ON langgraph_server.crons (next_run_date, cron_id) WHERE enabled;
-- The cascades from thread and assistant deletion, and the searches by either.
CREATE INDEX crons_thread_idx ON langgraph_server.crons (thread_id);
CREATE INDEX crons_assistant_idx ON langgraph_server.crons (assistant_id);
CREATE INDEX crons_created_at_idx ON langgraph_server.crons (created_at, cron_id);
CREATE INDEX crons_metadata_idx ON langgraph_server.crons USING gin (metadata jsonb_path_ops);
CREATE INDEX crons_owner_idx ON langgraph_server.crons (owner);

-- Schedulers sleep until the earliest next_run_date; any write that could make a cron
-- due sooner wakes them, whichever server (or person, with psql) made it. The payload is
-- the cron's next_run_date (epoch seconds): a scheduler already due to wake before it
-- sleeps on. Claiming a tick only moves next_run_date later, so it notifies nobody.
-- Notifications are delivered at commit.
CREATE FUNCTION langgraph_server.crons_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('langgraph_server_crons', extract(epoch FROM NEW.next_run_date)::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER crons_inserted AFTER INSERT ON langgraph_server.crons
    FOR EACH ROW WHEN (NEW.enabled)
    EXECUTE FUNCTION langgraph_server.crons_changed();

CREATE TRIGGER crons_sooner AFTER UPDATE ON langgraph_server.crons
    FOR EACH ROW
    WHEN (NEW.enabled AND (NOT OLD.enabled OR NEW.next_run_date < OLD.next_run_date
                           OR NEW.end_time IS DISTINCT FROM OLD.end_time))
    EXECUTE FUNCTION langgraph_server.crons_changed();

-- RLS with no policies, as in 0001: invisible to a data API running as another role.
ALTER TABLE langgraph_server.crons ENABLE ROW LEVEL SECURITY;

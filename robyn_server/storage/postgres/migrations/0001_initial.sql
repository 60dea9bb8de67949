-- Assistants, their version history, and threads.
--
-- Append-only: once released, a migration never changes; later ones (runs, crons) get
-- the next number. Each file runs in one transaction, so no CREATE INDEX CONCURRENTLY.
--
-- Text columns that the API sorts by use COLLATE "C" so Postgres orders them by code
-- point, exactly like the in-memory backend, whatever the database's default locale.

CREATE SCHEMA IF NOT EXISTS langgraph_server;

CREATE TABLE langgraph_server.assistants (
    assistant_id uuid PRIMARY KEY,
    owner text,
    graph_id text COLLATE "C" NOT NULL,
    config jsonb NOT NULL DEFAULT '{}'::jsonb,
    context jsonb NOT NULL DEFAULT '{}'::jsonb,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    name text COLLATE "C" NOT NULL,
    description text,
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Every search sorts by one column and breaks ties by id, so each sort index carries it.
CREATE INDEX assistants_metadata_idx
    ON langgraph_server.assistants USING gin (metadata jsonb_path_ops);
CREATE INDEX assistants_graph_id_idx ON langgraph_server.assistants (graph_id, assistant_id);
CREATE INDEX assistants_created_at_idx ON langgraph_server.assistants (created_at, assistant_id);
CREATE INDEX assistants_updated_at_idx ON langgraph_server.assistants (updated_at, assistant_id);
CREATE INDEX assistants_name_idx ON langgraph_server.assistants (name, assistant_id);
CREATE INDEX assistants_owner_idx ON langgraph_server.assistants (owner);

-- No owner column: a version is reachable only through its assistant, which is scoped.
CREATE TABLE langgraph_server.assistant_versions (
    assistant_id uuid NOT NULL
        REFERENCES langgraph_server.assistants (assistant_id) ON DELETE CASCADE,
    version integer NOT NULL,
    graph_id text COLLATE "C" NOT NULL,
    config jsonb NOT NULL DEFAULT '{}'::jsonb,
    context jsonb NOT NULL DEFAULT '{}'::jsonb,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    name text COLLATE "C" NOT NULL,
    description text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (assistant_id, version)
);

CREATE INDEX assistant_versions_metadata_idx
    ON langgraph_server.assistant_versions USING gin (metadata jsonb_path_ops);

CREATE TABLE langgraph_server.threads (
    thread_id uuid PRIMARY KEY,
    owner text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    state_updated_at timestamptz NOT NULL DEFAULT now(),
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    status text COLLATE "C" NOT NULL DEFAULT 'idle'
        CHECK (status IN ('idle', 'busy', 'interrupted', 'error')),
    config jsonb NOT NULL DEFAULT '{}'::jsonb,
    "values" jsonb,
    interrupts jsonb NOT NULL DEFAULT '{}'::jsonb,
    error jsonb,
    ttl jsonb
);

CREATE INDEX threads_metadata_idx ON langgraph_server.threads USING gin (metadata jsonb_path_ops);
CREATE INDEX threads_values_idx ON langgraph_server.threads USING gin ("values" jsonb_path_ops);
CREATE INDEX threads_updated_at_idx ON langgraph_server.threads (updated_at, thread_id);
CREATE INDEX threads_created_at_idx ON langgraph_server.threads (created_at, thread_id);
CREATE INDEX threads_state_updated_at_idx
    ON langgraph_server.threads (state_updated_at, thread_id);
CREATE INDEX threads_status_idx ON langgraph_server.threads (status, updated_at);
-- Serves assistant_delete(delete_threads=True); the query must use this exact expression.
CREATE INDEX threads_assistant_id_idx ON langgraph_server.threads ((metadata ->> 'assistant_id'));
CREATE INDEX threads_owner_idx ON langgraph_server.threads (owner);

-- RLS with no policies: an HTTP data API (PostgREST / Supabase) running as another role
-- sees no rows, while the owning role this server connects as is unaffected.
ALTER TABLE langgraph_server.assistants ENABLE ROW LEVEL SECURITY;
ALTER TABLE langgraph_server.assistant_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE langgraph_server.threads ENABLE ROW LEVEL SECURITY;

-- Serves the TTL sweeper: only threads that carry a TTL are candidates, so the index
-- stays small however many threads exist.
CREATE INDEX threads_ttl_idx ON langgraph_server.threads (updated_at) WHERE ttl IS NOT NULL;

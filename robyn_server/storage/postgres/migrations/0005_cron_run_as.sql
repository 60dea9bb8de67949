-- The user a cron's runs run as, when the server has custom auth: the user who created
-- the cron (identity, permissions and whatever else the auth handler returned), so each
-- tick's run reaches the graph as a request of theirs would. Read by the scheduler only
-- (storage/base_crons.py `cron_due`); its identity is also the cron's `owner`.
ALTER TABLE langgraph_server.crons ADD COLUMN run_as jsonb;

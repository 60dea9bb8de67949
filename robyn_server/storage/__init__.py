"""Persistence behind one async interface (`base.Storage`), with two interchangeable
backends: `memory` (one process, lost on exit) and `postgres` (schema `langgraph_server`).
Neither backend imports the other; `app.persistence` picks one at start-up."""

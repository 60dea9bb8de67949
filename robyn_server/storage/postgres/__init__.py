"""The `Storage` contract on PostgreSQL (schema `langgraph_server`), and its migrations."""

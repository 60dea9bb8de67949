"""A self-hostable LangGraph Server API on Robyn, with Postgres or in-memory persistence."""

__version__ = "0.1.0"

"""Graphs from langgraph.json: loading them, the registry that serves them, their schemas."""

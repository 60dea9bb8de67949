"""The `Storage` contract in this process's memory, and LangGraph's store with TTLs."""

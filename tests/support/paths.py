"""Where the repository and the tests' fixture files are."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# The repo's own langgraph.json: "agent" is tools_agent.
REPO_CONFIG = REPO_ROOT / "langgraph.json"
FIXTURES = REPO_ROOT / "tests" / "fixtures"
# The test graphs' langgraph.json, which e2e servers load unless a test says otherwise.
FIXTURE_CONFIG = FIXTURES / "langgraph.json"
FIXTURE_GRAPH_DIR = FIXTURES / "graphs"
BAD_CONFIGS = FIXTURES / "bad_configs"

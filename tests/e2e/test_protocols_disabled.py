"""`http.disable_a2a` and `http.disable_mcp` in langgraph.json turn the endpoints off."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.support.paths import FIXTURE_CONFIG
from tests.support.server import ServerProcess


def test_both_can_be_turned_off(tmp_path: Path) -> None:
    graphs = FIXTURE_CONFIG.parent / "graphs"
    config = {
        "graphs": {"agent": f"{graphs / 'agent.py'}:graph"},
        "http": {"disable_a2a": True, "disable_mcp": True},
    }
    path = tmp_path / "langgraph.json"
    path.write_text(json.dumps(config))
    with ServerProcess(config=path) as server:
        card = httpx.get(f"{server.url}/a2a/agent/.well-known/agent-card.json")
        assert card.status_code == 404
        headers = {"accept": "application/json, text/event-stream"}
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        assert httpx.post(f"{server.url}/mcp", json=ping, headers=headers).status_code == 404
        assert httpx.get(f"{server.url}/ok").status_code == 200

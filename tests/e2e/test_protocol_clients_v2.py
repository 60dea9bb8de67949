"""The newer clients, a2a-sdk 1.x (A2A v1.0, and its v0.3 transport) and mcp 2.x, on
both backends. They run in a virtualenv of their own (tests/support/client_venv.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.client_venv import client_python, drive
from tests.support.server import ServerProcess


@pytest.fixture(scope="session")
def python() -> Path:
    return client_python()


def test_a2a_sdk_1(server: ServerProcess, python: Path) -> None:
    seen = drive(python, "a2a", server.url)
    assert seen["send"] == {
        "state": "TASK_STATE_COMPLETED",
        "artifact": ["hello there friend"],
        "roles": ["ROLE_USER", "ROLE_AGENT"],
    }
    assert seen["get"] == {"state": "TASK_STATE_COMPLETED", "history": 1}
    assert seen["cancel_finished"] == "TaskNotCancelableError"
    assert seen["get_unknown"] == "TaskNotFoundError"
    assert seen["list"] is True
    kinds = seen["stream"]["kinds"]
    assert kinds[0] == "task" and kinds[-2:] == ["artifact_update", "status_update"]
    assert "status_update" in kinds[1:-2]
    assert seen["stream"]["artifact"] == ["hello there friend"]
    assert seen["hitl"] == {
        "asked": "TASK_STATE_INPUT_REQUIRED",
        "interrupt": {"question": "approve?"},
        "done": "TASK_STATE_COMPLETED",
        "answer": ["you said: yes"],
        "again": "TASK_STATE_INPUT_REQUIRED",
        "resumed": ["you said: ok"],
    }
    assert seen["cancel"] == {
        "submitted": "TASK_STATE_SUBMITTED",
        "canceled": "TASK_STATE_CANCELED",
    }
    assert seen["compat"]["state"] == "TASK_STATE_COMPLETED"
    assert seen["subscribe"][0] == "task"
    assert seen["subscribe"][-2:] == ["artifact_update", "status_update"]


def test_mcp_2(server: ServerProcess, python: Path) -> None:
    seen = drive(python, "mcp", server.url)
    assert seen["protocol_version"] == "2025-11-25"
    assert {"agent", "hitl", "errgraph"} <= set(seen["tools"])
    assert seen["schema"]["properties"]["messages"]["type"] == "string"
    assert seen["reply"] == "hello there friend"
    assert seen["structured"] is True
    assert seen["error"] == [True, "ValueError: kaboom"]

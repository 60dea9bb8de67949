"""Human approval of tool calls: what the interrupt carries, and what a resume may say.

The interrupt value has the shape of LangChain's human-in-the-loop middleware (which
Agent Chat UI renders):

    {"action_requests": [{"name", "args", "description", "tool_call_id"}, ...],
     "review_configs": [{"action_name", "allowed_decisions": ["approve", "edit", "reject"]}]}

A resume (`command: {"resume": ...}`) answers every request, in order, with a decision:

    {"decisions": [{"type": "approve"},
                   {"type": "edit", "edited_action": {"name": "add", "args": {...}}},
                   {"type": "reject", "message": "why"}]}

A bare list of decisions, a single decision (for a single request), the strings
"approve"/"reject", `{"type": "edit", "args": {...}}`, and Agent Inbox's
accept/ignore/response/edit forms are accepted too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.messages import ToolCall

__all__ = ["Decision", "parse_decisions", "review_request"]

DECISIONS = ["approve", "edit", "reject"]
_ALIASES = {"accept": "approve", "approved": "approve", "ignore": "reject", "response": "reject"}


@dataclass(frozen=True)
class Decision:
    kind: Literal["approve", "edit", "reject"]
    name: str | None = None
    args: dict[str, Any] | None = None
    message: str | None = None


def review_request(calls: list[ToolCall]) -> dict[str, Any]:
    return {
        "action_requests": [
            {
                "name": call["name"],
                "args": call["args"],
                "description": f"Tool execution requires approval\n\nTool: {call['name']}\n"
                f"Args: {json.dumps(call['args'], default=str)}",
                "tool_call_id": call["id"],
            }
            for call in calls
        ],
        "review_configs": [
            {"action_name": call["name"], "allowed_decisions": list(DECISIONS)} for call in calls
        ],
    }


def parse_decisions(resume: Any, count: int) -> list[Decision]:
    """One decision per pending call; a ValueError explains a resume that does not fit."""
    if isinstance(resume, dict) and "decisions" in resume:
        resume = resume["decisions"]
    items = resume if isinstance(resume, list) else [resume]
    if len(items) != count:
        raise ValueError(
            f"The resume value must hold {count} decision(s), one per tool call awaiting "
            f"approval, but it holds {len(items)}"
        )
    return [_decision(item) for item in items]


def _decision(item: Any) -> Decision:
    if isinstance(item, str):
        item = {"type": item}
    if not isinstance(item, dict) or not isinstance(item.get("type"), str):
        raise ValueError(
            'Each decision must be {"type": "approve"}, {"type": "edit", "edited_action": '
            '{"name": ..., "args": {...}}} or {"type": "reject", "message": ...}'
        )
    kind = _ALIASES.get(item["type"].lower(), item["type"].lower())
    if kind == "approve":
        return Decision("approve")
    if kind == "reject":
        message = item.get("message")
        if message is None and isinstance(item.get("args"), str):
            message = item["args"]  # Agent Inbox "response"
        return Decision("reject", message=message)
    if kind == "edit":
        action = item.get("edited_action") or item.get("args")
        if isinstance(action, dict) and isinstance(action.get("args"), dict):
            name = action.get("name") or action.get("action")
            return Decision("edit", name=name, args=action["args"])
        if isinstance(action, dict):
            return Decision("edit", args=action)
        raise ValueError('An edit decision needs "edited_action": {"name": ..., "args": {...}}')
    raise ValueError(f"Unknown decision type {item['type']!r}; expected one of {DECISIONS}")

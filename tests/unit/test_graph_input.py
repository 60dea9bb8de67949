"""The run body's `input` / `command` / breakpoints as LangGraph receives them."""

from __future__ import annotations

import pytest
from langgraph.types import Command, Send

from robyn_server.engine.graph_input import build_input


def test_input_passes_through_without_a_command():
    body_input = {"messages": [{"role": "user", "content": "hi"}]}
    assert build_input(body_input, None) is body_input
    assert build_input(None, None) is None
    assert build_input(body_input, {}) is body_input


def test_command_wins_over_input():
    command = build_input({"ignored": True}, {"resume": "ok"})
    assert command == Command(resume="ok")


def test_resume_takes_any_value_or_a_map_of_interrupt_ids():
    assert build_input(None, {"resume": {"answer": 1}}).resume == {"answer": 1}
    by_id = {"75e351b724054004b1b9de8815d7a6e9": "yes"}
    assert build_input(None, {"resume": by_id}).resume == by_id
    assert build_input(None, {"resume": False}).resume is False


def test_update_as_dict_or_as_pairs():
    assert build_input(None, {"update": {"count": 1}}).update == {"count": 1}
    command = build_input(None, {"update": [["count", 1], ["messages", []]]})
    assert command.update == [("count", 1), ("messages", [])]
    assert command._update_as_tuples() == [("count", 1), ("messages", [])]


def test_update_pairs_must_be_key_value():
    with pytest.raises(ValueError, match="pairs"):
        build_input(None, {"update": [["count"]]})
    with pytest.raises(ValueError, match="pairs"):
        build_input(None, {"update": [[1, 2]]})


def test_goto_node_send_or_a_mix():
    assert build_input(None, {"goto": "chat"}).goto == "chat"
    assert build_input(None, {"goto": {"node": "chat", "input": {"x": 1}}}).goto == Send(
        "chat", {"x": 1}
    )
    assert build_input(None, {"goto": ["a", {"node": "b", "input": 2}]}).goto == [
        "a",
        Send("b", 2),
    ]
    assert build_input(None, {"goto": None, "resume": 1}).goto == ()


def test_goto_refuses_what_is_neither_a_node_nor_a_send():
    with pytest.raises(ValueError, match="goto"):
        build_input(None, {"goto": {"input": 1}})
    with pytest.raises(ValueError, match="goto"):
        build_input(None, {"goto": [3]})

"""graph_context: a run's settings fitted to the graph's context schema before LangGraph
builds it (`schema(**context)`), as the reference server does."""

from __future__ import annotations

import dataclasses
from typing import Any, TypedDict

import pytest
from langgraph.graph import START, StateGraph
from pydantic import BaseModel, ConfigDict, Field

from robyn_server.engine.graph_context import graph_context

SETTINGS = {"model": "m1", "user_id": "u", "thread_id": "t"}


class State(TypedDict, total=False):
    x: int


@dataclasses.dataclass
class DataclassSchema:
    model: str = "default"
    derived: str = dataclasses.field(init=False, default="d")


class ForbidSchema(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = "default"
    user: str = Field(default="", alias="user_id")


class AllowSchema(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = "default"


class TypedDictSchema(TypedDict, total=False):
    model: str


def _graph(schema: Any):
    builder = StateGraph(State, context_schema=schema)
    return builder.add_node("n", lambda s: {}).add_edge(START, "n").compile()


@pytest.mark.parametrize(
    ("schema", "settings", "expected"),
    [
        (DataclassSchema, SETTINGS, {"model": "m1"}),
        (DataclassSchema, None, {}),  # built with its defaults, not None
        (ForbidSchema, SETTINGS, {"model": "m1", "user_id": "u"}),  # aliases count
        (AllowSchema, SETTINGS, SETTINGS),
        (TypedDictSchema, SETTINGS, SETTINGS),
        (TypedDictSchema, {}, None),
        (None, SETTINGS, SETTINGS),
        (None, {}, None),
    ],
)
def test_fitted_context(schema, settings, expected):
    fitted = graph_context(_graph(schema), settings)
    assert fitted == expected
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        schema(**fitted)  # what LangGraph does with it: no error for undeclared keys

"""The fixture graphs (tests/fixtures/langgraph.json) as every suite sees them: their
ids, the input they are given, what they answer, and the shapes of their messages."""

from __future__ import annotations

import importlib.util
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from tests.support.paths import FIXTURE_GRAPH_DIR

# The graphs of tests/fixtures/langgraph.json, in its order.
FIXTURE_GRAPHS = [
    "agent",
    "parent",
    "factory",
    "afactory",
    "stategraph",
    "hitl",
    "errgraph",
    "slow",
    "stream_tools",
    "stream_loop",
    "stream_burst",
    "stream_nested",
    "stream_approvals",
    "stream_config",
    "stream_subhitl",
    "echo_config",
    "echo_dataclass",
]
# The ids of the system assistants the server derives from graph ids (uuid5).
AGENT_ASSISTANT_ID = "fe096781-5601-53d2-b2f6-0d3403f7e9ca"
SLOW_ASSISTANT_ID = "cad1b5ad-d177-59d1-ab39-5e327188ed3a"


def human(text: str) -> dict[str, Any]:
    """Graph input: one user message."""
    return {"messages": [{"role": "user", "content": text}]}


def slow(delay: float) -> dict[str, Any]:
    """Config for the `slow` fixture graph: its node sleeps `delay` seconds."""
    return {"configurable": {"delay": delay}}


HI = human("hi")
# What the `agent` fixture graph answers, and the tokens it streams the answer in.
REPLY = "hello there friend"
TOKENS = ["hello", " ", "there", " ", "friend"]

# The pattern the SDK documents for seeding a thread: input, __start__, then a node.
HELLO_STEPS = [
    {"updates": [{"values": {}, "as_node": "__input__"}]},
    {
        "updates": [
            {"values": {"messages": [{"role": "user", "content": "hi"}]}, "as_node": "__start__"}
        ]
    },
    {
        "updates": [
            {
                "values": {"messages": [{"role": "assistant", "content": "hello"}], "count": 1},
                "as_node": "chat",
            }
        ]
    },
]

# The schemas GET /assistants/{id}/schemas answers with.
SCHEMA_KEYS = {"input_schema", "output_schema", "state_schema", "config_schema", "context_schema"}

# Keys (in order) of messages as the reference server sends them.
CHUNK_KEYS = [
    "content",
    "additional_kwargs",
    "response_metadata",
    "type",
    "name",
    "id",
    "tool_calls",
    "invalid_tool_calls",
    "usage_metadata",
    "tool_call_chunks",
    "chunk_position",
]
AI_MESSAGE_KEYS = CHUNK_KEYS[:9]
HUMAN_MESSAGE_KEYS = CHUNK_KEYS[:6]


def fixture_graph(name: str, *, checkpointer: bool = True) -> Any:
    """A graph from tests/fixtures/graphs, loaded in process, with a fresh in-memory
    checkpointer unless `checkpointer=False`."""
    spec = importlib.util.spec_from_file_location(
        f"fixture_graph_{name}", FIXTURE_GRAPH_DIR / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    graph = module.graph
    return graph.copy(update={"checkpointer": InMemorySaver()}) if checkpointer else graph

"""Secrets in run configuration: redacted for output, split off before storing, handed
back only to the executing graph, and, verified against LangGraph itself, never written to
checkpoints, checkpoint metadata, or stream events."""

from __future__ import annotations

import copy
import pickle

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.runtime import Runtime

from robyn_server.engine.secrets import (
    REDACTED,
    SECRETS_KEY,
    inject_secrets,
    is_secret_key,
    keep_redacted,
    redact,
    split_secrets,
)
from robyn_server.serialization import dumps

KEY = "sk-distinctive-4c1d2e"
TOKEN = "mcp-token-9f8e7d"


def _config() -> dict:
    return {
        "configurable": {
            "model_name": "openai:gpt-4o-mini",
            "api_key": KEY,
            "tavily_api_key": "tv-123",
            "mcp_config": [
                {
                    "url": "http://mcp.local/mcp",
                    "headers": {"Authorization": f"Bearer {TOKEN}", "X-Tenant": "acme"},
                    "auth_token": TOKEN,
                    "tools": ["add"],
                }
            ],
            "max_tokens": 100,
        },
        "metadata": {"github_token": "gh-1"},
        "tags": ["a"],
    }


@pytest.mark.parametrize(
    "key",
    ["api_key", "OPENAI_API_KEY", "anthropic-api-key", "token", "access_token", "password",
     "client_secret", "Authorization", "x_auth_token", "aws_secret_access_key"],
)  # fmt: skip
def test_secret_key_names(key):
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key", ["key", "max_tokens", "model_name", "base_url", "tokens", "tools", "namespace"]
)
def test_ordinary_key_names(key):
    assert not is_secret_key(key)


def test_redact_replaces_secrets_at_any_depth_and_keeps_everything_else():
    original = _config()
    out = redact(original)
    assert original == _config()  # a copy; the input is untouched
    configurable = out["configurable"]
    assert configurable["api_key"] == REDACTED
    assert configurable["tavily_api_key"] == REDACTED
    server = configurable["mcp_config"][0]
    assert server["headers"] == {"Authorization": REDACTED, "X-Tenant": REDACTED}
    assert server["auth_token"] == REDACTED
    assert server["tools"] == ["add"] and server["url"] == "http://mcp.local/mcp"
    assert configurable["max_tokens"] == 100 and configurable["model_name"] == "openai:gpt-4o-mini"
    assert out["metadata"] == {"github_token": REDACTED}
    assert KEY not in str(out) and TOKEN not in str(out)


def test_unset_secrets_stay_unset():
    assert redact({"api_key": None, "password": ""}) == {"api_key": None, "password": ""}


def test_split_gives_clean_copies_and_inject_restores_only_for_execution():
    config = _config()
    context = {"api_key": KEY, "system_prompt": "hi"}
    clean_config, clean_context, secrets = split_secrets(config, context)
    assert clean_config == redact(config) and clean_context == redact(context)
    assert secrets is not None
    assert KEY not in dumps(clean_config).decode() + dumps(clean_context).decode()

    run_config, run_context = inject_secrets(clean_config, clean_context, secrets)
    # Context goes back in place: LangGraph keeps the runtime context in memory only.
    assert run_context == context
    # Configurable does not: its top-level strings would land in checkpoint metadata.
    assert run_config["configurable"]["api_key"] == REDACTED
    bundle = run_config["configurable"][SECRETS_KEY]
    assert bundle.apply("configurable", run_config["configurable"])["api_key"] == KEY
    restored = bundle.apply("configurable", run_config["configurable"])
    assert restored["mcp_config"][0]["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert restored["mcp_config"][0]["headers"]["X-Tenant"] == "acme"
    # The stored copies were not modified by injection.
    assert clean_config == redact(config) and clean_context == redact(context)


def test_split_without_secrets_returns_none():
    config, context, secrets = split_secrets({"configurable": {"model_name": "x"}}, None)
    assert secrets is None and context is None
    assert inject_secrets(config, context, secrets) == (config, context)


def test_split_drops_a_client_supplied_secrets_slot():
    config, _, _ = split_secrets({"configurable": {SECRETS_KEY: "spoof", "a": 1}}, {})
    assert config == {"configurable": {"a": 1}}


def test_the_bundle_shows_and_keeps_nothing():
    _, _, secrets = split_secrets(_config(), {"api_key": KEY})
    for text in (repr(secrets), str(secrets), dumps({"s": secrets}).decode()):
        assert KEY not in text and TOKEN not in text
    assert dumps({"s": secrets}) == b'{"s":"***"}'
    assert not pickle.loads(pickle.dumps(secrets))  # a pickle carries no values
    assert KEY.encode() not in pickle.dumps(secrets)
    assert copy.deepcopy(secrets) is secrets


def test_keep_redacted_keeps_stored_secrets_when_a_client_sends_placeholders_back():
    stored = _config()
    sent = redact(stored)
    sent["configurable"]["model_name"] = "anthropic:claude-sonnet-4-5"
    merged = keep_redacted(sent, stored)
    assert merged["configurable"]["api_key"] == KEY
    assert merged["configurable"]["mcp_config"][0]["auth_token"] == TOKEN
    assert merged["configurable"]["model_name"] == "anthropic:claude-sonnet-4-5"
    # A new value replaces the old one; a placeholder with nothing behind it stays.
    sent["configurable"]["api_key"] = "sk-new"
    assert keep_redacted(sent, stored)["configurable"]["api_key"] == "sk-new"
    assert keep_redacted({"api_key": REDACTED}, {}) == {"api_key": REDACTED}


# -- what LangGraph itself persists ------------------------------------------------------


def _graph(seen: list):
    async def node(state: MessagesState, config, runtime: Runtime) -> dict:
        configurable = config["configurable"]
        bundle = configurable.get(SECRETS_KEY)
        seen.append(
            {
                "context": runtime.context,
                "configurable": bundle.apply("configurable", configurable) if bundle else None,
            }
        )
        model = GenericFakeChatModel(messages=iter([AIMessage(content="ok")]))
        return {"messages": [await model.ainvoke(state["messages"], config)]}

    return (
        StateGraph(MessagesState)
        .add_node("node", node)
        .add_edge(START, "node")
        .compile(checkpointer=InMemorySaver())
    )


def _everything_persisted(graph) -> str:
    saver: InMemorySaver = graph.checkpointer
    return repr(saver.storage) + repr(saver.writes) + repr(saver.blobs)


async def test_langgraph_copies_configurable_strings_into_checkpoint_metadata():
    """Why configurable secrets cannot simply be passed back in place."""
    graph = _graph([])
    config = {"configurable": {"thread_id": "leak", "api_key": KEY, "nested": {"x_api": KEY}}}
    await graph.ainvoke({"messages": [("user", "hi")]}, config)
    state = await graph.aget_state({"configurable": {"thread_id": "leak"}})
    assert state.metadata["api_key"] == KEY  # top-level strings are copied...
    assert "nested" not in state.metadata  # ...nested values are not


async def test_injected_secrets_reach_the_graph_but_nothing_persisted_or_streamed():
    seen: list = []
    graph = _graph(seen)
    config = _config()
    config["configurable"]["thread_id"] = "clean"
    clean_config, clean_context, secrets = split_secrets(config, {"api_key": KEY})
    run_config, run_context = inject_secrets(clean_config, clean_context, secrets)

    events = [
        event
        async for event in graph.astream(
            {"messages": [("user", "hi")]},
            run_config,
            context=run_context,
            stream_mode=["values", "updates", "messages", "debug", "checkpoints", "tasks"],
        )
    ]

    assert seen[0]["context"] == {"api_key": KEY}
    assert seen[0]["configurable"]["api_key"] == KEY
    assert seen[0]["configurable"]["mcp_config"][0]["auth_token"] == TOKEN
    streamed = dumps(events).decode()
    assert "node" in streamed and KEY not in streamed and TOKEN not in streamed
    persisted = _everything_persisted(graph)
    assert "clean" in persisted
    assert KEY not in persisted and TOKEN not in persisted
    history = [s async for s in graph.aget_state_history({"configurable": {"thread_id": "clean"}})]
    assert history and KEY not in dumps([s.metadata for s in history]).decode()

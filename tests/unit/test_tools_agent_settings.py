"""tools_agent settings: one typed model read from context and configurable, with the
form hints Open Agent Platform renders, and the server's secrets hand-over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from langgraph.store.base import Item
from pydantic import ValidationError

from robyn_server.engine.secrets import inject_secrets, split_secrets
from tools_agent.context import DEFAULT_MODEL, AgentContext, McpServer
from tools_agent.graph import graph
from tools_agent.memory import _rank, memory_namespace, user_id_of

FIELDS = {
    "model_name",
    "temperature",
    "max_tokens",
    "system_prompt",
    "base_url",
    "api_key",
    "model",
    "mcp_config",
    "memory",
    "memory_namespace",
    "interrupt_before_tools",
}


def test_the_published_schema_describes_every_setting_for_a_form():
    schema = graph.get_context_jsonschema()
    assert set(schema["properties"]) == FIELDS
    for name, prop in schema["properties"].items():
        ui = prop["x_oap_ui_config"]
        assert ui["type"] and ui["description"], name
    assert schema["properties"]["model_name"]["x_oap_ui_config"]["type"] == "select"
    options = schema["properties"]["model_name"]["x_oap_ui_config"]["options"]
    assert {"label": DEFAULT_MODEL, "value": DEFAULT_MODEL} in options
    assert schema["properties"]["mcp_config"]["x_oap_ui_config"]["type"] == "mcp"
    assert schema["properties"]["memory"]["x_oap_ui_config"]["type"] == "switch"


def test_defaults():
    settings = AgentContext.resolve(None, None)
    assert settings.model_name == DEFAULT_MODEL
    assert settings.memory is True and settings.memory_namespace == "memories/{user_id}"
    assert settings.mcp_config == [] and settings.interrupt_before_tools == []
    assert settings.api_key is None and settings.temperature is None


def test_context_wins_over_configurable_and_unknown_keys_are_ignored():
    configurable = {"model_name": "openai:gpt-4.1", "temperature": 0.1, "thread_id": "t"}
    settings = AgentContext.resolve({"temperature": 0.9, "other": 1}, configurable)
    assert settings.model_name == "openai:gpt-4.1"
    assert settings.temperature == 0.9
    explicit = AgentContext(max_tokens=5)  # what LangGraph makes of a context dict
    assert AgentContext.resolve(explicit, {"max_tokens": 9}).max_tokens == 5


def test_invalid_values_are_refused():
    with pytest.raises(ValidationError):
        AgentContext(temperature=5)
    with pytest.raises(ValidationError, match="may only use"):
        AgentContext(memory_namespace="memories/{thread_id}")
    with pytest.raises(ValidationError, match="cannot contain"):
        AgentContext(memory_namespace="my.memories/{user_id}")


def test_memory_as_an_object():
    settings = AgentContext(memory={"enabled": False, "namespace": "notes/{assistant_id}"})
    assert settings.memory is False and settings.memory_namespace == "notes/{assistant_id}"


def test_open_agent_platform_single_mcp_object():
    settings = AgentContext(mcp_config={"url": "https://tools.example", "tools": ["a"]})
    assert [s.url for s in settings.mcp_config] == ["https://tools.example"]
    assert settings.mcp_config[0].tools == ["a"]
    assert AgentContext(mcp_config={"url": "", "tools": []}).mcp_config == []
    # OAP stores the server's base URL; the agent talks to its /mcp endpoint.
    assert settings.mcp_config[0].connection()["url"] == "https://tools.example/mcp"


TWO_SERVERS = [{"url": "http://a/mcp", "name": "a"}, {"url": "http://b/sse", "tools": ["x"]}]


@pytest.mark.parametrize(
    "mcp_config",
    [TWO_SERVERS, {"servers": TWO_SERVERS}],
    ids=["list", "servers"],
)
def test_every_multi_server_shape_gives_the_same_servers(mcp_config):
    servers = AgentContext(mcp_config=mcp_config).mcp_config
    assert [(s.label, s.tools) for s in servers] == [("a", None), ("http://b/sse", ["x"])]
    assert [s.connection()["transport"] for s in servers] == ["streamable_http", "sse"]


@pytest.mark.parametrize(
    "nothing",
    [None, [], {}, {"servers": []}, {"servers": None}, {"url": None, "tools": []}, {"tools": []}],
)
def test_shapes_that_configure_no_server(nothing):
    assert AgentContext(mcp_config=nothing).mcp_config == []


@pytest.mark.parametrize(
    ("unreadable", "says"),
    [
        ({"mcpServers": {"a": {"url": "http://a/mcp"}}}, "got an object without a url"),
        ({"name": "calc", "headers": {"X-Key": "k-123"}}, "got an object without a url"),
        ({"servers": {"a": {"url": "http://a/mcp"}}}, "mcp_config.servers must be a list"),
        ({"servers": TWO_SERVERS, "url": "http://c/mcp"}, "cannot be combined with"),
        ("http://a/mcp", "got str"),
        (["http://a/mcp"], "valid dictionary"),
        ([{"name": "no url"}], "url"),
    ],
)
def test_an_unreadable_mcp_config_is_refused_naming_the_field(unreadable, says):
    with pytest.raises(ValidationError, match=says) as caught:
        AgentContext(mcp_config=unreadable)
    assert caught.value.errors()[0]["loc"][0] == "mcp_config"
    assert "mcp_config" in str(caught.value)
    # Settings hold secrets: the error never echoes what was sent.
    assert "k-123" not in str(caught.value)
    # The same through `resolve`, which reads configurable for older clients.
    with pytest.raises(ValidationError, match="mcp_config"):
        AgentContext.resolve(None, {"mcp_config": unreadable})


def test_mcp_connection():
    sse = McpServer(url="http://h:1/sse", auth_token="tok", headers={"X-A": "1"})
    assert sse.connection() == {
        "transport": "sse",
        "url": "http://h:1/sse",
        "headers": {"X-A": "1", "Authorization": "Bearer tok"},
        "timeout": 30.0,
    }
    http = McpServer(url="http://h:1/mcp", transport="streamable-http", timeout=5)
    assert http.connection()["transport"] == "streamable_http"
    assert http.connection()["timeout"] == 5


def test_secrets_handed_over_by_the_server_are_used():
    context = {"model_name": "openai:x", "api_key": "sk-ctx"}
    configurable = {
        "mcp_config": [{"url": "http://h/mcp", "headers": {"Authorization": "Bearer t"}}],
        "api_key": "sk-conf",
    }
    config, clean_context, secrets = split_secrets({"configurable": configurable}, context)
    run_config, run_context = inject_secrets(config, clean_context, secrets)
    settings = AgentContext.resolve(AgentContext(**run_context), run_config["configurable"])
    assert settings.api_key == "sk-ctx"
    headers = settings.mcp_config[0].connection()["headers"]
    assert headers == {"Authorization": "Bearer t"}
    settings = AgentContext.resolve(None, run_config["configurable"])
    assert settings.api_key == "sk-conf"


def test_a_redacted_placeholder_is_not_a_value():
    configurable = {
        "api_key": "***",
        "mcp_config": [{"url": "http://h/mcp", "headers": {"Authorization": "***"}}],
    }
    settings = AgentContext.resolve(None, configurable)
    assert settings.api_key is None
    assert settings.mcp_config[0].connection()["headers"] == {}


@pytest.mark.parametrize(
    ("configurable", "expected"),
    [
        ({}, "anonymous"),
        ({"user_id": ""}, "anonymous"),
        ({"user_id": "u1"}, "u1"),
        ({"langgraph_auth_user_id": "auth-1", "user_id": "u1"}, "auth-1"),
        ({"langgraph_auth_user": {"identity": "id-2"}}, "id-2"),
    ],
)
def test_user_of_a_run(configurable, expected):
    assert user_id_of(configurable) == expected


def test_memory_namespace_is_per_user_and_valid_for_the_store():
    assert memory_namespace("memories/{user_id}", {}) == ("memories", "anonymous")
    email = {"user_id": "ann.lee@example.com"}
    assert memory_namespace("memories/{user_id}", email) == (
        "memories",
        "ann%2Elee@example%2Ecom",
    )
    assert memory_namespace("m/{assistant_id}/{user_id}", {"assistant_id": "a1"}) == (
        "m",
        "a1",
        "anonymous",
    )


def test_an_authenticated_users_memories_are_theirs_whatever_the_template():
    alice = {"langgraph_auth_user_id": "alice", "user_id": "bob"}
    assert memory_namespace("memories/{user_id}", alice) == ("alice", "memories")
    # A template naming another user's namespace stays under the caller's own label.
    assert memory_namespace("memories/bob", alice) == ("alice", "memories", "bob")
    assert memory_namespace("m/{assistant_id}", {**alice, "assistant_id": "a1"}) == (
        "alice",
        "m",
        "a1",
    )
    by_user_object = {"langgraph_auth_user": {"identity": "ann.lee"}, "langgraph_auth_user_id": ""}
    assert memory_namespace("memories/{user_id}", by_user_object) == ("ann%2Elee", "memories")


def _memory(key: str, content: str, age: int) -> Item:
    when = datetime(2026, 1, 1, tzinfo=UTC) - timedelta(minutes=age)
    return Item(
        value={"content": content}, key=key, namespace=("m",), created_at=when, updated_at=when
    )


def test_recall_without_an_index_ranks_by_shared_words_then_recency():
    items = [
        _memory("old-tea", "Likes green tea", 30),
        _memory("new-tea", "Prefers tea without sugar", 1),
        _memory("pet", "Has a cat named Tea Party", 10),
        _memory("job", "Works as a nurse", 5),
    ]
    ranked, note = _rank(items, "green tea?", 5)
    assert note == ""
    assert [i.key for i in ranked] == ["old-tea", "new-tea", "pet"]  # 2 words, then 1 by age
    recent, note = _rank(items, "astronomy", 2)
    assert [i.key for i in recent] == ["new-tea", "job"]
    assert note.startswith("Nothing matched")
    assert [i.key for i in _rank(items, "", 1)[0]] == ["new-tea"]

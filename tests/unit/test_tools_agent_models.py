"""tools_agent models: any provider by name, any OpenAI-compatible URL, and a clear
message (never a stack trace) for settings that cannot work."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest
from langchain_openai import ChatOpenAI

import tools_agent.models as models
from tools_agent.context import AgentContext
from tools_agent.models import AgentConfigurationError, build_model

ALL_KEY_VARIABLES = sorted({v for vs in models.PROVIDER_KEY_VARIABLES.values() for v in vs})


@pytest.fixture(autouse=True)
def no_provider_keys(monkeypatch):
    for name in ALL_KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def recorded_init(monkeypatch) -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []

    def init_chat_model(model: str, **kwargs: Any) -> Any:
        calls.append((model, kwargs))
        return object()

    monkeypatch.setattr(models, "init_chat_model", init_chat_model)
    return calls


def test_missing_key_names_the_variable_to_set():
    with pytest.raises(AgentConfigurationError) as caught:
        build_model(AgentContext(model_name="openai:gpt-4o-mini"))
    assert str(caught.value) == (
        "No API key for provider 'openai': set OPENAI_API_KEY or configure base_url"
    )
    with pytest.raises(AgentConfigurationError, match=r"set GOOGLE_API_KEY \(or GEMINI_API_KEY\)"):
        build_model(AgentContext(model_name="google_genai:gemini-2.5-flash"))


def test_the_error_is_a_value_error_so_servers_show_its_message():
    assert issubclass(AgentConfigurationError, ValueError)


@pytest.mark.skipif(
    importlib.util.find_spec("langchain_anthropic") is not None,
    reason="langchain-anthropic is installed here",
)
def test_a_provider_package_that_is_not_installed(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant")
    with pytest.raises(AgentConfigurationError) as caught:
        build_model(AgentContext(model_name="anthropic:claude-sonnet-4-5"))
    message = str(caught.value)
    assert message.startswith("Provider 'anthropic' is not installed on this server")
    assert "langchain-anthropic" in message


def test_an_unknown_provider():
    with pytest.raises(AgentConfigurationError, match="Cannot tell the provider of model 'zz-1'"):
        build_model(AgentContext(model_name="zz-1"))


def test_provider_key_from_the_environment(monkeypatch, recorded_init):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    build_model(AgentContext(model_name="openai:gpt-4.1", temperature=0.2, max_tokens=50))
    assert recorded_init == [
        ("gpt-4.1", {"model_provider": "openai", "temperature": 0.2, "max_tokens": 50})
    ]


def test_configured_key_and_provider_proxy(recorded_init):
    build_model(AgentContext(model_name="anthropic:claude-x", api_key="sk-1"))
    build_model(AgentContext(model_name="anthropic:claude-y", base_url="https://proxy/"))
    assert recorded_init == [
        ("claude-x", {"model_provider": "anthropic", "api_key": "sk-1"}),
        ("claude-y", {"model_provider": "anthropic", "base_url": "https://proxy/"}),
    ]


def test_openai_compatible_endpoint_needs_no_key_and_never_gets_the_openai_one(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leave")
    model = build_model(
        AgentContext(model_name="openai:gpt-4o-mini", base_url="http://127.0.0.1:9/v1")
    )
    assert isinstance(model, ChatOpenAI)
    assert model.model_name == "gpt-4o-mini"
    assert model.openai_api_base == "http://127.0.0.1:9/v1"
    assert model.openai_api_key.get_secret_value() == models.NO_KEY


def test_openai_compatible_model_id_and_key():
    settings = AgentContext(
        model_name="anthropic:claude-x",
        base_url="http://localhost:11434/v1",
        model="llama3.1:8b",
        api_key="sk-local",
        temperature=0.3,
    )
    model = build_model(settings)
    assert isinstance(model, ChatOpenAI)
    assert model.model_name == "llama3.1:8b"
    assert model.openai_api_key.get_secret_value() == "sk-local"
    assert model.temperature == 0.3


def test_models_are_reused_per_settings(recorded_init, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-a")
    first = build_model(AgentContext(model_name="openai:m-cache"))
    assert build_model(AgentContext(model_name="openai:m-cache")) is first
    assert len(recorded_init) == 1
    build_model(AgentContext(model_name="openai:m-cache", temperature=1))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-b")  # a changed key takes effect
    build_model(AgentContext(model_name="openai:m-cache"))
    assert len(recorded_init) == 3

"""tools_agent: the model is chosen per run from context/configurable, with no API key."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, SystemMessage
from pydantic import ValidationError

import tools_agent.graph as agent_graph
from tools_agent.context import DEFAULT_MODEL, AgentContext


class RecordingModel(GenericFakeChatModel):
    seen: list = []

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        self.seen.append(list(messages))
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


@pytest.fixture
def fake_init(monkeypatch):
    calls: list[tuple[str, dict[str, Any]]] = []
    models: list[RecordingModel] = []

    def init_chat_model(model: str, **kwargs: Any) -> RecordingModel:
        calls.append((model, kwargs))
        fake = RecordingModel(messages=iter([AIMessage(content="fake reply")]), seen=[])
        models.append(fake)
        return fake

    monkeypatch.setattr(agent_graph, "init_chat_model", init_chat_model)
    return calls, models


def test_graph_shape():
    graph = agent_graph.graph
    assert graph.name == "agent"
    assert graph.checkpointer is None
    assert graph.context_schema is AgentContext
    assert set(graph.nodes) == {"__start__", "call_model"}


async def test_defaults_when_no_context(fake_init):
    calls, models = fake_init
    out = await agent_graph.graph.ainvoke({"messages": [("user", "hi")]})
    assert out["messages"][-1].content == "fake reply"
    assert calls == [(DEFAULT_MODEL, {})]
    sent = models[0].seen[0]
    assert isinstance(sent[0], SystemMessage)
    assert sent[0].content == "You are a helpful assistant."
    assert sent[1].content == "hi"


async def test_context_drives_the_model(fake_init):
    calls, models = fake_init
    context = {
        "model_name": "anthropic:claude-sonnet-4-5",
        "temperature": 0.2,
        "max_tokens": 100,
        "system_prompt": "Be brief.",
        "base_url": "http://localhost:1234/v1",
        "api_key": "sk-test",
    }
    await agent_graph.graph.ainvoke({"messages": [("user", "hi")]}, context=context)
    assert calls == [
        (
            "anthropic:claude-sonnet-4-5",
            {
                "temperature": 0.2,
                "max_tokens": 100,
                "base_url": "http://localhost:1234/v1",
                "api_key": "sk-test",
            },
        )
    ]
    assert models[0].seen[0][0].content == "Be brief."


async def test_configurable_is_a_fallback_and_context_wins(fake_init):
    calls, models = fake_init
    config = {"configurable": {"model_name": "openai:gpt-4.1", "system_prompt": "", "x": 1}}
    await agent_graph.graph.ainvoke(
        {"messages": [("user", "hi")]}, config, context={"temperature": 0.5}
    )
    assert calls == [("openai:gpt-4.1", {"temperature": 0.5})]
    assert not isinstance(models[0].seen[0][0], SystemMessage)  # empty prompt: none sent


def test_resolve_and_validation():
    explicit = AgentContext(temperature=1.0)
    resolved = AgentContext.resolve(explicit, {"temperature": 0.1, "model_name": "x:y"})
    assert resolved.temperature == 1.0 and resolved.model_name == "x:y"
    with pytest.raises(ValidationError):
        AgentContext(temperature=5)

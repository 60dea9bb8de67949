"""GraphRegistry: graph kinds, checkpointer/store injection, schemas, drawing, store index."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore
from langgraph.types import Command

from robyn_server.graphs.loading import GraphLoadError, load_langgraph_config
from robyn_server.graphs.registry import GraphRegistry, load_registry, system_assistant_id
from tests.support.graphs import AGENT_ASSISTANT_ID, FIXTURE_GRAPHS, HI, SCHEMA_KEYS
from tests.support.paths import BAD_CONFIGS, FIXTURES


@pytest.fixture(autouse=True)
def _restore_sys_path(monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))


@pytest.fixture(scope="module")
def registry() -> GraphRegistry:
    return GraphRegistry.load(load_langgraph_config(FIXTURES / "langgraph.json"))


def _registry_for(tmp_path: Path, graphs: dict, **extra) -> GraphRegistry:
    path = tmp_path / "langgraph.json"
    path.write_text(json.dumps({"graphs": graphs, **extra}))
    return GraphRegistry.load(load_langgraph_config(path))


def _factories(tmp_path: Path) -> GraphRegistry:
    file = FIXTURES / "graphs" / "factories.py"
    names = ["make_graph_no_args", "graph_cm", "graph_acm", "bad_factory"]
    return _registry_for(tmp_path, {name: f"{file}:{name}" for name in names})


def _thread(thread_id: str, **configurable) -> dict:
    return {"configurable": {"thread_id": thread_id, **configurable}}


# -- lookup ----------------------------------------------------------------------------------


def test_ids_in_config_order(registry):
    assert registry.ids() == FIXTURE_GRAPHS


def test_descriptions(registry):
    assert registry.description("factory") == "A sync factory taking config"
    assert registry.description("agent") is None


def test_names_replace_default_langgraph(registry):
    assert registry.name("agent") == "agent"  # compiled with the default "LangGraph"
    assert registry.name("stategraph") == "stategraph"  # compiled by the registry
    assert registry.name("parent") == "parent"
    assert registry.name("factory") == "factory"
    assert registry.is_factory("afactory") and not registry.is_factory("agent")


def test_shared_graph_objects_are_not_mutated(registry):
    agent_module = sys.modules["graphs.agent"]
    assert agent_module.graph.name == "LangGraph"
    assert agent_module.graph.checkpointer is None


def test_system_assistant_id():
    assert system_assistant_id("agent") == AGENT_ASSISTANT_ID
    assert GraphRegistry.system_assistant_id("agent") == AGENT_ASSISTANT_ID


async def test_unknown_graph_raises_key_error(registry):
    with pytest.raises(KeyError):
        registry.description("missing")
    with pytest.raises(KeyError):
        registry.name("missing")
    with pytest.raises(KeyError):
        async with registry.graph("missing"):
            pass
    with pytest.raises(KeyError):
        await registry.schemas("missing")
    with pytest.raises(KeyError):
        await registry.draw("missing")
    with pytest.raises(KeyError):
        await registry.subgraphs("missing")


# -- running graphs with the server's checkpointer and store ----------------------------------


async def test_agent_runs_with_injected_checkpointer_and_store(registry):
    saver, store = InMemorySaver(), InMemoryStore()
    async with registry.graph("agent", checkpointer=saver, store=store) as graph:
        assert graph.checkpointer is saver and graph.store is store
        assert graph.name == "agent"
        await graph.ainvoke(HI, _thread("t1"))
    # A fresh copy over the same saver sees the state the first run wrote.
    async with registry.graph("agent", checkpointer=saver, store=store) as graph:
        state = await graph.aget_state(_thread("t1"))
    assert state.values["count"] == 1
    assert state.values["messages"][-1].content == "hello there friend"
    assert sys.modules["graphs.agent"].graph.checkpointer is None


async def test_agent_streams_message_tokens(registry):
    async with registry.graph("agent") as graph:
        tokens = [
            chunk.content
            async for chunk, _meta in graph.astream(
                {"messages": [("user", "hi")]}, stream_mode="messages"
            )
        ]
    assert "".join(tokens) == "hello there friend"
    assert len(tokens) > 1


async def test_uncompiled_state_graph(registry):
    saver = InMemorySaver()
    async with registry.graph("stategraph", checkpointer=saver) as graph:
        await graph.ainvoke({"messages": [("user", "ping")]}, _thread("s1"))
        state = await graph.aget_state(_thread("s1"))
    assert state.values["messages"][-1].content == "echo: ping"


async def test_sync_factory_gets_config_and_injection(registry):
    saver, store = InMemorySaver(), InMemoryStore()
    config = _thread("f1", greeting="hey")
    async with registry.graph("factory", config, checkpointer=saver, store=store) as graph:
        assert graph.checkpointer is saver and graph.store is store
        assert graph.name == "factory"
        out = await graph.ainvoke({"messages": [("user", "x")]}, config)
        state = await graph.aget_state(config)
    assert out["messages"][-1].content == "hey from factory"
    assert state.values["messages"][-1].content == "hey from factory"


async def test_async_factory_returning_state_graph(registry):
    saver = InMemorySaver()
    async with registry.graph("afactory", {"configurable": {"greeting": "yo"}}) as graph:
        assert graph.checkpointer is None
    async with registry.graph("afactory", None, checkpointer=saver) as graph:
        assert graph.checkpointer is saver and graph.name == "afactory"
        out = await graph.ainvoke({"messages": [("user", "x")]}, _thread("af1"))
    assert out["messages"][-1].content == "hi from afactory"


async def test_factory_without_arguments(tmp_path):
    registry = _factories(tmp_path)
    assert registry.name("make_graph_no_args") == "make_graph_no_args"
    async with registry.graph("make_graph_no_args", {"configurable": {"x": 1}}) as graph:
        out = await graph.ainvoke({"messages": [("user", "x")]})
    assert out["messages"][-1].content == "hi from noargs"
    assert graph.name == "noargs_graph"


@pytest.mark.parametrize("graph_id,prefix", [("graph_cm", "cm"), ("graph_acm", "acm")])
async def test_context_manager_factories_are_exited(tmp_path, graph_id, prefix):
    registry = _factories(tmp_path)
    events = sys.modules[_factory_module_name()].EVENTS
    events.clear()
    saver = InMemorySaver()
    config = _thread("cm1", greeting="hello")
    async with registry.graph(graph_id, config, checkpointer=saver) as graph:
        assert events == [f"{prefix}:enter"]
        assert graph.checkpointer is saver
        out = await graph.ainvoke({"messages": [("user", "x")]}, config)
    assert events == [f"{prefix}:enter", f"{prefix}:exit"]
    assert out["messages"][-1].content == f"hello from {prefix}"


def _factory_module_name() -> str:
    target = (FIXTURES / "graphs" / "factories.py").resolve()
    return next(
        name
        for name, module in list(sys.modules.items())
        if getattr(module, "__file__", None)
        and Path(module.__file__).resolve() == target
        and hasattr(module, "graph_acm")
        and name.startswith("_langgraph_graph_")
    )


async def test_factory_returning_garbage(tmp_path):
    registry = _factories(tmp_path)
    with pytest.raises(GraphLoadError, match="returned a int, expected a StateGraph"):
        async with registry.graph("bad_factory"):
            pass


async def test_hitl_interrupts_and_resumes(registry):
    saver = InMemorySaver()
    async with registry.graph("hitl", checkpointer=saver) as graph:
        await graph.ainvoke({"messages": [("user", "go")]}, _thread("h1"))
        state = await graph.aget_state(_thread("h1"))
        assert state.next == ("ask",)
        assert state.interrupts[0].value == {"question": "approve?"}
        out = await graph.ainvoke(Command(resume="yes"), _thread("h1"))
    assert out["messages"][-1].content == "you said: yes"


async def test_errgraph_and_slow(registry):
    async with registry.graph("errgraph") as graph:
        with pytest.raises(ValueError, match="kaboom"):
            await graph.ainvoke({"messages": [("user", "x")]})
    async with registry.graph("slow") as graph:
        out = await graph.ainvoke({"messages": [("user", "x")]}, {"configurable": {"delay": 0.01}})
    assert out["messages"][-1].content == "slept 0.01s"


# -- schemas ------------------------------------------------------------------------------------


async def test_agent_schemas(registry):
    schemas = await registry.schemas("agent")
    assert set(schemas) == SCHEMA_KEYS
    assert set(schemas["state_schema"]["properties"]) == {"messages", "count"}
    assert "messages" in schemas["input_schema"]["properties"]
    assert "messages" in schemas["output_schema"]["properties"]
    assert schemas["config_schema"]["type"] == "object"
    assert schemas["context_schema"] is None


async def test_schemas_are_cached_and_copied(registry):
    first = await registry.schemas("agent")
    first["input_schema"] = "tampered"
    second = await registry.schemas("agent")
    assert second["input_schema"] != "tampered"
    assert second["state_schema"] is first["state_schema"]  # same cached object


async def test_factory_schemas(registry):
    schemas = await registry.schemas("factory", {"configurable": {"greeting": "x"}})
    assert set(schemas["state_schema"]["properties"]) == {"messages"}


async def test_failing_factory_schemas_are_all_none(tmp_path):
    registry = _factories(tmp_path)
    assert await registry.schemas("bad_factory") == dict.fromkeys(SCHEMA_KEYS)


async def test_tools_agent_context_schema():
    repo = FIXTURES.parents[1]
    registry = GraphRegistry.load(load_langgraph_config(repo / "langgraph.json"))
    schemas = await registry.schemas("agent")
    props = schemas["context_schema"]["properties"]
    assert props["model_name"]["default"] == "openai:gpt-4o-mini"
    assert {"temperature", "max_tokens", "system_prompt", "base_url", "api_key"} <= set(props)
    assert "model_name" in json.dumps(schemas["config_schema"])


# -- drawing ------------------------------------------------------------------------------------


async def test_draw_agent_exact_shape(registry):
    assert await registry.draw("agent") == {
        "nodes": [
            {"id": "__start__", "type": "runnable", "data": {"name": "__start__"}},
            {"id": "chat", "type": "runnable", "data": {"name": "chat"}},
            {"id": "__end__"},
        ],
        "edges": [
            {"source": "__start__", "target": "chat"},
            {"source": "chat", "target": "__end__"},
        ],
    }


async def test_draw_parent_with_and_without_xray(registry):
    plain = await registry.draw("parent")
    assert [n["id"] for n in plain["nodes"]] == ["__start__", "child", "after", "__end__"]
    for xray in (True, 1):
        drawn = await registry.draw("parent", xray)
        ids = {n["id"] for n in drawn["nodes"]}
        assert "child:inner_node" in ids and "child" not in ids
        assert {"source": "__start__", "target": "child:inner_node"} in drawn["edges"]
        assert all("id" not in n.get("data", {}) for n in drawn["nodes"])
    assert await registry.draw("parent", 0) == plain


async def test_draw_rejects_bad_xray_and_broken_graphs(registry, tmp_path):
    with pytest.raises(ValueError, match="xray"):
        await registry.draw("parent", -1)
    with pytest.raises(ValueError, match="GraphLoadError: Graph factory for 'bad_factory'"):
        await _factories(tmp_path).draw("bad_factory")


# -- subgraphs ---------------------------------------------------------------------------------


async def test_subgraphs_of_parent(registry):
    subgraphs = await registry.subgraphs("parent")
    assert list(subgraphs) == ["child"]
    assert set(subgraphs["child"]) == SCHEMA_KEYS
    assert set(subgraphs["child"]["state_schema"]["properties"]) == {"messages", "steps"}
    assert list(await registry.subgraphs("parent", "child", recurse=True)) == ["child"]
    assert await registry.subgraphs("parent", "nope") == {}
    assert await registry.subgraphs("agent") == {}


# -- store index ------------------------------------------------------------------------------


def test_store_index_absent(registry):
    assert registry.store_index() is None


@pytest.mark.parametrize("embed", ["embed", "fake_embeddings", "FakeEmbeddings"])
async def test_store_index_from_file(tmp_path, embed):
    file = FIXTURES / "fake_embeddings.py"
    registry = _registry_for(
        tmp_path,
        {},
        store={"index": {"embed": f"{file}:{embed}", "dims": 4, "fields": ["text"]}},
    )
    index = registry.store_index()
    assert index["dims"] == 4 and index["fields"] == ["text"]
    assert registry.store_index() is index  # resolved once
    store = InMemoryStore(index=index)
    await store.aput(("docs",), "a", {"text": "apples"})
    await store.aput(("docs",), "b", {"text": "bananas"})
    hits = await store.asearch(("docs",), query="apples")
    assert hits[0].key == "a" and hits[0].score is not None


def test_fixture_store_config():
    config = load_langgraph_config(FIXTURES / "langgraph_store.json")
    index = GraphRegistry.load(config).store_index()
    assert index["dims"] == 4 and callable(index["embed"])


@pytest.mark.parametrize(
    "index,message",
    [
        ({"dims": 4}, "store.index.embed is required"),
        ({"embed": "./fake_embeddings.py:embed"}, "dims must be a positive integer"),
        ({"embed": "./fake_embeddings.py:embed", "dims": "4"}, "dims must be a positive"),
        ({"embed": "./fake_embeddings.py:embed", "dims": 4, "fields": "$"}, "fields must be"),
        ({"embed": "nocolon", "dims": 4}, "must be 'provider:model' or './file.py:function'"),
        ({"embed": "./fake_embeddings.py:missing", "dims": 4}, "Variable 'missing' not found"),
        ({"embed": "./fake_embeddings.py:DIMS", "dims": 4}, "is a int, not an Embeddings"),
        ({"embed": "nosuchprovider:model-x", "dims": 4}, "Cannot initialise embeddings"),
    ],
)
def test_store_index_errors(index, message):
    config = load_langgraph_config(FIXTURES / "langgraph_store.json")
    config.store = {"index": index}
    registry = GraphRegistry.load(config)
    with pytest.raises(GraphLoadError, match=message):
        registry.store_index()


def test_bad_embed_fixture():
    registry = GraphRegistry.load(load_langgraph_config(BAD_CONFIGS / "bad_embed.json"))
    with pytest.raises(GraphLoadError, match="not an Embeddings object or embedding function"):
        registry.store_index()


# -- load_registry ------------------------------------------------------------------------------


def test_load_registry_sources(monkeypatch, tmp_path):
    assert load_registry(FIXTURES / "langgraph.json").ids()[0] == "agent"
    monkeypatch.chdir(FIXTURES)
    environ = {"LANGSERVE_GRAPHS": '{"only": "./graphs/hitl.py:graph"}'}
    assert load_registry(None, environ).ids() == ["only"]
    assert load_registry(None, {}).ids() == FIXTURE_GRAPHS  # ./langgraph.json of the cwd
    monkeypatch.chdir(tmp_path)
    with pytest.raises(GraphLoadError, match="Config file not found"):
        load_registry(None, {})

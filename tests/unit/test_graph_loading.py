"""langgraph.json parsing, graph imports, env handling and every load error message."""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

import pytest
from langgraph.graph import StateGraph
from langgraph.pregel import Pregel

from robyn_server.graphs.loading import (
    GraphLoadError,
    GraphSpec,
    config_from_env,
    import_object,
    load_graph_object,
    load_langgraph_config,
)
from robyn_server.graphs.registry import GraphRegistry
from tests.support.graphs import FIXTURE_GRAPHS, REPLY
from tests.support.paths import BAD_CONFIGS, FIXTURES, REPO_ROOT


@pytest.fixture(autouse=True)
def _restore_sys_path(monkeypatch):
    # Loading appends config dirs to sys.path; keep each test's additions to itself.
    monkeypatch.setattr(sys, "path", list(sys.path))


def _unset_later(monkeypatch, *names: str) -> None:
    """Make sure `names` are absent now and removed again after the test."""
    for name in names:
        monkeypatch.setenv(name, "placeholder")
        monkeypatch.delenv(name)


def _write_config(directory: Path, data: dict, name: str = "langgraph.json") -> Path:
    path = directory / name
    path.write_text(json.dumps(data))
    return path


# -- parsing ----------------------------------------------------------------------------


def test_fixture_config_parses_every_spec_form():
    config = load_langgraph_config(FIXTURES / "langgraph.json")
    assert config.config_dir == FIXTURES
    assert list(config.graphs) == FIXTURE_GRAPHS
    assert config.graphs["agent"] == GraphSpec("agent", "./graphs/agent.py:graph", None)
    assert config.graphs["factory"] == GraphSpec(
        "factory", "./graphs/factories.py:make_graph", "A sync factory taking config"
    )
    assert config.env is None
    assert config.store is None
    assert "graphs" in config.raw


def test_repo_langgraph_json_serves_tools_agent():
    config = load_langgraph_config(REPO_ROOT / "langgraph.json")
    assert list(config.graphs) == ["agent"]
    assert config.env is None  # a fresh checkout has no .env; it must still start
    registry = GraphRegistry.load(config)
    assert registry.ids() == ["agent"]
    assert registry.name("agent") == "agent"
    # Loaded through the package, so it is the very object `import tools_agent.graph` gives.
    import tools_agent.graph

    assert sys.modules["tools_agent.graph"] is tools_agent.graph


def test_config_path_may_be_a_string(tmp_path):
    path = _write_config(tmp_path, {"graphs": {"a": str(FIXTURES / "graphs/agent.py:graph")}})
    config = load_langgraph_config(str(path))
    assert config.config_dir == tmp_path.resolve()


# -- spec forms and graph kinds -------------------------------------------------------------


def test_file_spec_relative_to_config_dir():
    obj = load_graph_object(GraphSpec("agent", "./graphs/agent.py:graph"), FIXTURES)
    assert isinstance(obj, Pregel)
    assert sys.modules["graphs.agent"].graph is obj


def test_file_spec_without_dot_slash(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "mygraph_plain.py").write_text(
        (FIXTURES / "graphs" / "errgraph.py").read_text()
    )
    obj = load_graph_object(GraphSpec("g", "sub/mygraph_plain.py:graph"), tmp_path)
    assert isinstance(obj, Pregel)


def test_module_spec_uses_import_module():
    obj = load_graph_object(GraphSpec("agent", "tools_agent.graph:graph"), REPO_ROOT)
    import tools_agent.graph

    assert obj is tools_agent.graph.graph


def test_absolute_file_spec():
    spec = GraphSpec("hitl", f"{FIXTURES / 'graphs' / 'hitl.py'}:graph")
    assert isinstance(load_graph_object(spec, Path("/nonexistent")), Pregel)


def test_no_variable_picks_first_compiled_graph():
    obj = load_graph_object(GraphSpec("parent", "./graphs/parent.py"), FIXTURES)
    # parent.py defines `child` (compiled) before `graph`; the first one wins.
    assert isinstance(obj, Pregel)
    assert obj.name == "child"


def test_no_variable_falls_back_to_state_graph():
    obj = load_graph_object(GraphSpec("sg", "./graphs/stategraph.py"), FIXTURES)
    assert isinstance(obj, StateGraph)


def test_factories_and_state_graphs_are_accepted():
    factory = load_graph_object(GraphSpec("f", "./graphs/factories.py:make_graph"), FIXTURES)
    assert callable(factory) and not isinstance(factory, Pregel)
    builder = load_graph_object(GraphSpec("s", "./graphs/stategraph.py:builder"), FIXTURES)
    assert isinstance(builder, StateGraph)


def test_sibling_imports_work_from_config_dir(tmp_path):
    helper = f"helper_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{helper}.py").write_text("REPLY = 'from sibling'\n")
    (tmp_path / "sibling_graph.py").write_text(
        f"from {helper} import REPLY\n"
        "from langgraph.graph import StateGraph, MessagesState, START\n"
        "def node(state):\n"
        "    return {'messages': [('ai', REPLY)]}\n"
        "graph = StateGraph(MessagesState).add_node('node', node)"
        ".add_edge(START, 'node').compile()\n"
    )
    obj = load_graph_object(GraphSpec("g", "./sibling_graph.py:graph"), tmp_path)
    out = obj.invoke({"messages": [("user", "hi")]})
    assert out["messages"][-1].content == "from sibling"


def test_relative_imports_inside_a_package(tmp_path):
    pkg = f"pkg_{uuid.uuid4().hex[:8]}"
    (tmp_path / pkg).mkdir()
    (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / pkg / "util.py").write_text("NAME = 'relative ok'\n")
    (tmp_path / pkg / "graph.py").write_text(
        "from .util import NAME\n"
        "from langgraph.graph import StateGraph, MessagesState, START\n"
        "graph = StateGraph(MessagesState).add_node('n', lambda s: {})"
        ".add_edge(START, 'n').compile(name=NAME)\n"
    )
    obj = load_graph_object(GraphSpec("g", f"./{pkg}/graph.py:graph"), tmp_path)
    assert obj.name == "relative ok"
    assert sys.modules[f"{pkg}.graph"].graph is obj


def test_same_file_loaded_twice_is_one_module():
    first = load_graph_object(GraphSpec("a", "./graphs/agent.py:graph"), FIXTURES)
    second = load_graph_object(GraphSpec("b", "./graphs/agent.py:graph"), FIXTURES)
    assert first is second


def test_import_object_without_variable_returns_module():
    module, var, value = import_object("./graphs/agent.py", FIXTURES)
    assert var is None and value is None
    assert module.REPLY == REPLY


# -- errors -----------------------------------------------------------------------------


def test_missing_config_file():
    with pytest.raises(GraphLoadError, match=r"Config file not found: .*nope\.json"):
        load_langgraph_config(FIXTURES / "nope.json")


def test_invalid_json():
    with pytest.raises(GraphLoadError, match=r"Invalid JSON in config file .*invalid_json\.json"):
        load_langgraph_config(BAD_CONFIGS / "invalid_json.json")


def test_config_must_be_an_object(tmp_path):
    path = tmp_path / "langgraph.json"
    path.write_text("[1, 2]")
    with pytest.raises(GraphLoadError, match="must contain a JSON object"):
        load_langgraph_config(path)


def test_missing_graphs_section():
    with pytest.raises(GraphLoadError, match=r"no_graphs\.json has no 'graphs' section"):
        load_langgraph_config(BAD_CONFIGS / "no_graphs.json")


def test_invalid_graph_spec_value():
    with pytest.raises(GraphLoadError, match=r"Graph 'agent' in .*invalid_graph_spec\.json must"):
        load_langgraph_config(BAD_CONFIGS / "invalid_graph_spec.json")


def test_graphs_must_be_an_object(tmp_path):
    path = _write_config(tmp_path, {"graphs": ["./a.py:graph"]})
    with pytest.raises(GraphLoadError, match=r"'graphs' in .* must be an object"):
        load_langgraph_config(path)


def test_bad_env_and_store_types(tmp_path):
    with pytest.raises(GraphLoadError, match=r"'env' in .* must be an object or a path"):
        load_langgraph_config(_write_config(tmp_path, {"graphs": {}, "env": 3}))
    with pytest.raises(GraphLoadError, match=r"'store' in .* must be an object"):
        load_langgraph_config(_write_config(tmp_path, {"graphs": {}, "store": "x"}))


def _registry_error(config_name: str) -> str:
    config = load_langgraph_config(BAD_CONFIGS / config_name)
    with pytest.raises(GraphLoadError) as info:
        GraphRegistry.load(config)
    return str(info.value)


def test_missing_module_file():
    message = _registry_error("missing_file.json")
    assert "Graph module file not found" in message
    assert str(BAD_CONFIGS / "does_not_exist.py") in message


def test_missing_variable_lists_candidates():
    message = _registry_error("missing_variable.json")
    assert message.startswith("Graph 'agent' (../graphs/agent.py:nope): ")
    assert "Variable 'nope' not found in" in message
    assert str(FIXTURES / "graphs" / "agent.py") in message
    assert "found: chat, graph" in message


def test_variable_that_is_not_a_graph():
    message = _registry_error("not_a_graph.json")
    assert "'value' in" in message and "not_a_graph.py is a int" in message
    assert "not a compiled graph, StateGraph or graph factory" in message


def test_broken_module_reports_the_file_and_cause():
    message = _registry_error("broken_module.json")
    assert "broken_module.py" in message
    assert "this module is broken on purpose" in message


def test_missing_python_module():
    assert _registry_error("missing_module.json") == (
        "Graph 'agent' (no_such_package_xyz.module:graph): "
        "Module 'no_such_package_xyz.module' not found"
    )


def test_module_without_any_graph():
    message = _registry_error("no_graph_in_module.json")
    assert "no compiled graph or StateGraph found in" in message
    assert "no_graphs_module.py" in message


def test_missing_env_file_is_an_error():
    with pytest.raises(GraphLoadError, match=r"env file '\.env\.missing' referenced by .* not"):
        load_langgraph_config(BAD_CONFIGS / "missing_env_file.json")


# -- env ----------------------------------------------------------------------------------


def test_env_dict_sets_without_overriding(tmp_path, monkeypatch):
    _unset_later(monkeypatch, "RLS_TEST_NEW", "RLS_TEST_NUM")
    monkeypatch.setenv("RLS_TEST_EXISTING", "operator")
    path = _write_config(
        tmp_path,
        {
            "graphs": {},
            "env": {"RLS_TEST_NEW": "config", "RLS_TEST_EXISTING": "config", "RLS_TEST_NUM": 5},
        },
    )
    config = load_langgraph_config(path)
    assert "RLS_TEST_NEW" not in os.environ  # parsing alone has no side effects
    config.apply_env()
    assert os.environ["RLS_TEST_NEW"] == "config"
    assert os.environ["RLS_TEST_EXISTING"] == "operator"
    assert os.environ["RLS_TEST_NUM"] == "5"


def test_env_file_is_loaded_without_overriding(tmp_path, monkeypatch):
    _unset_later(monkeypatch, "RLS_DOTENV_NEW")
    monkeypatch.setenv("RLS_DOTENV_EXISTING", "operator")
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "my.env").write_text(
        "RLS_DOTENV_NEW=from-file\nRLS_DOTENV_EXISTING=from-file\n"
    )
    path = _write_config(tmp_path / "conf", {"graphs": {}, "env": "my.env"})
    load_langgraph_config(path).apply_env()
    assert os.environ["RLS_DOTENV_NEW"] == "from-file"
    assert os.environ["RLS_DOTENV_EXISTING"] == "operator"


def test_registry_load_applies_env_before_importing(tmp_path, monkeypatch):
    _unset_later(monkeypatch, "RLS_IMPORT_TIME")
    module = f"envgraph_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(
        "import os\n"
        "from langgraph.graph import StateGraph, MessagesState, START\n"
        "graph = StateGraph(MessagesState).add_node('n', lambda s: {})"
        ".add_edge(START, 'n').compile(name=os.environ['RLS_IMPORT_TIME'])\n"
    )
    path = _write_config(
        tmp_path,
        {"graphs": {"g": f"./{module}.py:graph"}, "env": {"RLS_IMPORT_TIME": "from-env"}},
    )
    registry = GraphRegistry.load(load_langgraph_config(path))
    assert registry.name("g") == "from-env"


# -- LANGSERVE_GRAPHS ---------------------------------------------------------------------------


def test_config_from_env_unset_returns_none():
    assert config_from_env({}) is None


def test_config_from_env_resolves_against_cwd(monkeypatch):
    monkeypatch.chdir(FIXTURES)
    environ = {
        "LANGSERVE_GRAPHS": json.dumps(
            {
                "agent": "./graphs/agent.py:graph",
                "factory": {"path": "./graphs/factories.py:make_graph", "description": "d"},
            }
        ),
        "LANGGRAPH_STORE": json.dumps({"index": {"embed": "./x.py:f", "dims": 2}}),
    }
    config = config_from_env(environ)
    assert config is not None
    assert config.config_dir == FIXTURES
    assert config.graphs["factory"].description == "d"
    assert config.store == {"index": {"embed": "./x.py:f", "dims": 2}}
    registry = GraphRegistry.load(config)
    assert registry.ids() == ["agent", "factory"]


def test_config_from_env_reads_os_environ(monkeypatch):
    monkeypatch.chdir(FIXTURES)
    monkeypatch.setenv("LANGSERVE_GRAPHS", '{"hitl": "./graphs/hitl.py:graph"}')
    monkeypatch.delenv("LANGGRAPH_STORE", raising=False)
    config = config_from_env()
    assert config is not None and list(config.graphs) == ["hitl"]


def test_config_from_env_invalid_json():
    with pytest.raises(GraphLoadError, match="LANGSERVE_GRAPHS is not valid JSON"):
        config_from_env({"LANGSERVE_GRAPHS": "{nope"})
    with pytest.raises(GraphLoadError, match="LANGGRAPH_STORE must be a JSON object"):
        config_from_env({"LANGSERVE_GRAPHS": "{}", "LANGGRAPH_STORE": "[1]"})
    with pytest.raises(GraphLoadError, match="'graphs' in LANGSERVE_GRAPHS must be an object"):
        config_from_env({"LANGSERVE_GRAPHS": "[]"})


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ("./auth.py:auth", r"'auth' in .* must be an object"),
        ({"path": "./auth.py"}, r"'auth.path' in .* must be './file.py:variable'"),
        ({"path": "./auth.py:auth", "disable_studio_auth": "yes"}, "must be true or false"),
        ({"path": "./auth.py:auth", "openapi": {"security": {}}}, "'auth.openapi'"),
    ],
)
def test_a_malformed_auth_section_stops_loading(tmp_path, auth, message):
    config = tmp_path / "langgraph.json"
    graph = FIXTURES / "graphs" / "agent.py"
    config.write_text(json.dumps({"graphs": {"agent": f"{graph}:graph"}, "auth": auth}))
    with pytest.raises(GraphLoadError, match=message):
        load_langgraph_config(config)


def test_the_auth_section_is_kept_from_the_file_or_the_clis_variable(tmp_path):
    auth = {
        "path": "./auth.py:auth",
        "disable_studio_auth": True,
        "openapi": {"securitySchemes": {"key": {"type": "apiKey"}}, "security": [{"key": []}]},
    }
    config = tmp_path / "langgraph.json"
    graph = FIXTURES / "graphs" / "agent.py"
    config.write_text(json.dumps({"graphs": {"agent": f"{graph}:graph"}, "auth": auth}))
    assert load_langgraph_config(config).raw["auth"] == auth
    environ = {"LANGSERVE_GRAPHS": json.dumps({"agent": f"{graph}:graph"})}
    from_env = config_from_env({**environ, "LANGGRAPH_AUTH": json.dumps(auth)})
    assert from_env is not None and from_env.raw["auth"] == auth


def test_an_encryption_section_is_loaded_with_a_warning(tmp_path, caplog):
    config = tmp_path / "langgraph.json"
    graph = FIXTURES / "graphs" / "agent.py"
    config.write_text(
        json.dumps({"graphs": {"agent": f"{graph}:graph"}, "encryption": {"path": "./e.py:e"}})
    )
    with caplog.at_level("WARNING", logger="robyn_server"):
        assert "agent" in load_langgraph_config(config).graphs
    assert "LANGGRAPH_AES_KEY" in caplog.text

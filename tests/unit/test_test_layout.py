"""The test suite's own layout rules, checked statically (with `ast`, nothing imported):

- no module imports a test module or a conftest: shared code lives in tests/support,
  where any suite may import it without dragging another suite's tests (and their
  fixtures and hooks) along;
- tests/support imports no suite;
- conftest files hold fixtures and hooks only;
- every module in tests/postgres carries the `postgres` marker, so it skips loudly
  without a server and fails under REQUIRE_POSTGRES=1.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.paths import REPO_ROOT

TESTS = REPO_ROOT / "tests"
SUITES = ("tests.contract", "tests.e2e", "tests.postgres", "tests.unit")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, module: str, *, is_package: bool = False) -> list[tuple[int, str]]:
    """Every module the code `source` of `module` imports, as absolute dotted names with
    line numbers: `import a.b`, `from a import b` (both `a` and `a.b`, since `b` may be a
    module), relative imports resolved against the module's package, and
    `pytest_plugins` entries. Imports inside functions count too."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Assign) and any(
            isinstance(name, ast.Name) and name.id == "pytest_plugins" for name in node.targets
        ):
            found += [
                (node.lineno, item.value)
                for item in ast.walk(node.value)
                if isinstance(item, ast.Constant) and isinstance(item.value, str)
            ]
    return found


def imported_modules(path: Path) -> list[tuple[int, str]]:
    return imports_of(path.read_text(), module_name(path), is_package=path.name == "__init__.py")


def is_test_module_or_conftest(module: str) -> bool:
    return any(part == "conftest" or part.startswith("test_") for part in module.split("."))


def offending(path: Path, bad) -> list[str]:
    """`path`'s imports that `bad` accepts, one per line of code (`from a import b` is
    reported as `a` when `a` itself is bad)."""
    reported: dict[int, str] = {}
    for line, module in sorted(imported_modules(path)):
        if bad(module) and line not in reported:
            reported[line] = module
    return [f"{path.relative_to(REPO_ROOT)}:{line} imports {m}" for line, m in reported.items()]


def python_files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "fixtures" not in p.relative_to(TESTS).parts)


def test_no_module_imports_a_test_module_or_a_conftest() -> None:
    offences = [
        offence
        for path in python_files()
        for offence in offending(
            path, lambda m: m.startswith("tests.") and is_test_module_or_conftest(m)
        )
    ]
    assert offences == [], "move what is shared into tests/support:\n" + "\n".join(offences)


def test_support_imports_no_suite() -> None:
    offences = [
        offence
        for path in sorted((TESTS / "support").rglob("*.py"))
        for offence in offending(
            path, lambda m: any(m == suite or m.startswith(suite + ".") for suite in SUITES)
        )
    ]
    assert offences == [], "\n".join(offences)


def is_fixture_or_hook(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    if node.name.startswith("pytest_"):
        return True
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Attribute) and target.attr in ("fixture", "hookimpl"):
            return True
    return False


def test_conftests_hold_only_fixtures_and_hooks() -> None:
    offences = []
    for path in sorted(TESTS.rglob("conftest.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) or (
                isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                and not is_fixture_or_hook(node)
            ):
                offences.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} {node.name}")
    assert offences == [], "helpers belong in tests/support:\n" + "\n".join(offences)


def marks_postgres(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "pytestmark" for target in node.targets
        ):
            return any(
                isinstance(item, ast.Attribute)
                and item.attr == "postgres"
                and isinstance(item.value, ast.Attribute)
                and item.value.attr == "mark"
                for item in ast.walk(node.value)
            )
    return False


def test_every_postgres_module_has_the_postgres_marker() -> None:
    modules = sorted((TESTS / "postgres").glob("test_*.py"))
    assert modules, "tests/postgres has no test modules"
    unmarked = [
        str(path.relative_to(REPO_ROOT))
        for path in modules
        if not marks_postgres(ast.parse(path.read_text()))
    ]
    assert unmarked == [], f"add `pytestmark = pytest.mark.postgres` to {unmarked}"


def test_the_checks_see_what_they_look_for() -> None:
    """The import rule passes only because the suite obeys it, not because the check
    cannot see an offence: every way of importing a test module or a conftest is found."""
    source = "\n".join(
        [
            "from tests.e2e.test_runs_stream import x",
            "from tests.e2e.conftest import y",
            "from .conftest import z",
            "from . import test_threads",
            "import tests.unit.test_config",
            "def f():",
            "    from tests.contract.conftest import w",
            "pytest_plugins = ['tests.e2e.conftest']",
            "from tests.support.runs import stream",
        ]
    )
    found = imports_of(source, "tests.e2e.test_probe")
    flagged = {(line, module) for line, module in found if is_test_module_or_conftest(module)}
    assert {line for line, _ in flagged} == {1, 2, 3, 4, 5, 7, 8}
    assert {module for _, module in flagged} >= {
        "tests.e2e.test_runs_stream",
        "tests.e2e.conftest",
        "tests.e2e.test_threads",
        "tests.unit.test_config",
        "tests.contract.conftest",
    }

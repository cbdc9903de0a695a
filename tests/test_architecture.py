"""The layers of app/, checked by reading the source (ast), function-level imports included.

- No import cycle between modules: a cycle hidden by a function-level import is still a
  cycle (two modules that cannot be understood, tested or moved apart).
- app/sms/ is the Twilio adapter (gateway, fake, segments, error codes): it imports no
  service and not the worker, which may import both.

Imports under `if TYPE_CHECKING:` do not run and are not counted. Nor is a module's import
of its own package (`from app.office import bp` in app/office/jobs.py): Python loads a
package before any module in it anyway, so that edge adds no dependency, and a blueprint
package importing its route modules at the bottom (the microblog layout) is no cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(APP.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except under `if TYPE_CHECKING:`."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from _imports(ast.Module(body=[child], type_ignores=[]))
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _imports(node)


def _resolve(module: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The app modules an import statement in `module` loads (not their parent packages)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in MODULES}
    base = node.module or ""
    if node.level:
        package = module.split(".")
        if MODULES[module].name != "__init__.py":
            package = package[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    found = set()
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        if submodule in MODULES:
            found.add(submodule)
        elif base in MODULES:
            found.add(base)
    return found


def _is_ancestor(package: str, module: str) -> bool:
    return module == package or module.startswith(package + ".")


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets: set[str] = set()
        for node in _imports(tree):
            targets |= _resolve(module, node)
        graph[module] = {t for t in targets if not _is_ancestor(t, module)}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    # Parsing every module of app/ takes about a second: once for the module's tests.
    return import_graph()


def test_no_import_cycle_in_app(graph):
    assert cycles(graph) == []


@pytest.mark.parametrize("forbidden", ["app.services", "app.worker"])
def test_sms_adapter_imports_no_service_and_not_the_worker(graph, forbidden):
    wrong = sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        if module == "app.sms" or module.startswith("app.sms.")
        for target in targets
        if target == forbidden or target.startswith(forbidden + ".")
    )
    assert wrong == []


def test_services_do_not_import_the_templating_module(graph):
    # Formatting for texts and pages lives in app/formats.py; app/templating.py is Jinja's.
    wrong = sorted(
        f"{module} -> app.templating"
        for module, targets in graph.items()
        if module.startswith(("app.services.", "app.worker.", "app.sms."))
        and "app.templating" in targets
    )
    assert wrong == []


def test_the_walker_sees_function_level_imports_and_cycles():
    tree = ast.parse("def f():\n    from app.services import billing\n")
    (node,) = _imports(tree)
    assert _resolve("app.services.notifications", node) == {"app.services.billing"}
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]

"""The package's layering: no import circles, each layer imports only those below it, no Qt in the core.

Imports are read from the source (every ``import`` statement, including the ones inside functions
that defer a heavy import), so a circle hidden behind a lazy import is found too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "matteapp"

# Bottom up.  A module may import modules of its own layer or of a lower one; the first matching
# prefix decides a module's layer.
LAYERS: list[tuple[str, ...]] = [
    ("matteapp.base",),
    ("matteapp.io.images", "matteapp.io.recent"),
    ("matteapp.model",),
    ("matteapp.engine",),
    ("matteapp.io",),  # export: writes results, uses the engine's colour decontamination
    ("matteapp.document",),
    ("matteapp.batch",),  # folders of photos: the per-photo pipeline, its manifest, the optional Ray pool
    ("matteapp.training",),
    ("matteapp.gui",),
    ("matteapp.cli", "matteapp.__main__", "matteapp"),  # entry points: the commands and the window
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> tuple[set[str], set[str]]:
    """(project modules, third-party top-level packages) that ``path`` imports anywhere in its body."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    project, external = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # "from pkg import mod" imports the module pkg.mod when there is one
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in known else module for a in node.names]
        else:
            continue
        for target in targets:
            if target == "matteapp" or target.startswith("matteapp."):
                while target not in known and "." in target:
                    target = target.rpartition(".")[0]
                if target != name:
                    project.add(target)
            else:
                external.add(target.split(".")[0])
    return project, external


def _graph():
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _layer(name: str) -> int:
    for rank, prefixes in enumerate(LAYERS):
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            return rank
    raise AssertionError(f"{name} is in no layer: add it to LAYERS")


def _find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_package_has_no_import_circle():
    edges = {name: project for name, (project, _) in _graph().items()}
    # The package's own __init__ re-exports the public API; every submodule "imports" it implicitly,
    # which is not an edge a reader follows.
    edges = {k: {m for m in v if m != "matteapp"} for k, v in edges.items()}
    cycle = _find_cycle(edges)
    assert cycle is None, "import circle: " + " → ".join(cycle)


def test_each_layer_imports_only_layers_below_it():
    wrong = []
    for name, (project, _) in _graph().items():
        for target in project:
            if target != "matteapp" and _layer(target) > _layer(name):
                wrong.append(f"{name} (layer {_layer(name)}) imports {target} (layer {_layer(target)})")
    assert not wrong, "\n".join(sorted(wrong))


def test_the_bottom_layer_imports_nothing_of_the_project():
    project, _ = _graph()["matteapp.base"]
    assert project == set()


@pytest.mark.parametrize("qt", ["PySide6", "PyQt5", "PyQt6", "shiboken6", "pytestqt"])
def test_only_the_gui_imports_qt(qt):
    offenders = [name for name, (_, external) in _graph().items() if qt in external and not name.startswith("matteapp.gui")]
    assert offenders == []


def test_the_checker_sees_a_circle_and_a_layer_violation():
    # the helpers above must be able to fail
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None
    assert _layer("matteapp.gui.canvas") > _layer("matteapp.engine.session") > _layer("matteapp.base")

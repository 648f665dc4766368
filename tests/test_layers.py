"""The package's layers import one way: a module may import its own sub-package and the layers below it, never above.

Imports inside functions count too, and none may import the backend lazily: a lazy import is how a cycle hides. An
import under ``if TYPE_CHECKING:`` never runs; it names a type for the reader and the checker, and counts as top level.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "backend"
# lower numbers are lower layers; a layer may import strictly lower ones (and itself)
RANKS = {
    "tv_compat": -1, "core": 0, "__init__": 0,
    "models": 1, "active": 1,
    "storage": 2, "training": 2,
    "labelstudio": 3,
    "settings": 4,
    "service": 5, "evaluation": 5,
    "http": 6,
    "cli": 7,
}
PRODUCT_MUST_NOT_IMPORT = "evaluation"
TOOLS = "cli"  # the command-line tools include the simulator and dataset generator, so they may use the harness


def modules() -> dict[str, Path]:
    return {".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
            for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1].removesuffix(".py") if len(parts) > 1 else "__init__"


def imports(path: Path, known: set[str], runtime_only: bool = False) -> list[tuple[str, int, bool]]:
    """(imported backend module, line, at module level) for every import of ``path`` (``runtime_only``: not those
    under ``if TYPE_CHECKING:``, which cannot make a cycle)."""
    tree = ast.parse(path.read_text())
    typing_only = {id(node) for block in tree.body if _type_checking(block) for node in ast.walk(block)}
    top_level = {id(node) for node in tree.body} | typing_only
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in known else node.module for alias in node.names]
        for name in names:
            if runtime_only and id(node) in typing_only:
                continue
            if name == "backend" or name.startswith("backend."):
                found.append((name, node.lineno, id(node) in top_level))
    return found


def _type_checking(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def test_layers_import_downwards_only():
    known = set(modules())
    wrong = []
    for module, path in modules().items():
        source = layer(module)
        for target, line, _ in imports(path, known):
            destination = layer(target)
            if destination == source:
                continue
            if RANKS[destination] >= RANKS[source]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {source} imports {target} ({destination})")
            if destination == PRODUCT_MUST_NOT_IMPORT and source != TOOLS:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: the product imports the evaluation harness")
    assert not wrong, "\n".join(wrong)


def test_every_layer_has_a_rank():
    assert {layer(m) for m in modules()} <= set(RANKS)


def test_no_lazy_imports_of_the_backend():
    known = set(modules())
    lazy = [f"{path.relative_to(PACKAGE.parent)}:{line}: {target}"
            for module, path in modules().items() for target, line, top in imports(path, known) if not top]
    assert not lazy, "\n".join(lazy)


def test_no_import_cycles():
    known = set(modules())
    graph = {m: {t for t, _, _ in imports(p, known, runtime_only=True) if t in known and t != m} for m, p in modules().items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1 and not node.startswith(nxt + "."):  # a package's __init__ re-exporting its modules
                cycle = stack[stack.index(nxt):] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_the_checker_sees_an_upward_import(tmp_path):
    """The rule is real: a core module importing the service layer is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from backend.service.predictor import Predictor\n")
    found = imports(bad, set(modules()))
    assert found == [("backend.service.predictor", 2, False)]
    assert RANKS[layer("backend.service.predictor")] > RANKS[layer("backend.core.cam")]

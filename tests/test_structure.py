"""The shape of the package: every module imports, faceprint's modules import one
another without a cycle, and only ``faceprint.runtime`` creates ONNX Runtime
sessions, LiteRT interpreters and OpenCV DNN networks. The import graph is read
from the source (module-level and function-level imports; imports under
``if TYPE_CHECKING:`` are left out, since they never run)."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
from pathlib import Path

import pytest

import faceprint

SRC = Path(faceprint.__file__).resolve().parent
#: modules that need PyTorch (the ``train`` extra): imported only when it is installed
TORCH_ONLY = ("faceprint.train.",)


def _modules() -> dict[str, Path]:
    """Every module of faceprint: dotted name -> source file."""
    found = {"faceprint": SRC / "__init__.py"}
    for info in pkgutil.walk_packages([str(SRC)], prefix="faceprint."):
        spec = importlib.util.find_spec(info.name)
        assert spec is not None and spec.origin is not None, info.name
        found[info.name] = Path(spec.origin)
    return found


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of ``tree`` except those inside ``if TYPE_CHECKING:`` blocks."""
    out: list[ast.AST] = []
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        out.append(node)
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return out


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    """The faceprint modules a ``from ... import ...`` statement imports."""
    if node.level:
        parts = module.split(".")
        base_parts = parts if is_package else parts[:-1]
        base_parts = base_parts[:len(base_parts) - (node.level - 1)]
        base = ".".join(base_parts + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    if base != "faceprint" and not base.startswith("faceprint."):
        return []
    targets = []
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        targets.append(sub if sub in MODULES else base)
    return targets


def import_graph() -> dict[str, set[str]]:
    """faceprint module -> the faceprint modules it imports (at run time). Importing
    ``a.b.c`` also runs ``a`` and ``a.b``, so those are edges too."""
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in _runtime_nodes(tree):
            if isinstance(node, ast.ImportFrom):
                edges.update(_resolve(name, is_package, node))
            elif isinstance(node, ast.Import):
                edges.update(a.name for a in node.names
                             if a.name == "faceprint" or a.name.startswith("faceprint."))
        closed: set[str] = set()
        for target in edges:
            parts = target.split(".")
            closed.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        # a package's own ancestors are always imported before it: not a dependency
        closed = {t for t in closed if t in MODULES and t != name
                  and not name.startswith(t + ".")}
        graph[name] = closed
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each
    as one cycle through it, sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                components.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(_one_cycle(graph, comp) for comp in components)


def _one_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A shortest cycle through the first module of a strongly connected component."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & members):
                if w == start:
                    return paths[v] + [start]
                if w not in paths:
                    paths[w] = paths[v] + [w]
                    nxt.append(w)
        frontier = nxt
    return component  # not reached: a component has a cycle through each member


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_graph_sees_relative_function_level_imports() -> None:
    graph = import_graph()
    # faceprint.align imports faceprint._dlib inside dlib_chips()
    assert "faceprint._dlib" in graph["faceprint.align"]
    # registry imports the embedder protocol only under TYPE_CHECKING
    assert "faceprint.embedders.base" not in graph["faceprint.registry"]
    assert "faceprint.detectors.base" in graph["faceprint.registry"]  # create_detector
    assert graph["faceprint.weights"] == {"faceprint.errors"}


def test_every_module_imports() -> None:
    has_torch = importlib.util.find_spec("torch") is not None
    for name in MODULES:
        if not has_torch and name.startswith(TORCH_ONLY):
            continue
        if name.endswith(".__main__"):  # runs the program when imported
            continue
        importlib.import_module(name)


def test_no_import_cycle_among_faceprints_modules() -> None:
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def _calls_of(path: Path, name: str) -> list[int]:
    """Lines of ``path`` that call ``name(...)`` or ``something.name(...)``."""
    tree = ast.parse(path.read_text(), str(path))
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call) and (
        (isinstance(node.func, ast.Name) and node.func.id == name)
        or (isinstance(node.func, ast.Attribute) and node.func.attr == name))]


@pytest.mark.parametrize("what", ["InferenceSession", "Interpreter", "readNetFromTFLite",
                                  "readNetFromCaffe"])
def test_only_the_runtime_package_creates_sessions(what: str) -> None:
    outside = {str(path.relative_to(SRC)): lines for name, path in MODULES.items()
               if not name.startswith("faceprint.runtime")
               and (lines := _calls_of(path, what))}
    assert not outside, f"{what} used outside faceprint/runtime/: {outside}"
    inside = [name for name, path in MODULES.items()
              if name.startswith("faceprint.runtime") and _calls_of(path, what)]
    assert inside, f"the check looks for {what} where it is"

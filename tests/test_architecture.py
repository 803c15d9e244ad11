"""The package's shape, enforced: no import cycle (function-level imports included), and the vector
side (memento/vectors/) reached from the rest only through the gates that a vector tier opens."""
from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest

import memento
from tests.conftest import run_python

# The package the tests import: the checkout's, or the installed wheel in the Pi lane's stage.
PACKAGE = Path(memento.__file__).resolve().parent

# The only places outside memento/vectors/ that import the vector side, each behind a check that the
# store is open in a vector tier (or, for the registry, that a vector tier is being asked about).
VECTOR_GATES = {
    ("memento.store", "memento.vectors.index"),            # open(): the tier has embeddings
    ("memento.store", "memento.vectors.near_duplicates"),  # duplicates(near=...): refused without vectors
    ("memento.tiers", "memento.vectors.registry"),         # is a vector tier installed? (pure data)
}
# The pocket side (memento/pocket/) likewise: the store opens it in the pocket tier; tier resolution
# reads the name of its table file from the package's __init__ (a constant).
POCKET_GATES = {
    ("memento.store", "memento.pocket.index"),
    ("memento.tiers", "memento.pocket"),
}
HEAVY = ("numpy", "fastembed", "onnxruntime", "sqlite_vec", "tokenizers", "huggingface_hub", "onnx")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> Dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str, path: Path, known: Set[str]) -> List[Tuple[str, int]]:
    """(module imported, line) for every import in the file, at any depth (functions included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.append((submodule if submodule in known else base, node.lineno))
    return found


def graph() -> Dict[str, Set[str]]:
    known = modules()
    return {name: {target for target, _ in imports(name, path, set(known)) if target in known and target != name}
            for name, path in known.items()}


def cycles(edges: Dict[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[List[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_is_read_from_the_code():
    edges = graph()
    # A few edges every reader can check by eye: if parsing broke, these would vanish.
    assert "memento.opening" in edges["memento.store"]
    assert "memento.health" in edges["memento.vectors.index"]
    assert "memento.mcp.server" in edges["memento.cli"]       # a function-level import
    assert "memento.values" in edges["memento.formats.jsonl"]


def test_no_import_cycle_even_through_function_level_imports():
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_vector_side_is_reached_only_through_its_gates():
    crossings = {(source, target) for source, targets in graph().items() if not source.startswith("memento.vectors")
                 for target in targets if target.startswith("memento.vectors.")}
    assert crossings <= VECTOR_GATES, sorted(crossings - VECTOR_GATES)


def test_the_pocket_side_is_reached_only_through_its_gates():
    crossings = {(source, target) for source, targets in graph().items() if not source.startswith("memento.pocket")
                 for target in targets if target == "memento.pocket" or target.startswith("memento.pocket.")}
    assert crossings == POCKET_GATES, sorted(crossings ^ POCKET_GATES)
    assert not any(t.startswith("memento.vectors") for s, ts in graph().items() if s.startswith("memento.pocket")
                   for t in ts)


def test_no_module_outside_the_vector_side_imports_a_heavy_package():
    known = modules()
    offenders = [(name, target, line) for name, path in known.items() if not name.startswith("memento.vectors")
                 for target, line in imports(name, path, set(known)) if target.split(".")[0] in HEAVY]
    assert offenders == []


@pytest.mark.spawns_python
def test_a_minimal_store_never_loads_the_vector_side(tmp_path):
    code = f"""
import json, sys, memento
from memento.cli import main
with memento.open({str(tmp_path / 'm.db')!r}, tier="minimal") as mem:
    mem.remember("the kiwi is ripe", tags=["fruit"], thread="t")
    assert [h.text for h in mem.recall("kiwi", context=1)] == ["the kiwi is ripe"]
    mem.doctor(); mem.repair(); mem.duplicates(); mem.stats(); list(mem.iter())
main(["export", "--db", {str(tmp_path / 'm.db')!r}, "--tier", "minimal"])
print(json.dumps(sorted(m for m in sys.modules if m.startswith("memento.vectors") or m.split(".")[0] in {HEAVY!r})))
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == []

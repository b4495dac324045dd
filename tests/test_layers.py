"""The package's imports run one way: errors -> ingest -> encoders -> index -> search ->
answer -> pipeline -> web / evaluation -> cli, and no module takes part in a cycle.

Every import counts, including those inside functions (a lazy import is still a
dependency). Reads the source with ``ast``; imports nothing from the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "assistant"

# A module may import from its own stage and the stages before it. Stages of equal
# rank (web, evaluation) may not import each other.
STAGES = {
    "errors": 0, "version": 0,
    "ingest": 1,
    "encoders": 2,
    "index": 3,
    "search": 4,
    "answer": 5,
    "pipeline": 6,
    "web": 7, "evaluation": 7,
    "cli": 8,
    "__init__": 9, "__main__": 9,
}


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def stage(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``path`` imports, anywhere in it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for n in names:
            if n.startswith("assistant"):
                # the longest known module the name starts with
                while n and n not in known:
                    n = n.rpartition(".")[0]
                if n:
                    found.add(n)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(path, known) - {name} for name, path in mods.items()}


def test_every_module_belongs_to_a_stage():
    unknown = sorted(m for m in modules() if stage(m) not in STAGES)
    assert not unknown, f"modules outside every stage (add the stage to STAGES in order): {unknown}"


def test_imports_run_one_way():
    upward = []
    for mod, deps in graph().items():
        here = stage(mod)
        for dep in deps:
            there = stage(dep)
            if dep == "assistant":  # the package root re-exports the API: nothing inside imports it
                upward.append(f"{mod} -> {dep}")
            elif STAGES[there] > STAGES[here] or (STAGES[there] == STAGES[here] and there != here):
                upward.append(f"{mod} ({here}) -> {dep} ({there})")
    assert not upward, "imports against the data flow:\n" + "\n".join(sorted(upward))


def test_no_import_cycles():
    g = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in g:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("bad", [
    ("assistant.index.dense", "from assistant.search.searcher import Hit\n"),
    ("assistant.ingest.split", "def f():\n    from assistant.web import app\n"),
])
def test_an_upward_import_is_caught(bad, tmp_path):
    """The check itself can fail: an upward import, even inside a function, is found."""
    mod, line = bad
    p = tmp_path / "m.py"
    p.write_text(line)
    deps = imports_of(p, set(modules()))
    assert any(STAGES[stage(d)] > STAGES[stage(mod)] for d in deps)

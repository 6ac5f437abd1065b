"""The package layout is the architecture: no import cycles, and dependencies point one way.

The graph is read from the source with `ast` (every import, including the lazy ones inside
functions, except those under `if TYPE_CHECKING:`), so a cycle hidden in a function body
fails here too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "amatelier"

# Layers from the front doors down; a package may import only packages on its own layer or
# below (and never form a cycle). Top-level modules not listed here are the bottom layer.
LAYERS: list[set[str]] = [
    {"cli", "commands", "mcp", "serve", "benchmarks", "bundles", "watch", "__main__", "engine"},
    {"debate"},
    {"learning"},
    {"economy"},
    {"judging"},
    {"steward"},
    {"telemetry", "search", "export"},
    {"chat"},
    {"llm_backend", "diagnostics"},
    {"backends", "offline"},
]
FRONT_DOORS = LAYERS[0]
AFTER_DEBATE = {"judging", "economy", "learning"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                for child in node.body:
                    for sub in ast.walk(child):
                        if hasattr(sub, "lineno"):
                            lines.add(sub.lineno)
    return lines


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Project modules that the file at `path` imports (resolved to existing modules)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    me = module_name(path)
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = me.split(".")
                anchor = anchor if is_pkg else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target.startswith(PACKAGE) and target != me and target != PACKAGE:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    files = sorted((SRC / PACKAGE).rglob("*.py"))
    modules = {module_name(f) for f in files}
    return {module_name(f): imports_of(f, modules) for f in files}


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle in the directed graph, as a list of nodes, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def layer_of(package: str) -> int:
    for index, layer in enumerate(LAYERS):
        if package in layer:
            return index
    return len(LAYERS)


def test_no_cycle_between_modules() -> None:
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_cycle_between_packages() -> None:
    edges: dict[str, set[str]] = {}
    for module, targets in graph().items():
        src = package_of(module)
        for target in targets:
            dst = package_of(target)
            if dst != src:
                edges.setdefault(src, set()).add(dst)
    cycle = find_cycle(edges)
    assert cycle is None, "package cycle: " + " -> ".join(cycle or [])


def test_after_debate_steps_never_import_debate() -> None:
    bad = sorted(f"{m} imports {t}" for m, targets in graph().items() for t in targets
                 if package_of(m) in AFTER_DEBATE and package_of(t) == "debate")
    assert not bad, "\n".join(bad)


def test_dependencies_point_down_the_layers() -> None:
    bad = []
    for module, targets in graph().items():
        src = layer_of(package_of(module))
        for target in targets:
            if layer_of(package_of(target)) < src:
                bad.append(f"{module} imports {target}")
    assert not bad, "\n".join(sorted(bad))


def test_only_front_doors_import_debate() -> None:
    bad = sorted(f"{m} imports {t}" for m, targets in graph().items() for t in targets
                 if package_of(t) == "debate" and package_of(m) not in FRONT_DOORS | {"debate"})
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("edges, cycle", [
    ({"a": {"b"}, "b": {"a"}}, True),
    ({"a": {"b"}, "b": {"c"}}, False),
    ({"a": {"a2"}, "a2": {"b"}, "b": {"a"}}, True),
])
def test_cycle_finder_finds_cycles(edges: dict[str, set[str]], cycle: bool) -> None:
    assert (find_cycle(edges) is not None) is cycle


def test_no_source_file_over_600_lines() -> None:
    long = [f"{p.relative_to(SRC)}: {n}" for p in (SRC / PACKAGE).rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600]
    assert not long, "files over 600 lines: " + ", ".join(long)


def test_each_subsystem_package_says_what_it_owns() -> None:
    for name in ("debate", "judging", "economy", "learning", "steward", "mcp", "chat", "backends"):
        init = SRC / PACKAGE / name / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc.split()) >= 25, f"{name}/__init__.py needs a paragraph saying what it owns"
        assert "import" in doc, f"{name}/__init__.py should say what it may import"

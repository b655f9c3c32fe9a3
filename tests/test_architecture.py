"""The package's import graph, read from the source with ``ast`` (function-local imports too):
no cycles, no module reaching into another module's ``_private`` names, layers reach down only.

The layers, lowest first (DESIGN.md "Layout"): a module may import its own layer and the layers
below it. ``dtgkit/__init__.py`` (the lazy flat API) and ``cli.py`` find modules by name
(``importlib``), so they add no edges.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "dtgkit"

#: top-level part of a module name -> layer (lower imports nothing higher)
LAYERS = {
    "data": 0, "metrics": 0, "files": 0,
    "models": 1,
    "dtg": 2,
    "config": 3,
    "train": 4,
    "studies": 5,
    "viz": 6,
    "experiments": 7,
    "widgets": 8, "labs": 8, "demo": 8, "ablate": 8, "bench": 8,
    "cli": 9, "__main__": 9, "": 9,
}


def _module_name(path: Path) -> str:
    parts = ("dtgkit", *path.relative_to(PKG).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if _is_package(module) else base[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(name: str) -> tuple[set[str], list[str], dict[str, str]]:
    """(modules imported, private names used across modules, alias -> dtgkit module or object)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    deps: set[str] = set()
    private: list[str] = []
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("dtgkit"):
                    deps.add(a.name)
                    if a.asname:
                        aliases[a.asname] = a.name
        elif isinstance(node, ast.ImportFrom):
            src = _resolve(name, node)
            if not src.startswith("dtgkit"):
                continue
            for a in node.names:
                sub = f"{src}.{a.name}"
                deps.add(sub if sub in MODULES else src)
                aliases[a.asname or a.name] = sub
                if a.name.startswith("_") and not a.name.startswith("__"):
                    private.append(f"{name}: from {src} import {a.name}")
    for node in ast.walk(tree):  # alias._private and getattr(alias, "_private")
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            attr, owner = node.attr, node.value.id
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
              and len(node.args) >= 2 and isinstance(node.args[0], ast.Name)
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            attr, owner = node.args[1].value, node.args[0].id
        else:
            continue
        if owner in aliases and attr.startswith("_") and not attr.startswith("__"):
            private.append(f"{name}: {owner}.{attr} ({aliases[owner]})")
    deps.discard(name)
    return {d for d in deps if d in MODULES}, private, aliases


GRAPH = {name: _imports(name) for name in MODULES}


def _layer(name: str) -> int:
    parts = name.split(".")
    return LAYERS[parts[1] if len(parts) > 1 else ""]


def test_every_module_has_a_layer():
    missing = sorted({n.split(".")[1] for n in MODULES if "." in n} - set(LAYERS))
    assert not missing, f"give these top-level modules a layer in LAYERS: {missing}"


def test_no_import_cycle():
    # Tarjan's strongly connected components over "module -> modules it imports"
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v][0]):
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
                cycles.append(sorted(comp))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_no_private_name_crosses_a_module():
    found = [p for _, private, _ in GRAPH.values() for p in private]
    assert not found, "private names used across modules:\n" + "\n".join(found)


def test_layers_reach_down_only():
    up = [f"{m} (layer {_layer(m)}) imports {d} (layer {_layer(d)})"
          for m, (deps, _, _) in sorted(GRAPH.items()) for d in sorted(deps) if _layer(d) > _layer(m)]
    assert not up, "imports reaching up:\n" + "\n".join(up)


@pytest.mark.parametrize("name", ["dtgkit.config", "dtgkit.dtg", "dtgkit.cli", "dtgkit"])
def test_torch_free_imports(name):
    """The config, the dtg vocabulary, the CLI dispatcher and the flat API load without torch."""
    import subprocess
    import sys

    code = f"import sys, {name}; assert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)[:5]"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr[-2000:]


def test_one_knn():
    """One kNN in the package (``grep -rn "def knn" dtgkit``)."""
    hits = [f"{p.relative_to(PKG.parent)}:{i}" for p in MODULES.values()
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if line.lstrip().startswith("def knn")]
    assert hits == ["dtgkit/metrics.py:" + hits[0].split(":")[1]] and len(hits) == 1, hits

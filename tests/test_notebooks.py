"""The notebooks call the library: their code cells define no function, class or lambda of their
own (STYLE 3 / 16), except a student's exercise cells (tagged ``exercise`` or ``solution``, or
an nbgrader solution region ``### BEGIN SOLUTION``)."""
from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
EXERCISE_TAGS = {"exercise", "solution"}


def _is_exercise(cell) -> bool:
    meta = cell.get("metadata", {})
    return (bool(EXERCISE_TAGS & set(meta.get("tags", []))) or bool(meta.get("nbgrader", {}).get("solution"))
            or "### BEGIN SOLUTION" in cell.source)


def _definitions(source: str) -> list[str]:
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    found = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.append(f"def {node.name} (line {node.lineno})")
        elif isinstance(node, ast.ClassDef):
            found.append(f"class {node.name} (line {node.lineno})")
        elif isinstance(node, ast.Lambda):
            found.append(f"lambda (line {node.lineno})")
    return found


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 7


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_code_cells_define_nothing(path):
    nb = nbformat.read(path, as_version=4)
    found = [f"cell {i}: {d}" for i, cell in enumerate(nb.cells)
             if cell.cell_type == "code" and not _is_exercise(cell) for d in _definitions(cell.source)]
    assert not found, f"{path.name} defines code that belongs in dtgkit: {found}"


def test_the_check_can_fail_and_honours_exercises():
    assert _definitions("def f():\n    pass\nclass A: ...\ng = lambda x: x") == [
        "def f (line 1)", "class A (line 3)", "lambda (line 4)"]
    assert _definitions("%matplotlib inline\nx = f(1)") == []
    cell = nbformat.v4.new_code_cell("def answer():\n    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION")
    assert _is_exercise(cell)
    tagged = nbformat.v4.new_code_cell("def mine(): ...", metadata={"tags": ["exercise"]})
    assert _is_exercise(tagged) and not _is_exercise(nbformat.v4.new_code_cell("def mine(): ..."))

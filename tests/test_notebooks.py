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


# ------------------------------------------------------------------ the course-lab structure
def _grader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def exercises(nb) -> dict[str, dict[str, list]]:
    """Exercise id (``nb01-ex1``) -> its nbgrader cells by role (task / answer / check), from the
    ``grade_id`` of each cell (``nb01-ex1-answer`` ...)."""
    out: dict[str, dict[str, list]] = {}
    for cell in nb.cells:
        gid = _grader(cell).get("grade_id", "")
        ex, _, role = gid.rpartition("-")
        if ex:
            out.setdefault(ex, {}).setdefault(role.rstrip("0123456789"), []).append(cell)
    return out


def lab_problems(nb) -> list[str]:
    """What keeps ``nb`` from being a course lab: goals, prerequisites and times first; >= 2
    exercises, each a task, a reference solution in an nbgrader solution region and a locked,
    graded self-check calling dtgkit.labs after it; a recap with the paper-vs-lab table last."""
    problems = []
    first = nb.cells[0].source if nb.cells else ""
    problems += [f"the first cell lacks {part!r}" for part in
                 ("**Learning goals.**", "**Before you start.**", "**Time.**", "FAST", "full mode")
                 if part not in first]
    last = nb.cells[-1] if nb.cells else None
    if last is None or last.cell_type != "markdown" or not last.source.startswith("## Recap") \
            or "### What the paper says vs. what you saw" not in last.source:
        problems.append("no recap with 'What the paper says vs. what you saw' last")
    ids = [_grader(c)["grade_id"] for c in nb.cells if _grader(c).get("grade_id")]
    if len(ids) != len(set(ids)):
        problems.append("a grade_id is used twice")
    found = exercises(nb)
    if len(found) < 2:
        problems.append(f"{len(found)} exercise(s), want >= 2")
    for ex, cells in found.items():
        if not cells.get("task") or not cells["task"][0].source.startswith("### Exercise"):
            problems.append(f"{ex}: no task cell starting '### Exercise'")
        answer, check = (cells.get("answer") or [None])[0], (cells.get("check") or [None])[0]
        if answer is None or not _grader(answer).get("solution") or _grader(answer).get("grade") \
                or "### BEGIN SOLUTION" not in answer.source or "### END SOLUTION" not in answer.source:
            problems.append(f"{ex}: no solution cell with a '### BEGIN / END SOLUTION' region")
            continue
        g = _grader(check) if check is not None else {}
        if not (g.get("grade") and g.get("locked") and g.get("points", 0) > 0) or "labs.check_" not in check.source:
            problems.append(f"{ex}: no locked, graded check cell calling dtgkit.labs")
        elif nb.cells.index(check) < nb.cells.index(answer):
            problems.append(f"{ex}: the check comes before the answer")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_a_lab(path):
    assert not lab_problems(nbformat.read(path, as_version=4)), path.name


def test_the_lab_check_can_fail():
    v4 = nbformat.v4
    assert len(lab_problems(v4.new_notebook(cells=[v4.new_markdown_cell("# 99 · a demo")]))) == 7
    good = nbformat.read(NOTEBOOKS[0], as_version=4)
    answer = next(c for c in good.cells if _grader(c).get("grade_id", "").endswith("-answer"))
    answer.source = "x = 1"
    assert any("solution" in p for p in lab_problems(good))
    assert set(exercises(v4.new_notebook(cells=[v4.new_code_cell(
        "x = 1", metadata={"nbgrader": {"grade_id": "nb99-ex1-answer"}})]))) == {"nb99-ex1"}

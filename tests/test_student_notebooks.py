"""The student copies (``make student-notebooks``, ``tools/student_notebooks.py``): nbgrader's
solution regions become stubs, hidden tests go, outputs are cleared, everything else stays."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("student_notebooks", ROOT / "tools" / "student_notebooks.py")
SN = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(SN)


def _nb():
    v4 = nbformat.v4
    solution = v4.new_code_cell(
        "import math\nfor i in range(2):\n    ### BEGIN SOLUTION\n    x = i * 2\n    ### END SOLUTION\nanswer = 1",
        metadata={"nbgrader": {"solution": True, "grade": False, "locked": False, "grade_id": "ex1",
                               "schema_version": 3}})
    solution.outputs = [v4.new_output("stream", text="secret\n")]
    solution.execution_count = 3
    text = v4.new_markdown_cell("Why? ### BEGIN SOLUTION\nBecause.\n### END SOLUTION",
                                metadata={"nbgrader": {"solution": True, "grade_id": "why"}})
    whole = v4.new_code_cell("answer = 42", metadata={"nbgrader": {"solution": True, "grade_id": "w"}})
    test = v4.new_code_cell("check(answer)\n### BEGIN HIDDEN TESTS\nassert answer == 42\n### END HIDDEN TESTS",
                            metadata={"nbgrader": {"grade": True, "locked": True, "points": 1, "grade_id": "t"}})
    return v4.new_notebook(cells=[v4.new_markdown_cell("# Lab"), solution, text, whole, test])


def test_solutions_become_stubs_and_the_rest_stays():
    nb = _nb()
    out = SN.student_notebook(nb)
    src = [c.source for c in out.cells]
    assert src[0] == "# Lab"
    assert src[1] == ("import math\nfor i in range(2):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
                      "\nanswer = 1")
    assert "Because" not in src[2] and "YOUR ANSWER HERE" in src[2]
    assert src[3] == SN.CODE_STUB
    assert src[4] == "check(answer)"
    assert out.cells[1].outputs == [] and out.cells[1].execution_count is None
    assert out.cells[4].metadata["nbgrader"]["points"] == 1
    assert nb.cells[1].outputs, "the instructor's notebook is not changed"


def test_an_unclosed_region_is_an_error():
    cell = nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1")
    with pytest.raises(ValueError, match="not closed"):
        SN.student_cell(cell)


def test_write_student_copies(tmp_path):
    src = tmp_path / "lab.ipynb"
    nbformat.write(_nb(), src)
    written = SN.write_student_copies([src], tmp_path / "student")
    assert written == [tmp_path / "student" / "lab.ipynb"]
    assert "x = i * 2" not in written[0].read_text()


NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _regions(source: str) -> list[str]:
    """The code lines inside the solution regions of ``source``."""
    inside, lines = False, []
    for line in source.splitlines():
        if SN.BEGIN.search(line):
            inside = True
        elif SN.END.search(line):
            inside = False
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_student_copy_of_each_lab_has_no_solution(path):
    nb = nbformat.read(path, as_version=4)
    student = SN.student_notebook(nb)
    assert len(student.cells) == len(nb.cells)
    solutions = 0
    for inst, stu in zip(nb.cells, student.cells):
        if SN.is_solution_cell(inst):
            solutions += 1
            assert "SOLUTION" not in stu.source and "raise NotImplementedError()" in stu.source
            kept = [line for line in _regions(inst.source) if line in stu.source.splitlines()
                    or f"    {line}" in stu.source.splitlines()]
            assert not kept, f"solution lines left in the student copy: {kept}"
        else:
            assert stu.source == inst.source
        if stu.cell_type == "code":
            assert stu.outputs == [] and stu.execution_count is None
    assert solutions >= 2


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_student_copy_runs_up_to_its_first_exercise(path, monkeypatch):
    """In FAST mode every cell before the first exercise runs, and the first exercise stops with
    the stub's NotImplementedError: in its answer cell, or in its check when the answer is a
    function whose body is the stub (run from notebooks/, as `make lab` does)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    monkeypatch.setenv("DTGKIT_FAST", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    student = SN.student_notebook(nbformat.read(path, as_version=4))
    first = next(i for i, c in enumerate(student.cells) if SN.is_solution_cell(c))
    check = next(i for i, c in enumerate(student.cells) if i > first
                 and c.get("metadata", {}).get("nbgrader", {}).get("grade"))
    student.cells = student.cells[:check + 1]
    client = NotebookClient(student, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "notebooks")}})
    with pytest.raises(CellExecutionError, match="NotImplementedError"):
        client.execute()
    errors = [i for i, c in enumerate(student.cells) if c.cell_type == "code"
              and any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert len(errors) == 1 and first <= errors[0] <= check, (
        f"cells that failed: {errors} (the first exercise is cells {first}-{check})")


@pytest.mark.slow
def test_student_copies_equal_nbgraders_own(tmp_path):
    """``nbgrader generate_assignment`` (the instructor's path) and tools/student_notebooks.py
    (``make student-notebooks``, no nbgrader) give the student the same cells."""
    import os
    import subprocess
    import sys

    pytest.importorskip("nbgrader")
    source = tmp_path / "source" / "labs"
    source.mkdir(parents=True)
    for path in NOTEBOOKS:
        (source / path.name).write_bytes(path.read_bytes())
    (tmp_path / "nbgrader_config.py").write_text('c = get_config()\nc.CourseDirectory.course_id = "dtgkit"\n')
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    res = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "labs", "--force"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    for path in NOTEBOOKS:
        theirs = nbformat.read(tmp_path / "release" / "labs" / path.name, as_version=4)
        ours = SN.student_notebook(nbformat.read(path, as_version=4))
        assert [c.source for c in theirs.cells] == [c.source for c in ours.cells], path.name

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

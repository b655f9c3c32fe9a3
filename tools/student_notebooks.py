"""Write the student copies of the course notebooks, without nbgrader.

    python tools/student_notebooks.py                       # notebooks/*.ipynb -> build/student/
    python tools/student_notebooks.py --out DIR nb1.ipynb   # chosen notebooks, another folder

What ``nbgrader generate_assignment`` does to a notebook's cells, done here with nbformat alone
(an instructor with nbgrader installed gets the same copies from the same notebooks):

* in every code cell, each region from ``### BEGIN SOLUTION`` to ``### END SOLUTION`` becomes
  ``# YOUR CODE HERE`` / ``raise NotImplementedError()`` at the region's indentation; in a
  markdown cell it becomes ``YOUR ANSWER HERE``; a cell marked as an nbgrader solution without a
  region is replaced whole by that stub;
* regions from ``### BEGIN HIDDEN TESTS`` to ``### END HIDDEN TESTS`` are removed;
* outputs and execution counts are cleared; nbgrader's cell metadata is kept (so the copies can
  still be collected and autograded).

The reference solutions never reach ``build/student/``; the self-check cells (``dtgkit.labs``)
stay, so a student gets the same feedback as in the instructor's copy.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
BEGIN, END = re.compile(r"#+\s*BEGIN SOLUTION", re.IGNORECASE), re.compile(r"#+\s*END SOLUTION", re.IGNORECASE)
BEGIN_HIDDEN = re.compile(r"#+\s*BEGIN HIDDEN TESTS", re.IGNORECASE)
END_HIDDEN = re.compile(r"#+\s*END HIDDEN TESTS", re.IGNORECASE)


def is_solution_cell(cell) -> bool:
    """A cell the student writes: nbgrader ``solution`` metadata or a solution region."""
    grader = cell.get("metadata", {}).get("nbgrader", {})
    return bool(grader.get("solution")) or bool(BEGIN.search(cell.source))


def _replace_regions(source: str, begin: re.Pattern, end: re.Pattern, stub: str | None) -> tuple[str, bool]:
    out: list[str] = []
    inside, found = False, False
    for line in source.splitlines():
        if not inside and begin.search(line):
            inside, found = True, True
            indent = line[: len(line) - len(line.lstrip())]
            if stub is not None:
                out += [indent + s for s in stub.splitlines()]
        elif inside and end.search(line):
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"a {begin.pattern!r} region is not closed")
    return "\n".join(out), found


def student_cell(cell):
    """The student's version of one cell (a copy; the cell itself is not changed)."""
    cell = nbformat.from_dict(cell)
    stub = CODE_STUB if cell.cell_type == "code" else TEXT_STUB
    if is_solution_cell(cell):
        source, found = _replace_regions(cell.source, BEGIN, END, stub)
        cell.source = source if found else stub
    cell.source, _ = _replace_regions(cell.source, BEGIN_HIDDEN, END_HIDDEN, None)
    if cell.cell_type == "code":
        cell.outputs, cell.execution_count = [], None
    return cell


def student_notebook(nb):
    """The student copy of a notebook: solutions stubbed, hidden tests removed, outputs cleared."""
    nb = nbformat.from_dict(nb)
    nb.cells = [student_cell(c) for c in nb.cells]
    return nb


def write_student_copies(paths, out: str | Path) -> list[Path]:
    """Write one student copy per notebook into ``out``; returns the files written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in map(Path, paths):
        nb = nbformat.read(path, as_version=4)
        dest = out / path.name
        nbformat.write(student_notebook(nb), dest)
        written.append(dest)
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="*", help="notebooks (default: notebooks/*.ipynb)")
    ap.add_argument("--out", default=str(ROOT / "build" / "student"), help="output folder (default %(default)s)")
    args = ap.parse_args(argv)
    paths = args.paths or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for dest in write_student_copies(paths, args.out):
        print(f"wrote {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

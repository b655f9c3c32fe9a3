"""Execute and/or canonicalise the notebooks, so they are committed in one form.

    python tools/nbcanon.py notebooks/01_clip_sampling.ipynb          # canonicalise in place
    python tools/nbcanon.py --execute notebooks/0*.ipynb               # run (FAST mode), then canonicalise
    python tools/nbcanon.py --check notebooks/*.ipynb                  # exit 1 if any is not canonical

Canonical form: nbformat 4.5, cell ids ``cell-00``, ``cell-01`` ..., notebook metadata reduced
to the kernelspec and language name, cell metadata reduced to ``tags`` and ``nbgrader`` (the
course-lab markings: solution / grade / locked / grade_id / points / schema_version), no execution timing
metadata, execution counts renumbered 1.. in order, widget state dropped (it carries fresh
model ids on every run).
"""
from __future__ import annotations

import argparse
import os
import sys

import nbformat

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
#: cell metadata a committed notebook keeps: nbval / papermill tags and nbgrader's cell markings
KEPT_CELL_METADATA = ("tags", "nbgrader")
#: nbgrader's per-cell keys (schema 3); ``checksum`` / ``cell_type`` are written by nbgrader's own
#: tools when it generates an assignment and are not committed
NBGRADER_KEYS = ("grade", "grade_id", "locked", "points", "schema_version", "solution", "task")


def canonical(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb.nbformat, nb.nbformat_minor = 4, 5
    nb.metadata = nbformat.from_dict(
        {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    )
    count = 0
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"
        meta = cell.get("metadata", {})
        kept = {key: meta[key] for key in KEPT_CELL_METADATA if meta.get(key)}
        if "nbgrader" in kept:
            kept["nbgrader"] = {k: kept["nbgrader"][k] for k in sorted(kept["nbgrader"])
                                if k in NBGRADER_KEYS}
        cell["metadata"] = nbformat.from_dict(kept)
        if cell.cell_type == "code":
            if cell.get("execution_count") is not None or cell.get("outputs"):
                count += 1
                cell["execution_count"] = count
            for out in cell.get("outputs", []):
                if "execution_count" in out:
                    out["execution_count"] = cell["execution_count"]
                out.get("metadata", {}).pop("transient", None)
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
    return nb


def dumps(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(canonical(nb)) + "\n"


def execute(nb: nbformat.NotebookNode, path: str, timeout: int = 600) -> None:
    from nbconvert.preprocessors import ExecutePreprocessor

    os.environ.setdefault("DTGKIT_FAST", "1")
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    ep = ExecutePreprocessor(timeout=timeout, kernel_name="python3")
    ep.preprocess(nb, {"metadata": {"path": os.path.dirname(os.path.abspath(path))}})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--execute", action="store_true", help="run each notebook (DTGKIT_FAST=1) first")
    ap.add_argument("--check", action="store_true", help="only report notebooks not in canonical form")
    args = ap.parse_args(argv)
    bad = []
    for path in args.paths:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        nb = nbformat.reads(text, as_version=4)
        if args.check:
            if dumps(nb) != text:
                bad.append(path)
            continue
        if args.execute:
            print(f"executing {path} ...", flush=True)
            execute(nb, path)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(dumps(nb))
    for path in bad:
        print(f"not canonical: {path} (run: python tools/nbcanon.py {path})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

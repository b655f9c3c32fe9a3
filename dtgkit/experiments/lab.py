"""A lab's live experiment: one arm of a committed suite, re-run at the budget of the committed
results (read from ``<results>/<suite>.md``), so a student's run can be set beside the table.

``rerun_arm("table2", "dtg-img_img", results="results", out="../runs/lab")`` reads the
``dtgkit ablate`` arguments of the committed Table 2, builds the same budget
(:func:`~dtgkit.experiments.suites.budget_config`), and trains that arm (and only the arms it
needs) for one seed with :func:`~dtgkit.experiments.suites.run_suite`: every run goes to its own
folder ``out/<suite>/<arm>/seed<S>-<config hash>``, so a finished run is re-used and a changed
setting (``overrides``) trains anew instead of meeting another config's folder. With
``quick=True`` the budget is ``ci-tiny`` on the committed sample (tests, FAST mode): seconds,
and numbers that mean nothing.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dtgkit.experiments import report
from dtgkit.experiments.resources import quiet
from dtgkit.experiments.suites import budget_config, parse_suite_args, run_suite, teacher_size

__all__ = ["rerun_arm"]


def rerun_arm(suite: str, arm: str, *, results: str | os.PathLike = report.RESULTS,
              out: str | os.PathLike = "runs/lab", seed: int = 0, quick: bool = False,
              data_root: str | os.PathLike = "", overrides: Sequence[str] = (), progress: bool = True,
              say: Callable[[str], None] = quiet) -> dict[str, Any]:
    """Train one arm of a committed suite at its committed budget (one seed).

    Args:
        suite: a suite with results under ``results`` (``table1`` ... ``efficiency``).
        arm: the arm's key (the ``arm`` column of :func:`~dtgkit.experiments.report.load_suite`).
        results: the committed results folder.
        out: parent of the run folders (``out/<suite>/...``; teachers trained if missing go to
            ``out/teachers``).
        seed: ``run.seed``.
        quick: the ``ci-tiny`` budget on the committed sample instead (seconds).
        data_root: the SynthActions root (default: the budget's, made if missing).
        overrides: ``section.key=value`` items laid over the budget (e.g. ``dtg.queue_size=32``).
        progress: tqdm bars while training.
        say: stage messages.

    Returns:
        dict(row: the arm's result row (the CSV columns), rows: every row run, argv: the budget's
        ``dtgkit ablate`` arguments, cfg: the budget, resources: wall / CPU time and memory).
    """
    argv = ["--suite", suite, "--quick"] if quick else report.committed_budget(suite, results)
    args = parse_suite_args(argv)
    args.out = str(out)
    args.no_progress = not progress
    if data_root:
        args.data_root = str(data_root)
    args.overrides = [*args.overrides, *overrides]
    cfg = budget_config(args, suite)
    res = run_suite(suite, cfg, out=Path(out) / suite, seeds=[seed], teachers_dir=Path(out) / "teachers",
                    quick=quick, teacher_input_size=teacher_size(args, cfg),
                    teacher_overrides=args.teacher, imagenet_init=args.imagenet_init, only=[arm],
                    say=say)
    row = next(r for r in res["rows"] if r["arm"] == arm)
    return {"row": row, "rows": res["rows"], "argv": argv, "cfg": res["cfg"],
            "resources": res["resources"]}

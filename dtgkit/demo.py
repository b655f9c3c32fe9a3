"""``dtgkit demo`` (``make demo``): DTG-Net against its baselines on SynthActions, one budget.

Steps, each re-using what an earlier call left (and saying so):

1. the SynthActions set (:data:`~dtgkit.experiments.suites.DEMO_SYNTH`, under ``data.root`` = ``runs/synth``) via
   :func:`dtgkit.data.synth.ensure_synth`;
2. the four teachers (ImageNet EfficientNet-Lite0 + three SynthActions teachers, trained from
   their still-image sets when not committed: :func:`dtgkit.experiments.teachers.ensure_teachers`);
3. offline teacher weights (Sec. 4.3.3). The paper takes them from single-teacher DTG runs;
   the demo's default ``--offline-source teacher-knn`` uses each teacher's frozen-feature kNN
   accuracy on the training split instead (cheap; see :mod:`dtgkit.experiments.teachers`).
   ``--offline-source single-runs`` runs the four single-teacher DTG arms first (4 more runs);
4. pre-training under the same budget (the ``cpu-demo`` preset: same student, data, epochs,
   batch): DTG (all teachers, offline weights), DistInit-L1 (same teachers), MoCo-video; plus
   the random-init student;
5. evaluating each: kNN and linear probe on frozen features, then fine-tuning;
6. ``OUT/report.md`` with the results table, the budget, wall / CPU time and peak memory, and
   figures beside it (loss curves, accuracy bars).

``--quick`` uses the ``ci-tiny`` preset, tiny random teachers and the committed sample set
(seconds; what the tests run). The demo is the suite ``demo`` of
:mod:`dtgkit.experiments.suites`, run by the same runner as the ablations; this file only maps
the command line onto it and onto :func:`dtgkit.experiments.report.demo_report`.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from dtgkit.experiments import report, suites

__all__ = ["add_cli", "run_demo"]


def run_demo(args: argparse.Namespace) -> dict[str, Any]:
    """Run the demo (see the module docstring); returns the rows, summary and report path."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def say(msg: str) -> None:
        print(f"[demo {time.strftime('%H:%M:%S')}] {msg}", flush=True)

    cfg = suites.budget_config(args, suites.DEMO)
    say(f"budget: preset {cfg.preset}, student {cfg.model.student}, T={cfg.data.num_segments}, "
        f"{cfg.data.size} px, pre-train {cfg.pretrain.epochs} epochs, fine-tune {cfg.finetune.epochs} "
        f"epochs, batch {cfg.pretrain.batch_size}, seed {args.seed}")
    res = suites.run_suite(suites.DEMO, cfg, out=out, seeds=[args.seed], teachers_dir=out.parent / "teachers",
                           quick=args.quick, teacher_input_size=suites.teacher_size(args, cfg),
                           offline_source=args.offline_source, synth_workers=args.workers, say=say)
    summary = report.summarise(res["rows"])
    path = report.demo_report(out, res["cfg"], args, res["rows"], summary, res["teachers"], res["proxy"],
                              res["resources"], res["synth"])
    say(f"report: {path}")
    print(report.markdown_table(summary, test_n=report.tested_videos(res["rows"])))
    return {"rows": res["rows"], "summary": summary, "report": path, "resources": res["resources"]}


def _cmd_demo(args: argparse.Namespace) -> int:
    res = run_demo(args)  # a non-finite loss stops with exit code 1 in dtgkit.cli.main
    r = res["resources"]
    print(f"demo finished in {r['wall_s'] / 60:.1f} min, peak memory {r['peak_tree_pss_mb']:.0f} MB "
          f"(PSS, process tree); report: {res['report']}")
    return 0


def add_cli(subparsers) -> None:
    """Add ``dtgkit demo``."""
    p = subparsers.add_parser(
        "demo", help="DTG-Net vs. baselines on SynthActions under one budget; writes a report",
        description="Make SynthActions and the teachers if missing, pre-train DTG (all teachers, "
                    "offline weights), DistInit-L1 and MoCo-video under the same budget, evaluate "
                    "each with the random-init student (kNN, linear probe, fine-tune) and write "
                    "OUT/report.md. Re-running re-uses finished runs.")
    p.add_argument("--out", default="runs/demo", help="output folder (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="run.seed of every run (default 0)")
    p.add_argument("--offline-source", choices=suites.OFFLINE_SOURCES, default="teacher-knn",
                   help="where the offline teacher weights' accuracies come from: the teachers' "
                        "frozen-feature kNN accuracy on the training split (cheap proxy, default) "
                        "or single-teacher DTG runs (the paper's procedure, 4 more runs)")
    p.add_argument("--workers", type=int, default=None, help="processes for generating SynthActions")
    suites.add_budget_args(p)
    p.set_defaults(func=_cmd_demo)

"""``dtgkit ablate --suite NAME --seeds 3``: the paper's Tables 1-4 and the data-efficiency
claim, measured on SynthActions as mean ± std over seeds; ``dtgkit ablate --claims``: which of
the paper's claims hold, from the results files.

The suites, the budget and the runner are :mod:`dtgkit.experiments.suites`; the tables, claims
and ``<suite>.md`` are :mod:`dtgkit.experiments.report`. Results go to ``RESULTS/<suite>.csv``
(one row per arm and seed), ``RESULTS/<suite>.md`` (mean ± std, the budget, the wall time and
the machine) and the small files of the first seed's runs to ``RESULTS/run_files/<suite>/``.
"""
from __future__ import annotations

import argparse
import json
import shlex
import time
from pathlib import Path
from typing import Any

from dtgkit.experiments import report, suites
from dtgkit.experiments.teachers import ROLE_ORDER

__all__ = ["add_cli", "run_ablation"]


def run_ablation(args: argparse.Namespace) -> dict[str, Any]:
    """Run one suite for ``args.seeds`` seeds; write ``<results>/<suite>.csv`` and ``.md``."""
    def say(msg: str) -> None:
        print(f"[ablate {args.suite} {time.strftime('%H:%M:%S')}] {msg}", flush=True)

    cfg = suites.budget_config(args, args.suite)
    only = [a.strip() for a in args.arms.split(",") if a.strip()]
    if only:  # an unknown arm fails now, not after the data set and the teachers are made
        suites.select_arms(suites.suite_arms(args.suite, {r: r for r in ROLE_ORDER}, cfg), only)
    old = report.replaced_budget(args)
    if old is not None:
        say(f"note: {Path(args.results) / (args.suite + '.md')} holds another budget "
            f"(`dtgkit ablate {shlex.join(old)}`): this call's table will replace it, not merge into it")
    res = suites.run_suite(args.suite, cfg, out=Path(args.out) / args.suite,
                           seeds=list(range(args.seed0, args.seed0 + args.seeds)),
                           teachers_dir=Path(args.out) / "teachers", quick=args.quick,
                           teacher_input_size=suites.teacher_size(args, cfg),
                           teacher_overrides=args.teacher, imagenet_init=args.imagenet_init,
                           only=only, say=say)
    written = report.write_suite_results(args, res)
    if written["replaced"] is not None:
        say(f"replaced the table of another budget (`dtgkit ablate {shlex.join(written['replaced'])}`) in "
            f"{written['md']}")
    if written["kept"]:
        say(f"kept {written['kept']} rows of other arms / seeds from {written['csv']} (same budget)")
    say(f"wrote {written['csv']} and {written['md']}; {len(written['published'])} files of the "
        f"seed-{args.seed0} runs copied to {Path(args.results) / 'run_files' / args.suite}")
    print(report.markdown_table(written["summary"], suites.SUITE_METRICS[args.suite]))
    return {"rows": res["rows"], "summary": written["summary"], "csv": written["csv"],
            "md": written["md"], "resources": res["resources"]}


def _cmd_ablate(args: argparse.Namespace) -> int:
    if args.claims:
        metrics = [m.strip() for m in args.claims_metrics.split(",") if m.strip()]
        md, path = report.write_claims(args.results, metrics=metrics)
        print(md)
        print(f"wrote {path}")
        return 0
    if not args.suite:
        raise ValueError("dtgkit ablate: give --suite NAME (or --claims)")
    res = run_ablation(args)  # a non-finite loss stops with exit code 1 in dtgkit.cli.main
    print(json.dumps({"csv": res["csv"], "md": res["md"], **res["resources"]}, indent=1))
    return 0


def add_cli(subparsers) -> None:
    """Add ``dtgkit ablate``."""
    p = subparsers.add_parser(
        "ablate", help="the paper's ablations on SynthActions (mean ± std over seeds)",
        description="Run an ablation suite (table1, table2, table3, table4, efficiency) for several "
                    "seeds under one budget; writes RESULTS/<suite>.csv and .md. Re-running re-uses "
                    "finished runs.")
    p.add_argument("--claims", action="store_true",
                   help="run nothing: check the paper's claims against the results files and write "
                        "RESULTS/claims.md")
    p.add_argument("--claims-metrics", default="acc1", metavar="M[,M]",
                   help="with --claims: the metrics each claim is read on, of "
                        f"{', '.join(report.CLAIM_METRICS)} (fine-tuned acc@1 is the paper's; kNN and "
                        "linear probe on frozen features are the lab's first metrics); default %(default)s")
    suites.add_suite_args(p)
    p.set_defaults(func=_cmd_ablate)

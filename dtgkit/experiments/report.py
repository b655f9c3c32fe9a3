"""Result rows -> tables, claims and reports: mean ± std over seeds, markdown, CSV, which of the
paper's claims hold, the demo's ``report.md`` and each suite's ``<suite>.md``.

The rows are those of :func:`dtgkit.experiments.arms.run_arm` (one per arm and seed, metrics in
percent, :data:`dtgkit.metrics.METRICS`); ``dtgkit demo`` and ``dtgkit ablate`` write them with
:func:`write_csv` and summarise them with :func:`summarise` / :func:`markdown_table`, and the
notebooks read the committed ones back with :func:`load_suite`. The figures are drawn by
:mod:`dtgkit.viz.results`.

A claim *holds* only when it held in every seed; *contradicted* when the opposite held in every
seed; otherwise *inconclusive* (:func:`verdict`).
"""
from __future__ import annotations

import argparse
import copy
import csv
import io
import json
import math
import os
import re
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dtgkit.config import Config
from dtgkit.experiments.resources import machine_info
from dtgkit.experiments.suites import (
    DEMO_SYNTH,
    SUITE_METRICS,
    SUITE_TITLES,
    SUITES,
    publish_run_files,
    suite_arms,
)
from dtgkit.experiments.teachers import ROLE_ORDER, TEACHER_ROLES
from dtgkit.files import exclusive_lock, write_text_atomic
from dtgkit.metrics import METRIC_NAMES, METRICS, binomial_se
from dtgkit.viz.plots import DPI
from dtgkit.viz.results import plot_accuracy_bars, plot_efficiency, plot_loss_curves

__all__ = [
    "CLAIMS",
    "CLAIM_METRICS",
    "CSV_COLUMNS",
    "MIN_SEEDS",
    "RESULTS",
    "ablate_argv",
    "check_claims",
    "claims_markdown",
    "claims_text",
    "committed_budget",
    "demo_argv",
    "demo_report",
    "efficiency_curves",
    "format_mean_std",
    "load_suite",
    "markdown_table",
    "paired_difference",
    "plot_suite",
    "read_csv",
    "replaced_budget",
    "suite_markdown",
    "summarise",
    "verdict",
    "write_claims",
    "write_csv",
    "write_suite_results",
]

#: where ``dtgkit ablate`` writes its tables (relative to the repository root)
RESULTS = Path("notebooks/results")


# ================================================================================ tables
def summarise(rows: Sequence[dict[str, Any]], metrics: Sequence[str] = METRICS) -> list[dict[str, Any]]:
    """Mean and sample std over seeds of each metric, one entry per arm (suite order).

    Returns:
        dicts with ``arm``, ``label``, ``n`` (seeds with a result), ``skipped`` and, per
        metric, ``<m>_mean`` / ``<m>_std`` (NaN when not measured; std 0 for one seed).
    """
    order: list[str] = []
    by: dict[str, list[dict]] = {}
    for r in sorted(rows, key=lambda r: r.get("suite_index", 0)):
        if r["arm"] not in by:
            order.append(r["arm"])
            by[r["arm"]] = []
        by[r["arm"]].append(r)
    out = []
    for key in order:
        rs = by[key]
        ok = [r for r in rs if not r.get("skipped")]
        s: dict[str, Any] = {"arm": key, "label": rs[0]["label"], "n": len(ok),
                             "skipped": rs[0].get("skipped", "") if not ok else ""}
        for m in metrics:
            vals = np.array([float(r.get(m, float("nan"))) for r in ok], dtype=float)
            vals = vals[~np.isnan(vals)]
            s[f"{m}_mean"] = float(vals.mean()) if len(vals) else float("nan")
            s[f"{m}_std"] = float(vals.std(ddof=1)) if len(vals) > 1 else (0.0 if len(vals) else float("nan"))
        out.append(s)
    return out


def format_mean_std(mean: float, std: float, n: int, se: float | None = None) -> str:
    """``61.25 ± 1.30`` (``61.25`` for one seed, or ``61.25 ± 2.15`` with its test-set error
    ``se``; ``-`` when not measured)."""
    if mean is None or math.isnan(mean):
        return "-"
    if n <= 1:
        return f"{mean:.2f}" if se is None or math.isnan(se) else f"{mean:.2f} ± {se:.2f}"
    return f"{mean:.2f} ± {std:.2f}"


def tested_videos(rows: Sequence[dict[str, Any]]) -> int:
    """The number of test videos behind the rows' accuracies (their largest ``test_n``; 0 when
    no row recorded it)."""
    return max((int(n) for r in rows if not math.isnan(n := _num(r.get("test_n")))), default=0)


#: the metrics that are proportions of test videos (a binomial error applies; not to mAP)
PROPORTIONS = ("knn_acc1", "linear_acc1", "acc1", "acc5", "mean_class_acc")


def markdown_table(summary: Sequence[dict[str, Any]], metrics: Sequence[str] = METRICS,
                   first: str = "method", test_n: int = 0) -> str:
    """A GitHub markdown table of :func:`summarise` output (skipped arms show their reason).

    ``±`` is the sample std over seeds; an arm with one seed shows, with ``test_n`` (its test
    videos), the binomial standard error of each accuracy instead (:func:`dtgkit.metrics.binomial_se`:
    the test set's own sampling error, which a second seed would not remove), and nothing for
    mAP."""
    head = [first, *[METRIC_NAMES.get(m, m) for m in metrics], "seeds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for s in summary:
        if s["n"] == 0 and s.get("skipped"):
            cells = [s["label"], f"skipped: {s['skipped']}"] + [""] * (len(metrics) - 1) + ["0"]
        else:
            cells = [s["label"], *[format_mean_std(s[f"{m}_mean"], s[f"{m}_std"], s["n"],
                                                   binomial_se(s[f"{m}_mean"], test_n)
                                                   if test_n and m in PROPORTIONS else None)
                                   for m in metrics], str(s["n"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


CSV_COLUMNS = ("suite", "arm", "label", "seed", *METRICS, "mean_class_acc", "pretrain_s", "eval_s",
               "finetune_s", "pretrain_cpu_s", "eval_cpu_s", "finetune_cpu_s", "pretrain_final_loss", "offline_source", "offline_weights", "skipped",
               "run_dir")


def write_csv(rows: Sequence[dict[str, Any]], path: str | os.PathLike,
              extra_columns: Sequence[str] = ()) -> str:
    """Per-seed rows as CSV (lists JSON-encoded, floats with 4 decimals), written atomically."""
    cols = list(CSV_COLUMNS) + [c for c in extra_columns if c not in CSV_COLUMNS]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        out = {}
        for c in cols:
            v = r.get(c, "")
            if isinstance(v, float):
                v = "" if math.isnan(v) else f"{v:.4f}"
            elif isinstance(v, (list, tuple, dict)):
                v = json.dumps(v)
            out[c] = v
        w.writerow(out)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, buf.getvalue())
    return str(path)


def read_csv(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of :func:`write_csv` (metrics as floats, NaN when empty; seed as int; ``reused``
    as bool)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"results file not found: {path}")
    rows = []
    with open(path, encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            for m in (*METRICS, "mean_class_acc"):
                r[m] = float(r[m]) if r.get(m) else float("nan")
            r["seed"] = int(r["seed"]) if r.get("seed") else 0
            if "reused" in r:
                r["reused"] = r["reused"] == "True"
            rows.append(r)
    for i, key in enumerate(dict.fromkeys(r["arm"] for r in rows)):
        for r in rows:
            if r["arm"] == key:
                r["suite_index"] = i
    return rows


def load_suite(suite: str, results: str | Path = RESULTS) -> tuple[list[dict], list[dict]]:
    """The per-seed rows and the mean ± std summary of ``<results>/<suite>.csv``.

    Raises:
        FileNotFoundError: the suite has not been run (the message says how to run it).
    """
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; suites: {', '.join(SUITES)}")
    path = Path(results) / f"{suite}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `dtgkit ablate --suite {suite} --seeds 3 "
                                f"--results {results}`")
    rows = read_csv(path)
    return rows, summarise(rows, SUITE_METRICS[suite])


#: the budget line of ``<suite>.md`` (:func:`suite_markdown`): the preset and the ablate arguments
_BUDGET_LINE = re.compile(r"preset `([^`]*)` \+ `dtgkit ablate ([^`]*)`")


def committed_budget(suite: str, results: str | Path = RESULTS) -> list[str]:
    """The ``dtgkit ablate`` arguments that produced the committed results of ``suite``, read
    from the budget line of ``<results>/<suite>.md`` (so a re-run matches its budget).

    Raises:
        FileNotFoundError: the suite has no results; ValueError: the file has no budget line.
    """
    path = Path(results) / f"{suite}.md"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `dtgkit ablate --suite {suite} --seeds 3 "
                                f"--results {results}`")
    m = _BUDGET_LINE.search(path.read_text(encoding="utf-8"))
    if not m:
        raise ValueError(f"{path}: no budget line (\"preset `...` + `dtgkit ablate ...`\")")
    return shlex.split(m.group(2))


def chance_of(run_files: Path) -> float | None:
    """100 / classes, read from a published ``results.json`` of a suite (None if none)."""
    for path in sorted(run_files.glob("*/*/results.json")):
        try:
            n = json.loads(path.read_text()).get("num_classes")
        except (OSError, ValueError):
            continue
        if n:
            return 100.0 / int(n)
    return None


def efficiency_curves(rows: list[dict]) -> list[tuple[str, str, dict]]:
    """The data-efficiency curves: per study (fraction of videos, pre-training epochs), per
    method and metric (fine-tune and kNN acc@1), the x values with the mean and sample std over
    seeds (:func:`dtgkit.viz.results.plot_efficiency`'s panels)."""
    panels = []
    for study, col, xlabel in (("fraction", "fraction", "fraction of pre-training videos"),
                               ("epochs", "pretrain_epochs", "pre-training epochs")):
        curves = {}
        for method in ("dtg", "moco"):
            sub = [r for r in study_rows(rows, study) if r.get("method") == method and not r.get("skipped")]
            keys = sorted({_num(r[col]) for r in sub})
            for metric in ("acc1", "knn_acc1"):
                vals = [[r[metric] for r in sub if _num(r[col]) == k and not math.isnan(r[metric])] for k in keys]
                curves[(method, metric)] = (keys, [np.mean(v) if v else np.nan for v in vals],
                                            [np.std(v, ddof=1) if len(v) > 1 else 0.0 for v in vals])
        panels.append((study, xlabel, curves))
    return panels


def plot_suite(suite: str, results: str | Path = RESULTS, *, metrics=None):
    """A suite's results as a figure: grouped bars (mean, std over seeds as error bars) or, for
    ``efficiency``, fine-tune and kNN accuracy against the fraction of pre-training videos and
    against the pre-training epochs, DTG vs. MoCo-video (one line per method).

    Returns:
        matplotlib Figure.
    """
    rows, summary = load_suite(suite, results)
    per_arm = sorted({s["n"] for s in summary if s["n"]}) or [0]  # a table filled arm by arm may be uneven
    seeds = str(per_arm[0]) if len(per_arm) == 1 else f"{per_arm[0]}-{per_arm[-1]}"
    title = f"{SUITE_TITLES[suite]} ({seeds} seed{'s' if per_arm[-1] > 1 else ''})"
    chance = chance_of(Path(results) / "run_files" / suite)
    if suite != "efficiency":
        shown = metrics or [m for m in SUITE_METRICS[suite] if m != "acc5"]
        return plot_accuracy_bars(summary, shown, title=title, chance=chance)
    return plot_efficiency(efficiency_curves(rows), title=title, chance=chance)


# ================================================================================ claims
#: The paper's claims that the suites test: (suite, claim, the paper's numbers, arm A, arm B,
#: metric). A claim says A beats B on the metric.
CLAIMS = (
    ("table1", "DTG pre-training beats no pre-training", "Table 1: 58.8 vs. 40-50 acc@1 (UCF101)",
     "dtg-imagenet", "random-init", "acc1"),
    ("table1", "DTG beats DistInit-L1 (same ImageNet teacher)", "Sec. 3.3 / Table 1",
     "dtg-imagenet", "distinit-l1", "acc1"),
    ("table1", "DTG beats a teacher-free contrastive baseline (MoCo-video)",
     "Table 1: better than the video SSL methods", "dtg-imagenet", "moco", "acc1"),
    ("table2", "sequence inputs beat single images (seq/seq vs. img/img)", "Table 2: 58.76 vs. 57.73",
     "dtg-seq_seq_overlap", "dtg-img_img", "acc1"),
    ("table2", "overlapping sequences beat disjoint ones", "Table 2: 58.76 vs. 57.65",
     "dtg-seq_seq_overlap", "dtg-seq_seq_disjoint", "acc1"),
    ("table3", "offline weights beat uniform weights (all teachers)", "Table 3: 63.28 vs. 60.45",
     "all-offline", "all-uniform", "acc1"),
    ("table3", "offline weights beat online1", "Table 3: 63.28 vs. 61.59", "all-offline", "all-online1", "acc1"),
    ("table3", "online1 beats online2", "Table 3: 61.59 vs. 59.48", "all-online1", "all-online2", "acc1"),
    ("table3", "the still-action teachers beat the scene teacher", "Table 3: BU 62.01 vs. Places 49.96",
     "single-action_a", "single-scenes", "acc1"),
    ("table4", "supervised DTG beats supervised TSN (random init)", "Table 4: +3.6 acc@1 (UCF101)",
     "sup-dtg", "sup-tsn", "acc1"),
    ("table4", "supervised DTG beats supervised TSN (DTG-pre-trained init)", "Table 4: +3.6 acc@1",
     "ssl-sup-dtg", "ssl-sup-tsn", "acc1"),
    ("efficiency", "DTG on 25% of the videos matches MoCo-video on all of them",
     "abstract: fewer training videos", "dtg-frac25", "moco-frac100", "acc1"),
    ("efficiency", "DTG beats MoCo-video at 10% of the videos", "abstract: fewer training videos",
     "dtg-frac10", "moco-frac10", "acc1"),
)


def _t95(df: int) -> float:
    """Two-sided 95 % quantile of Student's t with ``df`` degrees of freedom (the seeds'
    confidence interval): 4.303 for 3 seeds."""
    from scipy.stats import t
    return float(t.ppf(0.975, df))


def paired_difference(rows: list[dict], arm_a: str, arm_b: str, metric: str = "acc1") -> dict:
    """``arm_a - arm_b`` on ``metric`` per seed (seeds where both ran): mean, sample std, how
    many seeds A won / lost / tied, the seeds' 95 % confidence interval of the mean difference
    (``ci95``: Student's t, half-width; NaN for one seed) and the test set's binomial standard
    error of the difference (``se_test``: ``sqrt(pA(1-pA)/N + pB(1-pB)/N)`` in points, with N
    the rows' ``test_n``; NaN when the rows do not record it). The seeds share one test set, so
    its sampling error does not shrink with more seeds; A and B are scored on the same videos,
    so the formula (independent samples) over-states it a little: a conservative bound."""
    def by_seed(arm):
        return {r["seed"]: float(r[metric]) for r in rows if r["arm"] == arm and not r.get("skipped")
                and not math.isnan(float(r[metric]))}

    a, b = by_seed(arm_a), by_seed(arm_b)
    both = sorted(set(a) & set(b))
    d = np.array([a[s] - b[s] for s in both], dtype=float)
    std = float(d.std(ddof=1)) if len(d) > 1 else 0.0
    ns = {int(n) for r in rows if r["arm"] in (arm_a, arm_b) and r["seed"] in both
          and not math.isnan(n := _num(r.get("test_n")))}
    pa = float(np.mean([a[s] for s in both])) if both else float("nan")
    pb = float(np.mean([b[s] for s in both])) if both else float("nan")
    se_test = float("nan")
    if len(ns) == 1 and both:
        n = ns.pop()
        se_test = 100 * math.sqrt(sum(p / 100 * (1 - p / 100) for p in (pa, pb)) / n)
    return {"n": len(d), "a": pa, "b": pb,
            "diff": float(d.mean()) if len(d) else float("nan"), "std": std,
            "ci95": _t95(len(d) - 1) * std / math.sqrt(len(d)) if len(d) > 1 else float("nan"),
            "se_test": se_test,
            "wins": int((d > 0).sum()), "losses": int((d < 0).sum()), "ties": int((d == 0).sum())}


#: the fewest seeds on which a claim can hold or be contradicted (:func:`verdict`)
MIN_SEEDS = 3


def verdict(diff: dict, *, at_least_equal: bool = False) -> str:
    """``holds`` when A beat B in every seed (>= :data:`MIN_SEEDS` seeds; ``at_least_equal``:
    ties count), ``contradicted`` when B beat A in every seed, else ``inconclusive`` (mixed
    seeds, fewer than :data:`MIN_SEEDS` seeds, or no data). A deliberately strict rule: with 3
    seeds and noisy small runs, a mean difference alone is not evidence. Where the test-set size is known
    (``se_test``), a difference must also exceed twice the test set's standard error, otherwise
    ``inconclusive (within the test set's error)`` (an ``at_least_equal`` claim needs no margin
    to hold).

    Why 3 seeds: with no effect at all, two seeds agree in sign half the time; on the long
    fine-tuning schedule (``notebooks/results/lab-long``, seed std 4-11 points) a claim "held"
    on two seeds, each won by ~10 points, and the third seed reversed it."""
    n = diff["n"]
    if n < MIN_SEEDS:
        if n == 0:
            return "not run"
        return "inconclusive (one seed)" if n == 1 else f"inconclusive ({n} seeds; {MIN_SEEDS} needed)"
    se = diff.get("se_test", float("nan"))
    margin = 2 * se if not math.isnan(se) else 0.0
    good = diff["wins"] + (diff["ties"] if at_least_equal else 0)
    if good == n:
        if at_least_equal or diff["diff"] > margin:
            return "holds"
        return "inconclusive (within the test set's error)"
    if diff["losses"] == n:
        if diff["diff"] < -margin:
            return "contradicted"
        return "inconclusive (within the test set's error)"
    return "inconclusive"


def check_claims(results: str | Path = RESULTS, suites=SUITES,
                 metrics: Sequence[str] = ("acc1",)) -> list[dict]:
    """Every claim of :data:`CLAIMS` whose suite has results, on each of ``metrics`` the suite
    measures (the claims are stated on fine-tuned acc@1; the ``lab`` study reads them on the
    frozen kNN and linear probe too), with its paired difference and :func:`verdict`."""
    out = []
    cache: dict[str, list[dict] | None] = {}
    for suite, claim, paper, a, b, claim_metric in CLAIMS:
        if suite not in suites:
            continue
        if suite not in cache:
            try:
                cache[suite] = load_suite(suite, results)[0]
            except FileNotFoundError:
                cache[suite] = None
        if cache[suite] is None:
            continue
        for metric in metrics:
            if metric != claim_metric and metric not in SUITE_METRICS[suite]:
                continue
            d = paired_difference(cache[suite], a, b, metric)
            out.append({"suite": suite, "claim": claim, "paper": paper, "arm_a": a, "arm_b": b,
                        "metric": metric, **d,
                        "verdict": verdict(d, at_least_equal="matches" in claim)})
    return out


def _pm(v: float) -> str:
    return "n/a" if math.isnan(v) else f"± {v:.2f}"


def claims_markdown(claims: list[dict]) -> str:
    """A markdown table of :func:`check_claims` (a metric column when more than acc@1 is read)."""
    multi = any(c["metric"] != "acc1" for c in claims)
    head = "| suite | claim (A beats B) | paper |" + (" metric |" if multi else "")
    lines = [head + " A | B | A - B (per-seed mean ± std) | 95 % CI (seeds) | 2 SE (test set) | "
             "seeds A won / lost / tied | verdict |",
             "|---|---|---|" + ("---|" if multi else "") + "---:|---:|---:|---:|---:|---:|---|"]
    for c in claims:
        lines.append(f"| {c['suite']} | {c['claim']} | {c['paper']} |"
                     + (f" {c['metric']} |" if multi else "")
                     + f" {c['a']:.2f} | {c['b']:.2f} | {c['diff']:+.2f} ± {c['std']:.2f} | "
                     f"{_pm(c.get('ci95', float('nan')))} | {_pm(2 * c.get('se_test', float('nan')))} | "
                     f"{c['wins']} / {c['losses']} / {c['ties']} | **{c['verdict']}** |")
    return "\n".join(lines)


def claims_text(claims: list[dict]) -> str:
    """:func:`check_claims` as plain lines, one per claim and metric (the claim cut to 44
    characters, A - B, twice the test set's standard error, seeds won, verdict): the compact
    form the labs print under a table."""
    return "\n".join(f"{c['claim'][:44]:44s} {c['metric']:11s} A-B {c['diff']:+6.2f}  "
                     f"2SE {2 * c['se_test']:4.2f}  won {c['wins']}/{c['n']}  -> {c['verdict']}"
                     for c in claims)


#: the metrics a claim can be read on (``dtgkit ablate --claims-metrics``)
CLAIM_METRICS = ("acc1", "knn_acc1", "linear_acc1")


def write_claims(results: str | Path = RESULTS, metrics: Sequence[str] = ("acc1",)) -> tuple[str, Path]:
    """Check every claim against the suites' result files and write ``results/claims.md``.

    Returns:
        (the claims table in markdown, the path written).

    Raises:
        ValueError: a metric not in :data:`CLAIM_METRICS`.
        FileNotFoundError: no suite has results under ``results``.
    """
    bad = [m for m in metrics if m not in CLAIM_METRICS]
    if bad:
        raise ValueError(f"claims metrics {bad} unknown; choose from {', '.join(CLAIM_METRICS)}")
    claims = check_claims(results, metrics=metrics)
    if not claims:
        raise FileNotFoundError(f"no suite results under {results}: run `dtgkit ablate --suite NAME`")
    md = claims_markdown(claims)
    path = Path(results) / "claims.md"
    names = ", ".join(METRIC_NAMES[m] for m in metrics)
    write_text_atomic(path, "# Which of the paper's claims hold on SynthActions\n\n" + md + "\n\n"
                      f"Verdict: *holds* = A beat B in every seed, on at least {MIN_SEEDS} seeds (and, "
                      "where the test-set size is recorded, by more than twice the test set's binomial "
                      "standard error); *contradicted* = B beat A in every seed (by that margin); "
                      f"*inconclusive* = mixed seeds, fewer than {MIN_SEEDS} seeds or a difference "
                      f"within the test set's error ({names}, test "
                      "split, %). 95 % CI (seeds): Student's t over the per-seed differences; 2 SE "
                      "(test set): the test videos' sampling error, which more seeds do not shrink "
                      "(n/a: the runs did not record the test-set size).\n")
    return md, path


# ================================================================================ reports
def write_suite_results(args: argparse.Namespace, result: dict[str, Any]) -> dict[str, Any]:
    """``<results>/<suite>.csv`` (one row per arm and seed) and ``<suite>.md`` (mean ± std, the
    budget, the wall time, the machine) of a :func:`~dtgkit.experiments.suites.run_suite`
    result, and the small files of the first seed's runs next to them.

    A suite can be filled in several calls (``--arms``, ``--seed0`` / ``--seeds``; e.g. one arm
    and seed per call, two calls side by side, or a long study spread over machines that do not
    keep their run folders): when ``<suite>.md`` already holds the *same budget* (its ablate
    arguments but ``--arms`` / ``--seed0`` / ``--seeds``), the rows of the other arms and seeds
    in ``<suite>.csv`` are kept and this call's rows replace their own (arm, seed); the budget
    line then names the arms and seeds of the merged table. A different budget replaces the
    files, as a fresh suite. The read-merge-write holds a lock file (``.<suite>.lock``) so
    calls side by side do not lose each other's rows.

    Args:
        args: the ``dtgkit ablate`` arguments (``suite``, ``results``, ``seed0`` ...).
        result: :func:`~dtgkit.experiments.suites.run_suite` output.

    Returns:
        dict(summary, csv, md, published (paths), kept (rows kept from earlier calls), replaced
        (the ablate arguments of a table of another budget that this one replaced, or None)).
    """
    metrics = SUITE_METRICS[args.suite]
    results = Path(args.results)
    every = [a.key for a in suite_arms(args.suite, result["teachers"], result["cfg"],
                                       imagenet_init=getattr(args, "imagenet_init", ""))]
    with exclusive_lock(results / f".{args.suite}.lock", what=f"{args.suite}'s results in {results}"):
        old, same = _held_budget(args)
        replaced = None if same else old
        rows, kept = _merge_rows(args, result["rows"], results, every, same=same)
        margs = _merged_args(args, rows, every)
        summary = summarise(rows, metrics)
        extra = ("pair_mode", "teachers", "weighting", "study", "fraction", "method", "pretrain_epochs", "reused",
                 "test_n", "pair_acc")
        csv_path = write_csv(rows, results / f"{args.suite}.csv", extra_columns=extra)
        md = suite_markdown(margs, result["cfg"], rows, summary, metrics, result["teachers"], result["resources"],
                            kept=kept)
        md_path = results / f"{args.suite}.md"
        write_text_atomic(md_path, md)
        published = publish_run_files(rows, results / "run_files" / args.suite, seed=margs.seed0)
    return {"summary": summary, "csv": csv_path, "md": str(md_path), "published": published, "kept": kept,
            "replaced": replaced}


def _budget_key(argv: Sequence[str]) -> list[str]:
    """Ablate arguments without the ones that only choose arms and seeds."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in ("--arms", "--seeds", "--seed0"):
            skip = True
        else:
            out.append(a)
    return out


def _held_budget(args: argparse.Namespace) -> tuple[list[str] | None, bool]:
    """The ablate arguments of the table ``<results>/<suite>.md`` holds (None: no table, or no
    budget line), and whether they are this call's budget (its rows are then merged)."""
    try:
        old = committed_budget(args.suite, args.results)
    except (FileNotFoundError, ValueError):
        return None, False
    return old, _budget_key(old) == _budget_key(ablate_argv(args))


def replaced_budget(args: argparse.Namespace) -> list[str] | None:
    """The ablate arguments of the table that this call's results would *replace*:
    ``<results>/<suite>.md`` holds another budget (see :func:`write_suite_results`); None when
    there is no table, or it has the same budget (its rows are merged), or no budget line.

    ``dtgkit ablate`` says so when it starts and when it writes, so a mistyped ``--set`` aimed at
    a folder of committed results is seen before the committed table is gone (git keeps it)."""
    old, same = _held_budget(args)
    return None if same else old


def _merge_rows(args: argparse.Namespace, new: list[dict], results: Path,
                every: Sequence[str], *, same: bool) -> tuple[list[dict], int]:
    """This call's rows plus those of earlier calls of the same budget (``same``: the table in
    ``results`` has this call's budget; see :func:`write_suite_results`), in suite order
    (``every``: the suite's arm keys); and how many were kept."""
    csv_path = results / f"{args.suite}.csv"
    old = read_csv(csv_path) if same and csv_path.is_file() else []
    ran = {(r["arm"], int(r["seed"])) for r in new}
    kept = [r for r in old if (r["arm"], int(r["seed"])) not in ran]
    for r in kept:
        r.pop("suite_index", None)  # read_csv's order index; the merged rows are sorted below
    order = {k: i for i, k in enumerate(every)}
    rows = sorted(kept + new, key=lambda r: (order.get(r["arm"], len(order)), int(r["seed"])))
    return rows, len(kept)


def _merged_args(args: argparse.Namespace, rows: list[dict], every: Sequence[str]) -> argparse.Namespace:
    """``args`` with ``--seed0`` / ``--seeds`` / ``--arms`` describing the merged rows."""
    margs = copy.copy(args)
    seeds = sorted({int(r["seed"]) for r in rows}) or [args.seed0]
    margs.seed0, margs.seeds = seeds[0], seeds[-1] - seeds[0] + 1
    present = [k for k in every if any(r["arm"] == k for r in rows)]
    margs.arms = "" if set(present) == set(every) else ",".join(present)
    return margs


def pair_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """Within-pair test accuracy of every arm's runs (the rows' ``pair_acc``,
    :func:`dtgkit.experiments.arms.pair_accuracies`) as a markdown table: one line per arm, one
    column per confusable pair, the seeds' values in seed order (``61 / 58 / 56``); "" when no
    row has it (not a SynthActions world with pairs, or rows written before the column)."""
    def accs(r: dict) -> dict:
        v = r.get("pair_acc") or {}
        return json.loads(v) if isinstance(v, str) else v

    have = [r for r in rows if accs(r)]
    if not have:
        return ""
    pairs = list(dict.fromkeys(p for r in have for p in accs(r)))
    lines = ["| method | seeds | " + " | ".join(pairs) + " |",
             "|---|---|" + "---|" * len(pairs)]
    for arm in dict.fromkeys(r["arm"] for r in have):
        runs = sorted((r for r in have if r["arm"] == arm), key=lambda r: int(r["seed"]))
        cells = [" / ".join(f"{_num(accs(r).get(p)):.0f}" for r in runs) for p in pairs]
        lines.append(f"| {runs[0].get('label') or arm} | {' / '.join(str(r['seed']) for r in runs)} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def suite_markdown(args: argparse.Namespace, cfg: Config, rows: list[dict], summary: list[dict],
                   metrics, teachers: dict[str, str], res: dict[str, Any], *, kept: int = 0) -> str:
    """The ``<suite>.md`` text: title, table (mean ± std), budget, cost, machine, notes.

    Args:
        args: the ``dtgkit ablate`` arguments (the command line that reproduces it).
        kept: rows kept from earlier calls of the same budget (:func:`write_suite_results`).
    """
    m = machine_info()
    seeds = sorted({r["seed"] for r in rows})
    run_s = sum(float(r.get(k) or 0) for r in rows for k in ("pretrain_s", "eval_s", "finetune_s"))
    run_cpu = sum(float(r.get(k) or 0) for r in rows for k in ("pretrain_cpu_s", "eval_cpu_s", "finetune_cpu_s"))
    reused = sum(1 for r in rows if r.get("reused"))
    lines = [f"# {SUITE_TITLES[args.suite]}", "",
             (f"SynthActions, {len(seeds)} seed(s) {seeds}; mean ± sample std over seeds, test split, percent. "
             "Per-seed rows: the CSV beside this file."), "",
             markdown_table(summary, metrics), ""]
    if args.suite == "efficiency":
        lines += efficiency_tables(rows), ""
    pairs = pair_markdown(rows)
    if pairs:
        lines += ["## Within-pair test accuracy", "",
                  ("Among the test videos of each confusable pair of the world, how often the true "
                   "class scores above the other one (percent, per seed; chance 50; the CSV's "
                   "`pair_acc`). The motion pairs are the calibration's premise 4."), "",
                  pairs, ""]
    lines += ["## Budget", "",
              (f"* preset `{cfg.preset}` + `dtgkit ablate {' '.join(ablate_argv(args))}`; student "
              f"`{cfg.model.student}`, T = {cfg.data.num_segments}, {cfg.data.size} px; pre-training "
              f"{cfg.pretrain.epochs} epochs, batch {cfg.pretrain.batch_size}, lr {cfg.pretrain.lr}; "
              f"fine-tuning {cfg.finetune.epochs} epochs, batch {cfg.finetune.batch_size}, lr "
              f"{cfg.finetune.lr}; queue K = {cfg.dtg.queue_size}; data `{cfg.data.root}`"),
              "* teachers: " + ", ".join(f"{r} = `{teachers[r]}`" for r in ROLE_ORDER),
              (f"* wall time of this call {res['wall_s'] / 60:.1f} min (CPU {res['cpu_s']:.0f} s); sum of "
              f"the runs' stage times {run_s / 60:.1f} min, CPU {run_cpu / 60:.1f} min, i.e. about "
              f"{run_cpu / max(1, m['cpus']) / 60:.1f} min on {m['cpus']} idle CPUs (estimate); {reused} of "
              f"{len(rows)} runs re-used from earlier calls; peak memory {res['peak_tree_pss_mb']:.0f} MB PSS (process tree)"
              + (f"; {kept} rows kept from earlier calls of the same budget (other arms / seeds)" if kept else "")),
              (f"* machine: {m['cpus']} CPUs, torch {m['torch']} ({m['torch_threads']} threads), CUDA "
              f"{'yes' if m['cuda'] else 'no'}; load average {res['loadavg_start'][0]:.1f} -> "
              f"{res['loadavg_end'][0]:.1f}"
              + (f" (above {m['cpus']}: the machine was shared)"
                 if max(res["loadavg_start"][0], res["loadavg_end"][0]) > m["cpus"] else "")), ""]
    notes = SUITE_NOTES.get(args.suite)
    if notes:
        lines += ["## Notes", "", notes, ""]
    return "\n".join(lines)


SUITE_NOTES = {
    "table1": "ImageNet-inflated init needs a 2D ImageNet state dict for the student "
              "(`--imagenet-init FILE`, e.g. torchvision's resnet18 weights); offline only "
              "EfficientNet-Lite0 ImageNet weights ship and they do not fit a ResNet, so without the "
              "file that row is skipped, not faked. The all-teacher DTG row's offline weights use the "
              "teacher-kNN proxy (see dtgkit.experiments).",
    "table2": "All rows use the TSN student and the ImageNet teacher; in the paper's img/seq row the "
              "student was a 3D-ResNet.",
    "table3": "Offline weights: softmax (percent, temperature 1) of the single-teacher rows' fine-tuned "
              "acc@1 of the same seed, the paper's procedure.",
    "table4": "Supervised runs use the fine-tuning schedule; alpha = 0.1, beta = 1.0 (Eq. 3). "
              "The SSL rows start from the student of the '(SSL) DTG pre-training' row of the same seed "
              "(the paper's SSL column, there UCF101 / Mini-Kinetics pre-training). The '(SSL) DTG "
              "pre-training' row is that student fine-tuned; it equals 'supervised TSN, DTG-pre-trained "
              "init' exactly, because joint training with `dtg.method=none` is the same computation as "
              "fine-tuning (same seed, init, data order): a consistency check of the two code paths.",
    "efficiency": "Fractions subsample the pre-training videos per class (seeded); fine-tuning always "
                  "uses the whole training split. Fewer videos at equal epochs also means fewer steps.",
}


def _num(v: Any) -> float:
    """A CSV cell or a row value as a float (NaN when empty)."""
    return float(v) if v not in ("", None) else float("nan")


def study_rows(rows: list[dict], study: str) -> list[dict]:
    """The efficiency rows of one study (``fraction`` or ``epochs``); the epochs study also
    takes the all-videos rows, which ran all the epochs."""
    return [r for r in rows if r.get("study") == study or (study == "epochs" and _num(r.get("fraction")) == 1.0)]


def efficiency_tables(rows: list[dict]) -> str:
    """Fine-tune acc@1 against the fraction of videos and against the epochs (markdown)."""
    out = []
    for study, col, name in (("fraction", "fraction", "fraction of pre-training videos"),
                             ("epochs", "pretrain_epochs", "pre-training epochs")):
        sub = study_rows(rows, study)
        if not sub:
            continue
        keys = sorted({float(r[col]) for r in sub})
        out += [f"Fine-tune acc@1 vs. {name}:", "", "| method | " + " | ".join(f"{k:g}" for k in keys) + " |",
                "|---|" + "---:|" * len(keys)]
        for method in ("dtg", "moco"):
            cells = []
            for k in keys:
                s = summarise([r for r in sub if r.get("method") == method and float(r[col]) == k], ("acc1",))
                cells.append(format_mean_std(s[0]["acc1_mean"], s[0]["acc1_std"], s[0]["n"]) if s else "-")
            out.append(f"| {method} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def ablate_argv(args: argparse.Namespace) -> list[str]:
    """The ``dtgkit ablate`` arguments that reproduce a run of a suite."""
    out = ["--suite", args.suite, "--seeds", str(args.seeds)]
    if getattr(args, "seed0", 0):
        out += ["--seed0", str(args.seed0)]
    if getattr(args, "arms", ""):
        out += ["--arms", args.arms]
    if args.quick:
        out.append("--quick")
    for flag in ("epochs", "finetune_epochs", "batch_size", "max_steps"):
        v = getattr(args, flag)
        if v:
            out += [f"--{flag.replace('_', '-')}", str(v)]
    if getattr(args, "preset", ""):
        out += ["--preset", args.preset]
    for o in args.overrides:
        out += ["--set", o]
    for t in getattr(args, "teacher", []):
        out += ["--teacher", t]
    return out


def demo_report(out: Path, cfg: Config, args: argparse.Namespace, rows: list[dict], summary: list[dict],
                teachers: dict[str, str], proxy: dict[str, float], res: dict[str, Any],
                synth: dict | None) -> str:
    """``out/report.md`` plus ``loss_curves_pretrain.png``, ``loss_curves_finetune.png``,
    ``accuracy.png`` and ``results.csv`` / ``resources.json`` beside it.

    Args:
        args: the ``dtgkit demo`` arguments (the command line that reproduces it).
    """
    figs = {}
    pre = {r["label"]: Path(r["run_dir"]) / "pretrain" for r in rows
           if r.get("run_dir") and (Path(r["run_dir"]) / "pretrain").is_dir()}
    ft = {r["label"]: Path(r["run_dir"]) / "finetune" for r in rows
          if r.get("run_dir") and (Path(r["run_dir"]) / "finetune").is_dir()}
    for name, fig in (("loss_curves_pretrain.png", plot_loss_curves(pre, title="pre-training loss")),
                      ("loss_curves_finetune.png", plot_loss_curves(ft, title="fine-tuning loss (CE)")),
                      ("accuracy.png", plot_accuracy_bars(summary, title=f"SynthActions, seed {args.seed}"))):
        fig.savefig(out / name, dpi=DPI)
        figs[name] = name
    write_csv(rows, out / "results.csv")
    write_text_atomic(out / "resources.json", json.dumps(res, indent=1) + "\n")
    m = machine_info()
    reused = [r["label"] for r in rows if r.get("reused")]
    dtg_row = next((r for r in rows if r["arm"] == "dtg-all-offline"), {})
    budget = (f"Seed **{args.seed}**. Every method has the same budget: preset `{cfg.preset}`, student "
              f"`{cfg.model.student}`, T = {cfg.data.num_segments} segments at {cfg.data.size} px, "
              f"pre-training {cfg.pretrain.epochs} epochs (batch {cfg.pretrain.batch_size}, lr "
              f"{cfg.pretrain.lr}), fine-tuning {cfg.finetune.epochs} epochs (batch "
              f"{cfg.finetune.batch_size}, lr {cfg.finetune.lr}), queue K = {cfg.dtg.queue_size}, "
              f"tau = {cfg.dtg.tau}. DistInit-L1 fits the same teachers as DTG (uniform weights).")
    test_n = tested_videos(rows)
    noisy = ("The numbers are whatever these runs gave; with one seed and a few epochs they are noisy "
             + (f"(± is each accuracy's binomial standard error on the {test_n} test videos, the "
                "test set's own error; the seeds' spread comes on top of it, see "
                if test_n else "(see ")
             + "`dtgkit ablate --suite table1 --seeds 3` for mean ± std over seeds).")
    evals = ("kNN: cosine, k = 200, tau = 0.1 on frozen student features (training split as the bank); "
             "linear probe: logistic regression on frozen, L2-normalised features; fine-tune: student + "
             "classifier trained on the training split's labels, video-level test metrics.")
    lines = ["# dtgkit demo: DTG-Net vs. baselines on SynthActions", "", budget, noisy, "",
             "## Results (test split; percent)", "", markdown_table(summary, test_n=test_n), "", evals, "",
             "## Data", ""]
    if synth:
        lines.append(f"SynthActions at `{cfg.data.root}` ({synth['train']} training / {synth['test']} "
                     f"test videos, {len(synth['classes'])} classes, params `{json.dumps(DEMO_SYNTH)}`).")
    else:
        lines.append(f"`{cfg.data.dataset}` at `{cfg.data.root}`.")
    lines += ["", "## Teachers", "", "| role | paper's task | spec | offline proxy acc (%) | weight |",
              "|---|---|---|---:|---:|"]
    weights = dtg_row.get("offline_weights") or []
    for i, role in enumerate(ROLE_ORDER):
        spec = teachers[role]
        acc = proxy.get(spec)
        w = weights[i] if i < len(weights) else None
        lines.append(f"| {role} | {TEACHER_ROLES[role]['paper']} | `{spec}` | "
                     f"{'-' if acc is None else f'{acc:.2f}'} | {'-' if w is None else f'{w:.3g}'} |")
    if args.offline_source == "teacher-knn":
        offline_note = (
            "**Offline weights use a proxy, not the paper's procedure.** The paper's offline weights "
            "are a softmax over the top-1 accuracies of single-teacher DTG runs (Sec. 4.3.3). Within "
            "the demo budget each teacher's accuracy is instead its own frozen-feature kNN accuracy on "
            "the *training* split (leave-one-group-out, cosine, k = 200; no test label is read), "
            "softmaxed in percent with temperature 1 as in the paper. Run "
            "`dtgkit demo --offline-source single-runs` for the paper's procedure (four more "
            "pre-training runs).")
    else:
        offline_note = ("Offline weights: softmax (percent, temperature 1) of the fine-tuned acc@1 of "
                        "the single-teacher DTG runs above (the paper's procedure, Sec. 4.3.3).")
    lines += ["", offline_note]
    wall = (f"* wall time **{res['wall_s'] / 60:.1f} min** ({res['wall_s']:.0f} s); CPU time "
            f"{res['cpu_s']:.0f} s (user + system, process and finished children), i.e. about "
            f"{res['cpu_s'] / max(1, m['cpus']) / 60:.1f} min of wall time if the {m['cpus']} CPUs "
            f"had been ours alone (an estimate, not a measurement)")
    memory = (f"* peak memory: **{res['peak_tree_pss_mb']:.0f} MB PSS** summed over the process tree "
              f"(sampled every 0.5 s; the RSS sum, {res['peak_tree_rss_mb']:.0f} MB, counts pages "
              f"shared by forked workers once per process); getrusage peak RSS: main process "
              f"{res['peak_rss_self_mb']:.0f} MB, largest child {res['peak_rss_children_mb']:.0f} MB")
    machine = (f"* machine: {m['cpus']} CPUs, torch {m['torch']} with {m['torch_threads']} threads, "
               f"CUDA {'yes' if m['cuda'] else 'no'}, {m['platform']}; load average "
               f"{res['loadavg_start'][0]:.1f} at the start, {res['loadavg_end'][0]:.1f} at the end "
               f"(a load above the CPU count means other work shared the machine and the wall times "
               f"are longer than on an idle one)")
    lines += ["", "## Cost", "", wall, memory, machine]
    if reused:
        lines.append(f"* re-used finished runs (their time is not in the wall time above): "
                     f"{', '.join(reused)}")
    stages = ("Per-stage wall / CPU seconds (CPU: user + system of the process and its finished "
              "children; from this call, or from the call that produced a re-used run):")
    lines += ["", stages, "", "| method | pre-train s | frozen eval s | fine-tune s |",
              "|---|---:|---:|---:|"]
    for r in rows:
        cells = []
        for k in ("pretrain_s", "eval_s", "finetune_s"):
            w_s, c_s = r.get(k), r.get(k.replace("_s", "_cpu_s"))
            ok = isinstance(w_s, (int, float)) and isinstance(c_s, (int, float))
            cells.append(f"{w_s:.0f} / {c_s:.0f}" if ok else str(w_s if w_s is not None else "-"))
        lines.append(f"| {r['label']} | " + " | ".join(cells) + " |")
    curves = ("Pre-training losses are each method's own objective (InfoNCE for DTG and MoCo, L1 for "
              "DistInit), divided by the first logged value.")
    folders = ", ".join(f"`{r['run_dir']}`" for r in rows if r.get("run_dir"))
    lines += ["", "## Figures", "", "![pre-training loss](loss_curves_pretrain.png)", "", curves, "",
              "![fine-tuning loss](loss_curves_finetune.png)", "", "![accuracy](accuracy.png)", "",
              "## Reproduce", "", "```", "dtgkit " + " ".join(demo_argv(args)), "```", "",
              f"Run folders (configs, `metrics.jsonl`, checkpoints, `results.json`): {folders}.", ""]
    path = out / "report.md"
    write_text_atomic(path, "\n".join(lines))
    return str(path)


def demo_argv(args: argparse.Namespace) -> list[str]:
    """The ``dtgkit demo`` arguments that reproduce a demo run."""
    out = ["demo", "--out", str(args.out), "--seed", str(args.seed)]
    if args.quick:
        out.append("--quick")
    for flag in ("epochs", "finetune_epochs", "batch_size", "max_steps", "data_root"):
        v = getattr(args, flag)
        if v:
            out += [f"--{flag.replace('_', '-')}", str(v)]
    if args.teacher_size != -1:
        out += ["--teacher-size", str(args.teacher_size)]
    if args.offline_source != "teacher-knn":
        out += ["--offline-source", args.offline_source]
    for o in args.overrides:
        out += ["--set", o]
    return out

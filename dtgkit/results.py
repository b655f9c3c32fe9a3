"""Result rows -> tables and charts: mean ± std over seeds, markdown, CSV, bar charts, curves.

The rows are those of :func:`dtgkit.experiments.run_arm` (one per arm and seed, metrics in
percent); ``dtgkit demo`` and ``dtgkit ablate`` write them with :func:`write_csv` and
summarise them with :func:`summarise` / :func:`markdown_table`, and the notebooks read the
committed ones back with :func:`read_csv`.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CSV_COLUMNS",
    "METRICS",
    "METRIC_NAMES",
    "format_mean_std",
    "markdown_table",
    "plot_accuracy_bars",
    "plot_loss_curves",
    "read_csv",
    "summarise",
    "write_csv",
]

#: metric columns of a result row (percent), in table order
METRICS = ("knn_acc1", "linear_acc1", "acc1", "acc5", "mAP")
METRIC_NAMES = {"knn_acc1": "kNN acc@1", "linear_acc1": "linear acc@1", "acc1": "fine-tune acc@1",
                "acc5": "fine-tune acc@5", "mAP": "fine-tune mAP", "mean_class_acc": "mean class acc"}


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


def format_mean_std(mean: float, std: float, n: int) -> str:
    """``61.25 ± 1.30`` (``61.25`` for one seed, ``-`` when not measured)."""
    if mean is None or math.isnan(mean):
        return "-"
    return f"{mean:.2f}" if n <= 1 else f"{mean:.2f} ± {std:.2f}"


def markdown_table(summary: Sequence[dict[str, Any]], metrics: Sequence[str] = METRICS,
                   first: str = "method") -> str:
    """A GitHub markdown table of :func:`summarise` output (skipped arms show their reason)."""
    head = [first, *[METRIC_NAMES.get(m, m) for m in metrics], "seeds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for s in summary:
        if s["n"] == 0 and s.get("skipped"):
            cells = [s["label"], f"skipped: {s['skipped']}"] + [""] * (len(metrics) - 1) + ["0"]
        else:
            cells = [s["label"], *[format_mean_std(s[f"{m}_mean"], s[f"{m}_std"], s["n"]) for m in metrics],
                     str(s["n"])]
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
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    os.replace(tmp, path)
    return str(path)


def read_csv(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of :func:`write_csv` (metrics as floats, NaN when empty; seed as int)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"results file not found: {path}")
    rows = []
    with open(path, encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            for m in (*METRICS, "mean_class_acc"):
                r[m] = float(r[m]) if r.get(m) else float("nan")
            r["seed"] = int(r["seed"]) if r.get("seed") else 0
            rows.append(r)
    for i, key in enumerate(dict.fromkeys(r["arm"] for r in rows)):
        for r in rows:
            if r["arm"] == key:
                r["suite_index"] = i
    return rows


# ================================================================================ figures
def plot_loss_curves(runs: dict[str, str | os.PathLike], *, title: str = "") -> Any:
    """Training-loss curves from each run's ``metrics.jsonl``, one line per run.

    Args:
        runs: label -> run folder (``.../pretrain`` or ``.../finetune``). Losses of different
            objectives differ in scale, so each curve is divided by its first logged value
            when the runs' stages are pre-training (their y-axis says so).
        title: axes title.

    Returns:
        matplotlib Figure.
    """
    from dtgkit.train.engine import read_metrics
    from dtgkit.viz.plots import new_figure

    fig = new_figure(figsize=(6.0, 3.6))
    ax = fig.add_subplot(1, 1, 1)
    relative = False
    for label, run_dir in runs.items():
        rows = read_metrics(run_dir, "train")
        if not rows:
            continue
        steps = [r["step"] for r in rows]
        loss = np.array([r["loss"] for r in rows], dtype=float)
        if rows[0].get("stage") == "pretrain" and len(runs) > 1:
            loss, relative = loss / max(abs(loss[0]), 1e-12), True
        ax.plot(steps, loss, label=label, lw=1.5)
    ax.set_xlabel("step")
    ax.set_ylabel("loss / first logged loss" if relative else "loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_accuracy_bars(summary: Sequence[dict[str, Any]],
                       metrics: Sequence[str] = ("knn_acc1", "linear_acc1", "acc1"), *,
                       title: str = "", chance: float | None = None) -> Any:
    """Grouped bars: one group per arm, one bar per metric (mean, with the std as error bar).

    Args:
        summary: :func:`summarise` output.
        chance: accuracy of guessing (100 / classes), drawn as a dashed line when given.

    Returns:
        matplotlib Figure.
    """
    from dtgkit.viz.plots import new_figure

    shown = [s for s in summary if s["n"] > 0]
    fig = new_figure(figsize=(max(5.0, 1.3 * len(shown) + 2), 3.8))
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / max(len(metrics), 1)
    x = np.arange(len(shown))
    for j, m in enumerate(metrics):
        means = np.array([s[f"{m}_mean"] for s in shown], dtype=float)
        stds = np.array([s[f"{m}_std"] for s in shown], dtype=float)
        bars = ax.bar(x + (j - (len(metrics) - 1) / 2) * width, np.nan_to_num(means), width,
                      yerr=np.nan_to_num(stds) if any(s["n"] > 1 for s in shown) else None,
                      label=METRIC_NAMES.get(m, m), capsize=2)
        for b, v in zip(bars, means):
            if not np.isnan(v):
                ax.annotate(f"{v:.1f}", (b.get_x() + b.get_width() / 2, v), ha="center",
                            va="bottom", fontsize=7)
    ax.set_xticks(x, [s["label"] for s in shown], rotation=15, ha="right", fontsize=8)
    ax.set_ylabel("accuracy (%)")
    top = max([s[f"{m}_mean"] + (s[f"{m}_std"] or 0) for s in shown for m in metrics
               if not np.isnan(s[f"{m}_mean"])] + [chance or 0, 1.0])
    ax.set_ylim(0, min(105.0, 1.5 * top + 2))  # headroom for the one-row legend
    if chance:
        ax.axhline(chance, color="0.3", ls="--", lw=1, label=f"chance ({chance:.0f}%)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", ncol=len(metrics) + 1)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig

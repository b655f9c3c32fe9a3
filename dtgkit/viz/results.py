"""Pictures of experiment results: training curves from ``metrics.jsonl``, accuracy bars of a
suite's summary, the data-efficiency curves, and any logged metric of several runs."""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from dtgkit.metrics import METRIC_NAMES
from dtgkit.train.engine import read_metrics
from dtgkit.viz.plots import new_figure

__all__ = ["plot_accuracy_bars", "plot_efficiency", "plot_loss_curves", "plot_run_metrics"]


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
        summary: :func:`dtgkit.experiments.report.summarise` output.
        chance: accuracy of guessing (100 / classes), drawn as a dashed line when given.

    Returns:
        matplotlib Figure.
    """
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


def plot_efficiency(panels: Sequence[tuple[str, str, Mapping[tuple[str, str], tuple]]], *,
                    title: str = "", chance: float | None = None) -> Figure:
    """Accuracy against the amount of pre-training, one panel per study, one line per method
    and metric (the data-efficiency suite).

    Args:
        panels: ``(study, x label, {(method, metric): (xs, means, stds)})`` per panel
            (:func:`dtgkit.experiments.report.efficiency_curves`); a ``"fraction"`` study gets
            a log x axis with percent ticks.
        title: figure title.
        chance: accuracy of guessing in %, a dashed line.

    Returns:
        matplotlib Figure.
    """
    fig = new_figure(figsize=(10.0, 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    colors = {"dtg": "tab:blue", "moco": "tab:orange"}
    styles = {"acc1": "-", "knn_acc1": ":"}
    for ax, (study, xlabel, curves) in zip(axes, panels):
        xticks: set[float] = set()
        for (method, metric), (xs, mean, std) in curves.items():
            ax.errorbar(xs, mean, yerr=std, ls=styles.get(metric, "--"), marker="o",
                        color=colors.get(method), capsize=3,
                        label=f"{'DTG' if method == 'dtg' else 'MoCo-video'} {METRIC_NAMES[metric]}")
            xticks |= set(xs)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("accuracy (%)")
        if chance:
            ax.axhline(chance, color="0.3", ls="--", lw=1, label=f"chance ({chance:.0f}%)")
        ax.grid(alpha=0.3)
        if study == "fraction":
            ax.set_xscale("log")
            ax.set_xticks([0.1, 0.25, 0.5, 1.0], ["10%", "25%", "50%", "100%"])
        else:
            ticks = sorted(xticks)
            ax.set_xticks(ticks, [f"{e:g}" for e in ticks])
    axes[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return fig


def plot_run_metrics(runs: Mapping[str, str | os.PathLike], keys: Sequence[str], *,
                     titles: Mapping[str, str] | None = None) -> Figure:
    """Logged training metrics of several runs, one panel per key, one line per run that logs it.

    Args:
        runs: label -> run folder (its ``metrics.jsonl``, ``kind == "train"`` rows).
        keys: metric keys (``ce``, ``contrast``, ``acc``, ``cls_acc`` ...).
        titles: key -> panel title (default the key).

    Returns:
        matplotlib Figure.
    """
    fig = new_figure(figsize=(3.3 * len(keys), 3.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(keys)))
    rows = {label: read_metrics(run, "train") for label, run in runs.items()}
    for ax, key in zip(axes, keys):
        for label, rs in rows.items():
            points = [(r["step"], r[key]) for r in rs if r.get(key) is not None]
            if points:
                ax.plot(*zip(*points), marker=".", label=label)
        ax.set_title((titles or {}).get(key, key), fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    return fig

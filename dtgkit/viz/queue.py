"""Pictures of a queue-dynamics run (:mod:`dtgkit.studies.queue_dynamics`): loss and
similarities over the steps, the ring of queue slots, similarity histograms, a (K, tau) sweep.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from dtgkit.studies.queue_dynamics import QueueRun
from dtgkit.viz.plots import GUIDANCE_COLOR, new_figure

__all__ = ["plot_queue_run", "plot_queue_sweep", "plot_similarity_histograms"]


def plot_queue_run(run: QueueRun, *, fig: Figure | None = None) -> Figure:
    """Six panels of one run: loss / instance accuracy; positive vs negative similarity; queue
    fill, mean age and pointer; the ring of K slots at the last snapshot (age per slot, the
    pointer marked); positive vs negative similarity histograms at the first and last
    snapshot; the share of anchors meeting their own video among the negatives.

    Args:
        run: from :func:`~dtgkit.studies.queue_dynamics.queue_run`.
        fig: a figure to draw into (cleared); default a new one.

    Returns:
        The figure.
    """
    if fig is None:
        fig = new_figure(figsize=(12.0, 6.0), layout="constrained")
    else:
        fig.clear()
    ax = fig.subplots(2, 3)
    steps = run.series("step")
    p = run.params
    ax[0, 0].plot(steps, run.series("loss"), color="k", label="loss")
    ax2 = ax[0, 0].twinx()
    ax2.plot(steps, run.series("acc"), color="tab:purple", label="instance acc")
    ax2.set_ylim(-0.02, 1.02)
    ax[0, 0].set_title("loss (black), instance acc (purple)", fontsize=9)
    ax[0, 1].plot(steps, run.series("pos_sim"), color=GUIDANCE_COLOR, label="a.g+ (positive)")
    ax[0, 1].plot(steps, run.series("neg_sim"), color="tab:gray", label="a.g- (mean negative)")
    ax[0, 1].plot(steps, run.series("hard_neg_sim"), color="tab:red", ls="--",
                  label="hardest negative")
    ax[0, 1].set_title("similarities the loss sees", fontsize=9)
    ax[0, 1].legend(fontsize=7)
    ax[0, 2].plot(steps, run.series("queue_fill"), label="fill level")
    ax[0, 2].plot(steps, run.series("ptr") / p["K"], ls=":", label="ptr / K")
    ax3 = ax[0, 2].twinx()
    ax3.plot(steps, run.series("queue_age"), color="tab:brown", label="mean age")
    ax3.set_ylabel("mean age (steps)", fontsize=8)
    ax[0, 2].set_title(f"queue K={p['K']}: fill, pointer, age (brown)", fontsize=9)
    ax[0, 2].legend(fontsize=7, loc="center right")
    snap = run.snapshots[-1]
    ages = np.where(snap["slot_steps"] >= 0, snap["step"] - snap["slot_steps"], np.nan)
    ax[1, 0].bar(np.arange(len(ages)), np.nan_to_num(ages, nan=0.0), color=GUIDANCE_COLOR)
    ax[1, 0].axvline(snap["ptr"] - 0.5, color="red", lw=1.5, label="ptr (next write)")
    ax[1, 0].set_title(f"age of each slot at step {snap['step']}", fontsize=9)
    ax[1, 0].set_xlabel("slot")
    ax[1, 0].legend(fontsize=7)
    plot_similarity_histograms(run, [run.snapshots[0]["step"], snap["step"]], ax=ax[1, 1])
    ax[1, 2].plot(steps, run.series("own_in_queue"), color="tab:olive")
    ax[1, 2].set_ylim(-0.02, 1.02)
    ax[1, 2].set_title("anchors whose own video is in the queue", fontsize=9)
    for a in ax.flat:
        a.tick_params(labelsize=7)
    for a in ax[0]:
        a.set_xlabel("step", fontsize=8)
    ax[1, 2].set_xlabel("step", fontsize=8)
    fig.suptitle(f"DTG queue run: K={p['K']}, tau={p['tau']}, batch {p['batch_size']}, "
                 f"{p['mode']}; final own-retrieval {run.final['own_retrieval']:.2f}",
                 fontsize=10)
    return fig


def plot_similarity_histograms(run: QueueRun, steps: Sequence[int] | None = None, *, ax=None,
                               bins: int = 30) -> Figure:
    """Histograms of positive (a.g+) and negative (a.g-) similarities at snapshot steps.

    Args:
        run: from :func:`~dtgkit.studies.queue_dynamics.queue_run`.
        steps: snapshot steps to draw (nearest recorded; default first, middle and last).
        ax: an axis to draw into (one overlay); default a new figure with one axis per step.
        bins: histogram bins over [-1, 1].

    Returns:
        The figure holding the axes.
    """
    snaps = run.snapshots
    recorded = np.array([s["step"] for s in snaps])
    if steps is None:
        picks = sorted({0, len(snaps) // 2, len(snaps) - 1})
    else:
        picks = [int(np.argmin(np.abs(recorded - s))) for s in steps]
    edges = np.linspace(-1, 1, bins + 1)
    if ax is None:
        fig = new_figure(figsize=(3.2 * len(picks), 2.6), layout="constrained")
        axes = fig.subplots(1, len(picks), squeeze=False)[0]
    else:
        fig, axes = ax.figure, [ax] * len(picks)
    for j, (a, i) in enumerate(zip(axes, picks)):
        s = snaps[i]
        alpha = 0.35 + 0.5 * (j == len(picks) - 1) if ax is not None else 0.6
        tag = f" step {s['step']}"
        if len(s["neg"]):
            a.hist(s["neg"], edges, density=True, alpha=alpha, color="tab:gray",
                   label="negatives" + tag, histtype="stepfilled" if ax is None else "step",
                   lw=1.5)
        a.hist(s["pos"], edges, density=True, alpha=alpha, color=GUIDANCE_COLOR,
               label="positives" + tag, histtype="stepfilled" if ax is None else "step", lw=1.5)
        if ax is None:
            a.set_title(f"step {s['step']} ({s['filled']} real negatives)", fontsize=9)
        a.set_xlabel("cosine similarity a.g", fontsize=8)
        a.legend(fontsize=6)
    if ax is not None:
        axes[0].set_title("positive vs negative similarity", fontsize=9)
    return fig


def plot_queue_sweep(rows: Sequence[dict], keys: Sequence[str] = ("final_acc", "own_retrieval",
                                                                 "knn_test_acc")) -> Figure:
    """Final scores of :func:`~dtgkit.studies.queue_dynamics.queue_sweep` against K, one line per tau.

    Args:
        rows: from :func:`~dtgkit.studies.queue_dynamics.queue_sweep`.
        keys: which scores (one panel each).

    Returns:
        The figure.
    """
    keys = [k for k in keys if all(k in r for r in rows)]
    fig = new_figure(figsize=(3.4 * len(keys), 2.8), layout="constrained")
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    taus = sorted({r["tau"] for r in rows})
    for ax, key in zip(axes, keys):
        for tau in taus:
            rs = sorted((r for r in rows if r["tau"] == tau), key=lambda r: r["K"])
            ax.plot([r["K"] for r in rs], [r[key] for r in rs], marker="o", label=f"tau={tau}")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("queue size K")
        ax.set_title(key, fontsize=9)
    axes[0].legend(fontsize=7)
    return fig

"""Pictures of what each teacher sees (:mod:`dtgkit.studies.teacher_probes`): its own classifier
on photos, retrieval, class-by-class similarity, frozen-feature probes with weightings, and
whether it separates the confusable pairs.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from dtgkit.models.teachers import short_name
from dtgkit.studies.teacher_probes import pair_cells, weight_of
from dtgkit.viz.plots import GUIDANCE_COLOR, new_figure

__all__ = ["PAIR_COLORS", "plot_class_similarity", "plot_neighbours", "plot_pair_separation",
           "plot_probes", "plot_top_k_predictions"]

#: outline colours of the confusable pairs in the figures
PAIR_COLORS = {"motion": "tab:red", "appearance": "tab:blue", "scene": "tab:green"}


def plot_top_k_predictions(images: Mapping[str, np.ndarray],
                           predictions: Sequence[Sequence[tuple[str, float]]], *,
                           width: float = 2.6) -> Figure:
    """Photos above bar charts of their top-k predicted classes.

    Args:
        images: name -> uint8 H x W x 3 (titles are the names).
        predictions: :func:`~dtgkit.studies.teacher_probes.top_k_predictions` output, same order.
        width: inches per image column.

    Returns:
        The figure (not shown).
    """
    n = len(images)
    fig = new_figure(figsize=(width * n, 2 * width), layout="constrained")
    axes = np.asarray(fig.subplots(2, n, squeeze=False, height_ratios=[1.15, 1.0]))
    for j, ((name, img), preds) in enumerate(zip(images.items(), predictions)):
        axes[0, j].imshow(img)
        axes[0, j].set_title(name, fontsize=9)
        axes[0, j].axis("off")
        labels = [c if len(c) <= 22 else c[:21] + "…" for c, _ in preds]
        probs = [p for _, p in preds]
        y = np.arange(len(preds))
        axes[1, j].barh(y, probs, color=GUIDANCE_COLOR)
        axes[1, j].set_yticks(y, labels, fontsize=8)
        axes[1, j].invert_yaxis()
        axes[1, j].set_xlim(0, 1)
        axes[1, j].tick_params(axis="x", labelsize=7)
        axes[1, j].set_xlabel("probability", fontsize=8)
    return fig


def plot_neighbours(thumbs: np.ndarray, labels, class_names: Sequence[str],
                    neighbours: Mapping[str, tuple[np.ndarray, np.ndarray]], query: int, *,
                    cell: float = 1.05) -> Figure:
    """One query video and its nearest neighbours under each teacher (one row per teacher).

    Args:
        thumbs: V x s x s x 3 uint8 thumbnails (:func:`~dtgkit.studies.teacher_probes.video_thumbnails`).
        labels: V labels; class_names: their names.
        neighbours: teacher -> (indices, sims) of this query, each ``k`` long (a row of
            :func:`~dtgkit.studies.teacher_probes.nearest_neighbours`'s output).
        query: the query's video index.
        cell: inches per thumbnail.

    Returns:
        The figure (not shown): titles give the class and cosine similarity, green if the
        neighbour has the query's class, red otherwise.
    """
    labels = np.asarray(labels)
    k = max((len(np.ravel(i)) for i, _ in neighbours.values()), default=0)
    rows = len(neighbours)
    fig = new_figure(figsize=(cell * (k + 1) + 1.4, cell * 1.25 * rows + 0.3))
    axes = np.asarray(fig.subplots(rows, k + 1, squeeze=False))
    fig.subplots_adjust(left=0.13, right=0.99, top=0.9, bottom=0.02, wspace=0.08, hspace=0.45)
    q_label = int(labels[query])
    for r, (name, (idx, sims)) in enumerate(neighbours.items()):
        axes[r, 0].imshow(thumbs[query])
        axes[r, 0].set_title(f"query\n{class_names[q_label]}", fontsize=7, fontweight="bold")
        axes[r, 0].set_ylabel(short_name(name, 16), fontsize=8, rotation=0, ha="right",
                              va="center")
        for c, (j, s) in enumerate(zip(np.ravel(idx), np.ravel(sims)), start=1):
            axes[r, c].imshow(thumbs[j])
            same = int(labels[j]) == q_label
            axes[r, c].set_title(f"{class_names[int(labels[j])]}\n{s:.3f}", fontsize=7,
                                 color="tab:green" if same else "tab:red")
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
    return fig


def plot_class_similarity(mats: Mapping[str, np.ndarray], class_names: Sequence[str],
                          pairs: Sequence = (), *, title: str = "mean cosine",
                          cell: float = 3.3) -> Figure:
    """One class-by-class similarity matrix per teacher, confusable pairs outlined.

    Args:
        mats: teacher -> C x C (:func:`~dtgkit.studies.teacher_probes.class_similarity`).
        class_names: the C names.
        pairs: :class:`~dtgkit.data.synth.ConfusablePair` s to outline (both cells), red for
            motion-only, blue for appearance-only, green for scene pairs (:data:`PAIR_COLORS`).
        title: what the values are (panel titles).
        cell: inches per panel.

    Returns:
        The figure (not shown); each panel has its own colour scale (the teachers' cosines live
        on different ranges).
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle

    n = len(mats)
    fig = new_figure(figsize=(cell * n + 0.4, cell + 0.9), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n))
    cells = pair_cells(class_names, pairs)
    ticks = np.arange(len(class_names))
    for ax, (name, m) in zip(axes, mats.items()):
        im = ax.imshow(m, cmap="viridis", interpolation="nearest")
        fig.colorbar(im, ax=ax, shrink=0.75, pad=0.02).ax.tick_params(labelsize=7)
        for a, b, kind in cells:
            for r, c in ((a, b), (b, a)):
                ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, lw=1.8,
                                       edgecolor=PAIR_COLORS.get(kind, "k")))
        ax.set_xticks(ticks, class_names, rotation=90, fontsize=7)
        ax.set_yticks(ticks, class_names if ax is axes[0] else [], fontsize=7)
        ax.set_title(f"{short_name(name, 22)}: {title}", fontsize=9)
    if cells:
        kinds = sorted({kind for _, _, kind in cells})
        fig.legend([Line2D([], [], color=PAIR_COLORS.get(k, "k"), lw=2) for k in kinds],
                   [f"{k}-only pair" for k in kinds], loc="outside lower center",
                   ncols=len(kinds), fontsize=8, frameon=False)
    return fig


def plot_probes(probes: Mapping[str, Mapping], weights: Mapping[str, Sequence[float]]
                | None = None, *, chance: float | None = None,
                figsize: tuple[float, float] = (10.0, 3.0)) -> Figure:
    """Each teacher's kNN and linear-probe accuracy and, optionally, weightings from them.

    Args:
        probes: teacher -> :func:`~dtgkit.studies.teacher_probes.teacher_probes` dict.
        weights: weighting name -> weights, as for :func:`~dtgkit.studies.teacher_probes.probe_table` (e.g. uniform, offline).
        chance: chance accuracy in % (a dashed line), e.g. ``100 / num_classes``.
        figsize: inches.

    Returns:
        The figure (not shown).
    """
    names = [short_name(n, 22) for n in probes]
    y = np.arange(len(names))
    fig = new_figure(figsize=figsize, layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, 2 if weights else 1))
    for j, (key, label, color) in enumerate((("knn_acc", "kNN", GUIDANCE_COLOR),
                                             ("linear_acc", "linear probe", "tab:blue"))):
        vals = [float(p[key]) for p in probes.values()]
        pos = y - 0.2 + 0.4 * j
        axes[0].barh(pos, vals, 0.4, color=color, label=label)
        for yi, v in zip(pos, vals):
            axes[0].text(v, yi, f" {v:.0f}", va="center", fontsize=7)
    if chance is not None:
        axes[0].axvline(chance, color="k", ls="--", lw=0.8, label="chance")
    axes[0].set_yticks(y, names, fontsize=8)
    axes[0].invert_yaxis()
    axes[0].set_xlim(0, 105)
    axes[0].set_xlabel("top-1 on the test videos (%)", fontsize=8)
    axes[0].legend(fontsize=7, loc="lower right")
    axes[0].set_title("frozen teacher features, train -> test", fontsize=9)
    if weights:
        height = 0.8 / len(weights)
        palette = [GUIDANCE_COLOR, "tab:orange", "tab:blue", "tab:purple", "tab:gray"]
        for j, (wname, w) in enumerate(weights.items()):
            vals = np.nan_to_num([weight_of(w, n, i) for i, n in enumerate(probes)])
            axes[1].barh(y - 0.4 + height * (j + 0.5), vals, height, label=wname,
                         color=palette[j % len(palette)])
        axes[1].set_yticks(y, names, fontsize=8)
        axes[1].invert_yaxis()
        axes[1].set_xlim(0, 1)
        axes[1].set_xlabel("weight $w_k$", fontsize=8)
        axes[1].legend(fontsize=7)
        axes[1].set_title("teacher weightings", fontsize=9)
    return fig


def plot_pair_separation(rows: Sequence[Mapping], *, key: str = "nn1_acc",
                         cell: float = 1.15) -> Figure:
    """Pairs x teachers heat map of :func:`~dtgkit.studies.teacher_probes.pair_separation` (motion-only pairs first).

    Args:
        rows: :func:`~dtgkit.studies.teacher_probes.pair_separation` output.
        key: ``"nn1_acc"`` (%, colours centred on the rows' mean ``chance``) or
            ``"separation"`` (centred on 0).
        cell: inches per column.

    Returns:
        The figure (not shown); pair labels are coloured by kind (:data:`PAIR_COLORS`).
    """
    teachers = list(dict.fromkeys(r["teacher"] for r in rows))
    pairs = list(dict.fromkeys((r["pair"], r["kind"]) for r in rows))
    pairs.sort(key=lambda p: p[1] != "motion")  # stable: motion-only pairs on top
    value = {(r["pair"], r["teacher"]): float(r[key]) for r in rows}
    m = np.array([[value.get((p, t), np.nan) for t in teachers] for p, _ in pairs])
    chance = float(np.mean([r.get("chance", 50.0) for r in rows])) if rows else 50.0
    if key == "nn1_acc":  # diverging colours centred on chance
        half = max(chance, 100.0 - chance)
        vmin, vmax, cmap, fmt = chance - half, chance + half, "RdBu_r", "{:.0f}"
    else:
        lim = float(np.nanmax(np.abs(m))) if np.isfinite(m).any() else 1.0
        vmin, vmax, cmap, fmt = -lim, lim, "RdBu_r", "{:.3f}"
    fig = new_figure(figsize=(cell * len(teachers) + 3.2, 0.42 * len(pairs) + 1.3),
                     layout="constrained")
    ax = fig.subplots()
    im = ax.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    for (i, j), v in np.ndenumerate(m):
        if math.isfinite(v):
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=8,
                    color="w" if abs(v - (vmin + vmax) / 2) > 0.35 * (vmax - vmin) else "k")
    ax.set_xticks(np.arange(len(teachers)), [short_name(t, 18) for t in teachers], fontsize=8,
                  rotation=20, ha="right")
    ax.set_yticks(np.arange(len(pairs)), [f"{p} ({k})" for p, k in pairs], fontsize=8)
    for tick, (_, kind) in zip(ax.get_yticklabels(), pairs):
        tick.set_color(PAIR_COLORS.get(kind, "k"))
    label = f"leave-one-out 1-NN accuracy (%, chance {chance:.0f})" if key == "nn1_acc" else key
    cbar = fig.colorbar(im, ax=ax, shrink=0.8)
    cbar.set_label(label, fontsize=8)
    if key == "nn1_acc":
        cbar.ax.set_ylim(0, 100)
    ax.set_title("can a teacher tell the two classes of a pair apart?", fontsize=9)
    return fig

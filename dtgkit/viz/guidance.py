"""Pictures of the fused guidance space (:mod:`dtgkit.studies.guidance_space`): one weighting's
weights, similarity matrix and 2-D PCA (the teacher-weights widget's figure), and each teacher's
frozen-feature scores beside weightings derived from them.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from dtgkit.models.teachers import display_names
from dtgkit.viz.plots import ANCHOR_COLOR, GUIDANCE_COLOR, new_figure

__all__ = ["class_colors", "plot_guidance_space", "plot_teacher_scores"]


def class_colors(num_classes: int) -> list:
    """One colour per class (tab10, or tab20 beyond 10 classes)."""
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if num_classes <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(num_classes)]


def plot_guidance_space(state: Mapping, *, fig: Figure | None = None,
                        figsize: tuple[float, float] = (11.0, 3.4), max_matrix: int = 400
                        ) -> Figure:
    """The fused guidance space of one weighting: weights, similarity matrix, 2-D PCA.

    Args:
        state: :meth:`dtgkit.studies.guidance_space.GuidanceSpace.evaluate` output.
        fig: a figure this function returned before for the *same videos and teachers*: its
            artists are updated in place (about 3x faster than a new figure; the widget's path).
        figsize: figure size in inches (new figures).
        max_matrix: the similarity panel shows at most this many videos (evenly spaced).

    Returns:
        The figure (not shown): (a) the teacher weights, (b) the fused cosine similarity of
        the videos sorted by class (lines between classes), (c) the 2-D PCA of the fused space
        coloured by class (o: train / bank videos, x: test / query videos).
    """
    labels = np.asarray(state["labels"])
    w = np.asarray(state["weights"])
    order = np.argsort(labels, kind="stable")
    if len(order) > max_matrix:
        order = order[np.linspace(0, len(order) - 1, max_matrix).round().astype(int)]
    sim = np.asarray(state["similarity"])[np.ix_(order, order)]
    pca = state.get("pca")
    sim_title = f"fused cosine, videos by class (separation {state['separation']:.3f})"
    pca_title = (f"PCA of the fused space: kNN {state['knn_acc']:.1f}%, "
                 f"silhouette {state['silhouette']:.3f}")
    art = getattr(fig, "_dtgkit_guidance", None) if fig is not None else None
    if art is None:
        fig, art = _guidance_figure(state, labels, order, figsize)
    for bar, text, wi in zip(art["bars"], art["bar_texts"], w):
        bar.set_width(wi)
        inside = wi > 0.7  # long bars carry their number inside, in white
        text.set_x(wi - 0.02 if inside else wi + 0.02)
        text.set_horizontalalignment("right" if inside else "left")
        text.set_color("white" if inside else "black")
        text.set_text(f"{wi:.2f}")
    art["image"].set_data(sim)
    art["sim_title"].set_text(sim_title)
    art["pca_title"].set_text(pca_title)
    if pca is not None:
        for sel, coll in art["points"]:
            coll.set_offsets(pca[sel])
        lo, hi = pca.min(0), pca.max(0)
        pad = 0.06 * np.maximum(hi - lo, 1e-6)
        art["ax_pca"].set_xlim(lo[0] - pad[0], hi[0] + pad[0])
        art["ax_pca"].set_ylim(lo[1] - pad[1], hi[1] + pad[1])
    return fig


def _guidance_figure(state: Mapping, labels: np.ndarray, order: np.ndarray,
                     figsize: tuple[float, float]) -> tuple[Figure, dict]:
    """The figure of :func:`plot_guidance_space` with empty artists (fixed layout: a
    constrained layout would cost more than the whole update)."""
    names = display_names(state["names"], 16)
    class_names = state.get("class_names")
    num_classes = int(labels.max()) + 1 if len(labels) else 1
    colors = class_colors(num_classes)
    fig = new_figure(figsize=figsize)
    ax_w = fig.add_axes((0.13, 0.14, 0.14, 0.74))
    ax_s = fig.add_axes((0.33, 0.06, 0.24, 0.82))
    ax_c = fig.add_axes((0.575, 0.14, 0.008, 0.66))
    ax_p = fig.add_axes((0.63, 0.06, 0.25, 0.82))

    y = np.arange(len(names))
    bars = ax_w.barh(y, np.zeros(len(names)), color=GUIDANCE_COLOR)
    bar_texts = [ax_w.text(0.02, yi, "", va="center", fontsize=8) for yi in y]
    ax_w.set_yticks(y, names, fontsize=8)
    ax_w.invert_yaxis()
    ax_w.set_xlim(0, 1)
    ax_w.set_xticks([0, 0.5, 1])
    ax_w.set_xlabel("weight $w_k$", fontsize=9)
    ax_w.tick_params(axis="x", labelsize=8)
    ax_w.set_title("teacher weights (sum 1)", fontsize=9)

    vmin, vmax = state.get("sim_range", (-0.2, 1.0))
    image = ax_s.imshow(np.zeros((len(order), len(order))), vmin=vmin, vmax=vmax,
                        cmap="viridis", interpolation="nearest")
    for e in np.flatnonzero(np.diff(labels[order])) + 0.5:
        ax_s.axhline(e, color="w", lw=0.4)
        ax_s.axvline(e, color="w", lw=0.4)
    ax_s.set_xticks([])
    ax_s.set_yticks([])
    fig.colorbar(image, cax=ax_c, ticks=np.linspace(vmin, vmax, 3).round(2))
    ax_c.tick_params(labelsize=7)

    train = state.get("train_mask")
    train = np.ones(len(labels), bool) if train is None else np.asarray(train, dtype=bool)
    points = []
    for c in range(num_classes):
        for mask, marker in ((train, "o"), (~train, "x")):
            sel = (labels == c) & mask
            if sel.any():
                label = (class_names[c] if class_names else str(c)) \
                    if marker == "o" or not train.any() else None
                points.append((sel, ax_p.scatter(np.zeros(sel.sum()), np.zeros(sel.sum()), s=22,
                                                 marker=marker, color=colors[c], lw=1.2,
                                                 label=label)))
    if num_classes <= 12:
        ax_p.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False,
                    handletextpad=0.2)
    ax_p.set_xticks([])
    ax_p.set_yticks([])
    art = {"bars": list(bars), "bar_texts": bar_texts, "image": image, "points": points,
           "ax_pca": ax_p, "sim_title": ax_s.set_title("", fontsize=9),
           "pca_title": ax_p.set_title("", fontsize=9)}
    fig._dtgkit_guidance = art
    return fig, art


def plot_teacher_scores(scores: Mapping[str, Mapping], weights: Mapping[str, Sequence[float]]
                        | None = None, *, key: str = "knn_acc",
                        figsize: tuple[float, float] = (9.0, 3.0)) -> Figure:
    """Each teacher's frozen-feature score and, optionally, weightings derived from them.

    Args:
        scores: spec -> scores dict
            (:meth:`dtgkit.studies.guidance_space.GuidanceSpace.teacher_scores`).
        weights: optional name -> M weights (e.g. ``{"uniform": ..., "offline": ...}``).
        key: which score to plot (``knn_acc`` in %, ``silhouette``, ``separation`` ...).
        figsize: figure size in inches.

    Returns:
        The figure (not shown): left, the score per teacher; right, the weightings.
    """
    names = display_names(list(scores), 22)
    vals = [float(s[key]) for s in scores.values()]
    ncols = 2 if weights else 1
    fig = new_figure(figsize=figsize, layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, ncols))
    y = np.arange(len(names))
    axes[0].barh(y, vals, color=GUIDANCE_COLOR)
    for yi, v in zip(y, vals):
        axes[0].text(v, yi, f" {v:.1f}" if key.endswith("acc") else f" {v:.3f}", va="center",
                     fontsize=8)
    axes[0].set_yticks(y, names, fontsize=8)
    axes[0].invert_yaxis()
    axes[0].set_xlabel(key + (" (%)" if key.endswith("acc") else ""))
    axes[0].set_title("each teacher alone (frozen features)", fontsize=9)
    if weights:
        height = 0.8 / len(weights)
        palette = [GUIDANCE_COLOR, ANCHOR_COLOR, "tab:blue", "tab:purple", "tab:gray"]
        for j, (wname, w) in enumerate(weights.items()):
            axes[1].barh(y - 0.4 + height * (j + 0.5), np.asarray(w, dtype=float), height,
                         label=wname, color=palette[j % len(palette)])
        axes[1].set_yticks(y, names, fontsize=8)
        axes[1].invert_yaxis()
        axes[1].set_xlim(0, 1)
        axes[1].set_xlabel("weight")
        axes[1].legend(fontsize=8)
        axes[1].set_title("teacher weightings", fontsize=9)
    return fig

"""Small plotting functions: each returns a ``matplotlib.figure.Figure`` and never shows it.

Figures are made by pyplot (so that importing this module sets up the notebook's inline
backend, which is what renders a returned Figure as an image) and are closed in pyplot's
registry at once: nothing accumulates when a widget redraws, and nothing is shown twice. In a
notebook, leave the returned figure as a cell's last expression or pass it to ``display``.

Colours follow the paper's Figure 2: anchor (student) orange, guidance (teachers) green. Every
figure of dtgkit is made at one resolution, :data:`DPI` (notebooks, widgets and saved PNGs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from dtgkit.data.sampling import TSN_MODES, SampledViews, sample_views, tsn_segment_edges

__all__ = [
    "ANCHOR_COLOR",
    "DPI",
    "GUIDANCE_COLOR",
    "new_figure",
    "plot_sampled_frames",
    "plot_sampling_pattern",
    "plot_views",
]

ANCHOR_COLOR = "tab:orange"
GUIDANCE_COLOR = "tab:green"
#: the resolution of every dtgkit figure, on screen and in files
DPI = 100


def new_figure(**kwargs) -> Figure:
    """A pyplot figure at :data:`DPI`, already closed in pyplot's registry (returned, never
    auto-shown).

    Args:
        **kwargs: passed to ``plt.figure`` (``figsize``, ``layout`` ...).

    Returns:
        The figure.
    """
    fig = plt.figure(dpi=DPI, **kwargs)
    plt.close(fig)
    return fig


def plot_sampling_pattern(
    num_frames: int,
    num_segments: int,
    mode: str,
    seed: int = 0,
    *,
    train: bool = True,
    img_side: str = "guidance",
    min_part: float = 0.25,
    figsize: tuple[float, float] = (9.0, 2.6),
) -> Figure:
    """Timeline of the frames a sampling mode picks from a video of ``num_frames`` frames.

    One row per view (anchor on top, guidance below; one row in the ``tsn_*`` modes). The bar
    under each row is the time range the view was drawn from (the two parts of the cut in
    ``seq_seq_disjoint``), dotted lines are the view's TSN segment edges inside that range (one
    segment for an ``img`` view), a grey band marks the tail that train-mode TSN never samples
    (``len mod T`` frames), and each marker is a chosen frame (a number beside it counts
    repeats, e.g. an ``img`` view).

    Args:
        num_frames: N, frames in the video.
        num_segments: T, frames per view.
        mode: one of ``dtgkit.data.sampling.VIEW_MODES``.
        seed: seed of the ``np.random.default_rng`` used for the draw.
        train: train (random) or test (deterministic) rules for the pair modes.
        img_side: which view is the image in ``img_seq`` (see ``sample_views``).
        min_part: smallest part fraction in ``seq_seq_disjoint``.
        figsize: figure size in inches.

    Returns:
        The figure (not shown).
    """
    views = sample_views(
        num_frames,
        num_segments,
        mode,
        rng=np.random.default_rng(seed),
        train=train,
        img_side=img_side,
        min_part=min_part,
    )
    img_rows = {"img_img": ("anchor", "guidance"), "img_seq": (img_side,)}.get(mode, ())
    rows = [("anchor", views.anchor, views.anchor_span, ANCHOR_COLOR)]
    if views.guidance is not None:
        rows.append(("guidance", views.guidance, views.guidance_span, GUIDANCE_COLOR))

    fig = new_figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    for row, (name, idx, (lo, hi), color) in enumerate(rows):
        y = len(rows) - 1 - row
        # segments of this view inside its own range: T segments, or 1 for an image
        edges = lo + tsn_segment_edges(
            hi - lo, 1 if name in img_rows else num_segments, train=views.train
        )
        ax.vlines(edges - 0.5, y - 0.4, y + 0.4, color="0.6", lw=0.8, ls=":", zorder=0)
        if views.train and edges[-1] < hi:
            ax.fill_between(
                [edges[-1] - 0.5, hi - 0.5], y - 0.4, y + 0.4, color="0.9", zorder=0, lw=0
            )
        ax.plot([lo - 0.5, hi - 0.5], [y - 0.28] * 2, color=color, lw=5, alpha=0.35)
        frames, counts = np.unique(idx, return_counts=True)
        ax.scatter(
            frames, np.full(len(frames), y), s=40, color=color, edgecolor="k", lw=0.5, zorder=3
        )
        for f, c in zip(frames, counts):
            if c > 1:
                ax.annotate(f"x{c}", (f, y), xytext=(4, 5), textcoords="offset points", fontsize=7)
        ax.text(-0.01, y, name, transform=ax.get_yaxis_transform(), ha="right", va="center")

    shared = 0 if views.guidance is None else len(np.intersect1d(views.anchor, views.guidance))
    title = f"{mode}: N={num_frames}, T={num_segments}, seed={seed}"
    if mode not in TSN_MODES:
        title += f" ({'train' if views.train else 'test'}; {shared} frame(s) in both views)"
    ax.set_title(title, fontsize=10)
    ax.set_xlim(-0.5 - 0.01 * num_frames, num_frames - 0.5 + 0.01 * num_frames)
    ax.set_ylim(-0.7, len(rows) - 0.4)
    ax.set_yticks([])
    ax.set_xlabel("frame index")
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    return fig


def plot_sampled_frames(
    frames_anchor: np.ndarray,
    frames_guidance: np.ndarray | None,
    idx_a: Sequence[int],
    idx_g: Sequence[int] | None,
    *,
    thumb_width: float = 1.0,
) -> Figure:
    """Thumbnail strips of the decoded frames of the two views.

    Args:
        frames_anchor: uint8 ``T x H x W x 3`` (RGB), the anchor view's decoded frames.
        frames_guidance: uint8 ``T' x H x W x 3`` for the guidance view, or None (one row).
        idx_a: the T frame indices of the anchor (shown as titles).
        idx_g: the frame indices of the guidance view, or None.
        thumb_width: width of one thumbnail in inches.

    Returns:
        The figure (not shown): row 1 anchor (orange labels), row 2 guidance (green).
    """
    rows = [("anchor", np.asarray(frames_anchor), list(idx_a), ANCHOR_COLOR)]
    if frames_guidance is not None:
        rows.append(("guidance", np.asarray(frames_guidance), list(idx_g), GUIDANCE_COLOR))
    for name, frames, idx, _ in rows:
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"{name} frames must be T x H x W x 3, got shape {frames.shape}")
        if len(idx) != len(frames):
            raise ValueError(f"{name}: {len(frames)} frames but {len(idx)} indices")
    cols = max(len(r[1]) for r in rows)
    h, w = rows[0][1].shape[1:3]
    fig = new_figure(
        figsize=(thumb_width * cols + 0.6, len(rows) * (thumb_width * h / w + 0.35)),
        layout="constrained",
    )
    axes = fig.subplots(len(rows), cols, squeeze=False)
    for r, (name, frames, idx, color) in enumerate(rows):
        for c in range(cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(frames):
                ax.set_axis_off()
                continue
            ax.imshow(frames[c])
            ax.set_title(f"#{idx[c]}", fontsize=8, color=color)
            for spine in ax.spines.values():
                spine.set_edgecolor(color)
                spine.set_linewidth(2)
        axes[r, 0].set_ylabel(name, color=color)
    return fig


def plot_views(views: SampledViews, frames: Callable[[np.ndarray], np.ndarray], *,
               thumb_width: float = 1.0) -> Figure:
    """The decoded frames of one sampled view pair (or TSN view), as :func:`plot_sampled_frames`.

    Args:
        views: :func:`dtgkit.data.sampling.sample_views` output.
        frames: ``indices -> uint8 T x H x W x 3`` (e.g. a reader's ``get_frames``).
        thumb_width: width of one thumbnail in inches.

    Returns:
        The figure (not shown); the rows are labelled with the frame range each view came from.
    """
    g = views.guidance
    fig = plot_sampled_frames(frames(views.anchor), None if g is None else frames(g), views.anchor,
                              g, thumb_width=thumb_width)
    spans = [views.anchor_span] + ([] if g is None else [views.guidance_span])
    for row, (name, span) in enumerate(zip(("anchor", "guidance"), spans)):
        fig.axes[row * fig.axes[0].get_gridspec().ncols].set_ylabel(
            f"{name}\nframes {span[0]}-{span[1] - 1}", color=ANCHOR_COLOR if row == 0 else GUIDANCE_COLOR)
    return fig

"""Clip-sampling explorer: T, N, pair mode and seed over the pure sampling functions."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets
import numpy as np
from IPython.display import display

from dtgkit.data.sampling import VIEW_MODES, sample_views
from dtgkit.viz.plots import plot_sampling_pattern, plot_views

__all__ = ["sampling_explorer", "sampling_explorer_state"]


def sampling_explorer_state(
    num_frames: int,
    num_segments: int,
    mode: str,
    seed: int,
    *,
    img_side: str = "guidance",
    min_part: float = 0.25,
) -> dict:
    """What the clip-sampling explorer shows, as data.

    Args:
        num_frames: N, frames in the video.
        num_segments: T, frames per view.
        mode: one of ``dtgkit.data.sampling.VIEW_MODES`` (``tsn_train``, ``tsn_test`` or a
            pair mode, sampled with the train rules).
        seed: seed of ``np.random.default_rng`` for the draw.
        img_side: which view is the image in ``img_seq``.
        min_part: smallest part fraction in ``seq_seq_disjoint``.

    Returns:
        dict with ``num_frames``, ``num_segments``, ``mode``, ``seed``, ``anchor`` (int64
        ``(T,)``), ``guidance`` (int64 ``(T,)`` or None), ``anchor_span``, ``guidance_span``,
        ``shared_frames`` (frames in both views), ``summary`` (one line of text) and ``views``
        (the :class:`~dtgkit.data.sampling.SampledViews`).
    """
    views = sample_views(
        num_frames,
        num_segments,
        mode,
        rng=np.random.default_rng(seed),
        train=True,
        img_side=img_side,
        min_part=min_part,
    )
    if views.guidance is None:
        shared = 0
        summary = f"{mode}: frames {views.anchor.tolist()}"
    else:
        shared = len(np.intersect1d(views.anchor, views.guidance))
        summary = (
            f"{mode}: anchor {views.anchor.tolist()} from {list(views.anchor_span)}, "
            f"guidance {views.guidance.tolist()} from {list(views.guidance_span)}, "
            f"{shared} shared frame(s)"
        )
    return {
        "num_frames": num_frames,
        "num_segments": num_segments,
        "mode": mode,
        "seed": seed,
        "anchor": views.anchor,
        "guidance": views.guidance,
        "anchor_span": views.anchor_span,
        "guidance_span": views.guidance_span,
        "shared_frames": shared,
        "summary": summary,
        "views": views,
    }


def sampling_explorer(
    num_frames: int = 64,
    num_segments: int = 8,
    mode: str = "seq_seq_overlap",
    seed: int = 0,
    *,
    frames: np.ndarray | Callable[[np.ndarray], np.ndarray] | None = None,
    max_frames: int = 300,
    max_segments: int = 32,
) -> widgets.VBox:
    """Interactive view of TSN sampling and the four pair modes of the paper's Table 2.

    Controls: ``num_segments`` (T), ``num_frames`` (N), ``mode`` (``tsn_train``, ``tsn_test``
    and the four pair modes) and ``seed``. Each change re-runs
    :func:`sampling_explorer_state` and redraws ``plot_sampling_pattern``; with ``frames`` it
    also shows the decoded thumbnails of both views (``plot_views``).

    Args:
        num_frames: initial N; with ``frames`` the video's length (the N control is then
            fixed).
        num_segments: initial T.
        mode: initial mode, one of ``dtgkit.data.sampling.VIEW_MODES``.
        seed: initial seed.
        frames: optional decoded video, either uint8 ``N x H x W x 3`` or a callable
            ``indices -> uint8 T x H x W x 3`` (e.g. a reader's ``get_frames``).
        max_frames: upper end of the N slider.
        max_segments: upper end of the T slider.

    Returns:
        ``ipywidgets.VBox`` (controls, then the output area) with ``.controls`` (dict
        ``num_segments``, ``num_frames``, ``mode``, ``seed``) and ``.state`` (the latest
        :func:`sampling_explorer_state` dict).
    """
    if mode not in VIEW_MODES:
        raise ValueError(f"unknown sampling mode {mode!r}; choose one of {', '.join(VIEW_MODES)}")
    get_frames = None
    if frames is not None:
        if callable(frames):
            get_frames = frames
        else:
            frames = np.asarray(frames)
            num_frames = len(frames)
            get_frames = frames.__getitem__
    controls = {
        "num_segments": widgets.IntSlider(
            value=num_segments, min=1, max=max(max_segments, num_segments), description="T"
        ),
        "num_frames": widgets.IntSlider(
            value=num_frames,
            min=1,
            max=max(max_frames, num_frames),
            description="N",
            disabled=frames is not None,
        ),
        "mode": widgets.Dropdown(options=list(VIEW_MODES), value=mode, description="mode"),
        "seed": widgets.IntText(value=seed, description="seed"),
    }
    box = widgets.VBox()

    def update(num_segments: int, num_frames: int, mode: str, seed: int) -> None:
        state = sampling_explorer_state(num_frames, num_segments, mode, seed)
        box.state = state
        display(plot_sampling_pattern(num_frames, num_segments, mode, seed))
        if get_frames is not None:
            display(plot_views(state["views"], get_frames))
        print(state["summary"])

    out = widgets.interactive_output(update, controls)
    box.children = [
        widgets.HBox([controls["num_segments"], controls["num_frames"]]),
        widgets.HBox([controls["mode"], controls["seed"]]),
        out,
    ]
    box.controls = controls
    return box

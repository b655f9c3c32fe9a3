"""Widgets are driven without a browser: set a control's value, check the state it produced."""

from __future__ import annotations

import numpy as np
import pytest

from dtgkit.data.sampling import PAIR_MODES, VIEW_MODES, tsn_indices, two_view_indices
from dtgkit.widgets import sampling_explorer, sampling_explorer_state


@pytest.mark.parametrize("mode", VIEW_MODES)
def test_sampling_explorer_state_uses_the_library(mode):
    state = sampling_explorer_state(90, 8, mode, 3)
    rng = np.random.default_rng(3)
    if mode in PAIR_MODES:
        a, g = two_view_indices(90, 8, mode, rng=rng)
        np.testing.assert_array_equal(state["guidance"], g)
        assert state["shared_frames"] == len(np.intersect1d(a, g))
    else:
        a = tsn_indices(90, 8, train=mode == "tsn_train", rng=rng)
        assert state["guidance"] is None
    np.testing.assert_array_equal(state["anchor"], a)
    assert state["summary"].startswith(mode)


def test_sampling_explorer_controls_drive_the_state():
    w = sampling_explorer(num_frames=64, num_segments=8, mode="seq_seq_overlap", seed=0)
    assert set(w.controls) == {"num_segments", "num_frames", "mode", "seed"}
    first = w.state
    assert first["anchor"].shape == (8,)

    w.controls["seed"].value = 1
    assert w.state["seed"] == 1
    assert not np.array_equal(w.state["anchor"], first["anchor"])

    w.controls["num_segments"].value = 4
    assert w.state["anchor"].shape == (4,) and w.state["guidance"].shape == (4,)

    w.controls["mode"].value = "seq_seq_disjoint"
    assert w.state["shared_frames"] == 0
    assert w.state["anchor_span"] != w.state["guidance_span"]

    w.controls["mode"].value = "tsn_test"
    w.controls["num_frames"].value = 40
    np.testing.assert_array_equal(w.state["anchor"], tsn_indices(40, 4, train=False))
    assert w.state["guidance"] is None


def test_sampling_explorer_with_decoded_frames():
    video = np.arange(30, dtype=np.uint8)[:, None, None, None] * np.ones((1, 6, 8, 3), np.uint8)
    calls = []

    def get_frames(idx):
        calls.append(np.asarray(idx))
        return video[idx]

    w = sampling_explorer(num_frames=30, num_segments=4, mode="img_seq", frames=get_frames)
    assert calls and len(calls[-1]) == 4
    w.controls["seed"].value = 7
    np.testing.assert_array_equal(calls[-1], w.state["guidance"])

    w = sampling_explorer(num_frames=999, num_segments=4, frames=video)
    assert w.controls["num_frames"].value == 30 and w.controls["num_frames"].disabled


def test_sampling_explorer_rejects_unknown_mode():
    with pytest.raises(ValueError, match="unknown sampling mode"):
        sampling_explorer(mode="clips")

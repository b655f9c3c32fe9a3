"""dtgkit.data.sampling against slow, obvious re-implementations of mmaction2's formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dtgkit.data.sampling import (
    PAIR_MODES,
    VIEW_MODES,
    dense_indices,
    pair_statistics,
    sample_views,
    tsn_indices,
    tsn_segment_edges,
    two_view_indices,
)

SETTINGS = settings(max_examples=150, deadline=None)
frames = st.integers(min_value=1, max_value=600)
segments = st.integers(min_value=1, max_value=40)
seeds = st.integers(min_value=0, max_value=2**32 - 1)


# --- slow references: one Python loop per formula, the same rng draws in the same order ---


def ref_dense(n, clip_len, interval, num_clips, train, rng):
    """mmaction2 SampleFrames (1.x, loop mode), written out element by element."""
    if train:
        span = clip_len * interval
        avg = (n - span + 1) // num_clips
        if avg > 0:
            draws = rng.integers(avg, size=num_clips)
            offsets = [i * avg + int(draws[i]) for i in range(num_clips)]
        elif n > max(num_clips, span):
            offsets = sorted(int(x) for x in rng.integers(n - span + 1, size=num_clips))
        elif avg == 0:
            ratio = (n - span + 1.0) / num_clips
            offsets = [round(i * ratio) for i in range(num_clips)]  # half to even, as np.around
        else:
            offsets = [0] * num_clips
    elif clip_len == 1:
        avg = n / float(num_clips)
        offsets = [i * avg + avg / 2.0 for i in range(num_clips)]
    else:
        max_offset = max(n - ((clip_len - 1) * interval + 1), 0)
        if num_clips > 1:
            offsets = [round(i * (max_offset / float(num_clips - 1))) for i in range(num_clips)]
        else:
            offsets = [max_offset // 2]
    return np.array(
        [[int((off + j * interval) % n) for j in range(clip_len)] for off in offsets],
        dtype=np.int64,
    )


def ref_tsn(n, t, train, rng):
    return ref_dense(n, 1, 1, t, train, rng)[:, 0]


def ref_views(n, t, mode, train, rng, img_side="guidance", min_part=0.25):
    """The documented pair rules, re-derived from ref_tsn; returns (anchor, guidance)."""

    def img():
        return np.array([ref_tsn(n, 1, train, rng)[0]] * t, dtype=np.int64)

    def seq():
        return ref_tsn(n, t, train, rng)

    if mode == "seq_seq_overlap":
        a = seq()
        return a, seq()
    if mode == "img_img":
        a = img()
        return a, img()
    if mode == "img_seq":
        if img_side == "guidance":
            a = seq()
            return a, img()
        a = img()
        return a, seq()
    assert mode == "seq_seq_disjoint"
    if n == 1:
        return np.zeros(t, np.int64), np.zeros(t, np.int64)
    m = max(1, math.ceil(min_part * n))
    cut = int(rng.integers(m, n - m + 1)) if (train and m <= n - m) else n // 2
    parts = [(0, cut), (cut, n)]
    side = int(rng.integers(2)) if train else 0
    a_part, g_part = parts[side], parts[1 - side]
    a = a_part[0] + ref_tsn(a_part[1] - a_part[0], t, train, rng)
    g = g_part[0] + ref_tsn(g_part[1] - g_part[0], t, train, rng)
    return a, g


def check_index_array(idx, n, shape):
    assert isinstance(idx, np.ndarray)
    assert idx.dtype == np.int64
    assert idx.shape == shape
    assert idx.min() >= 0 and idx.max() < n


# --- TSN ---


@SETTINGS
@given(n=frames, t=segments, seed=seeds)
def test_tsn_train_matches_reference(n, t, seed):
    got = tsn_indices(n, t, train=True, rng=np.random.default_rng(seed))
    want = ref_tsn(n, t, True, np.random.default_rng(seed))
    check_index_array(got, n, (t,))
    np.testing.assert_array_equal(got, want)


@SETTINGS
@given(n=frames, t=segments, seed=seeds)
def test_tsn_train_one_frame_per_segment_and_sorted(n, t, seed):
    idx = tsn_indices(n, t, train=True, rng=np.random.default_rng(seed))
    if n >= t:
        avg = n // t
        assert np.all(np.diff(idx) > 0)
        np.testing.assert_array_less(idx, (np.arange(t) + 1) * avg)
        assert np.all(idx >= np.arange(t) * avg)
        edges = tsn_segment_edges(n, t, train=True)
        assert np.all((edges[:-1] <= idx) & (idx < edges[1:]))
    else:  # short video: every frame, in order, then the tail that rounded to N wraps to 0
        wrapped = np.round(np.arange(t) * (n / t)) >= n
        assert np.all(idx[wrapped] == 0)
        assert np.all(np.diff(idx[~wrapped]) >= 0)
        assert set(idx[~wrapped].tolist()) == set(range(n))
        assert wrapped.sum() == 0 or t >= 2 * n


@SETTINGS
@given(n=frames, t=segments)
def test_tsn_test_is_deterministic_segment_centres(n, t):
    idx = tsn_indices(n, t, train=False)
    check_index_array(idx, n, (t,))
    np.testing.assert_array_equal(idx, tsn_indices(n, t, train=False, rng=np.random.default_rng(1)))
    np.testing.assert_array_equal(idx, ref_tsn(n, t, False, None))
    exact = np.array([((2 * i + 1) * n) // (2 * t) for i in range(t)])  # floor of true centre
    assert np.all(np.abs(idx - exact) <= 1)  # float arithmetic, as mmaction2
    edges = tsn_segment_edges(n, t, train=False)
    assert np.all((np.floor(edges[:-1]) <= idx) & (idx < edges[1:]))
    assert np.all(np.diff(idx) >= 0)


def test_tsn_known_values():
    rng = np.random.default_rng(0)
    # N < T: around(arange(T) * N / T), tail wraps to frame 0
    np.testing.assert_array_equal(tsn_indices(3, 8, train=True, rng=rng), [0, 0, 1, 1, 2, 2, 2, 0])
    np.testing.assert_array_equal(
        tsn_indices(4, 8, train=True, rng=rng), [0, 0, 1, 2, 2, 2, 3, 4 % 4]
    )
    # N == T and T < N < 2T: avg == 1, the first T frames, no randomness
    for n in (8, 9, 15):
        np.testing.assert_array_equal(tsn_indices(n, 8, train=True, rng=rng), np.arange(8))
    # test: int(i * N/T + N/2T)
    np.testing.assert_array_equal(
        tsn_indices(250, 8, train=False), [15, 46, 78, 109, 140, 171, 203, 234]
    )
    # the float centre is one frame below the exact centre here, as in mmaction2
    assert tsn_indices(2, 29, train=False).tolist() != [((2 * i + 1) * 2) // 58 for i in range(29)]


def test_tsn_train_uses_the_rng():
    a = tsn_indices(300, 8, train=True, rng=np.random.default_rng(0))
    b = tsn_indices(300, 8, train=True, rng=np.random.default_rng(1))
    c = tsn_indices(300, 8, train=True, rng=np.random.default_rng(0))
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("n", [0, -3])
def test_empty_video_is_a_clear_error(n):
    with pytest.raises(ValueError, match="num_frames must be >= 1"):
        tsn_indices(n, 8, train=True, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="no frames"):
        two_view_indices(n, 8, "seq_seq_overlap", rng=np.random.default_rng(0))


def test_bad_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="num_segments"):
        tsn_indices(10, 0, train=True, rng=rng)
    with pytest.raises(ValueError, match="rng"):
        tsn_indices(10, 4, train=True, rng=None)
    with pytest.raises(ValueError, match="unknown pair mode"):
        two_view_indices(10, 4, "tsn_train", rng=rng)
    with pytest.raises(ValueError, match="img_side"):
        two_view_indices(10, 4, "img_seq", rng=rng, img_side="teacher")
    with pytest.raises(ValueError, match="min_part"):
        two_view_indices(10, 4, "seq_seq_disjoint", rng=rng, min_part=0.6)
    with pytest.raises(ValueError, match="integer"):
        tsn_indices(10.5, 4, train=False)
    assert tsn_indices(np.int32(10), np.int64(4), train=False).dtype == np.int64


# --- dense clips ---


@SETTINGS
@given(
    n=frames,
    clip_len=st.integers(1, 32),
    interval=st.integers(1, 8),
    num_clips=st.integers(1, 10),
    train=st.booleans(),
    seed=seeds,
)
def test_dense_matches_reference(n, clip_len, interval, num_clips, train, seed):
    got = dense_indices(
        n, clip_len, interval, num_clips, train=train, rng=np.random.default_rng(seed)
    )
    want = ref_dense(n, clip_len, interval, num_clips, train, np.random.default_rng(seed))
    check_index_array(got, n, (num_clips, clip_len))
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got[:, 1:], (got[:, :-1] + interval) % n)  # strided, looping
    if not train:
        np.testing.assert_array_equal(
            got, dense_indices(n, clip_len, interval, num_clips, train=False)
        )


def test_dense_known_values():
    # long video, test: evenly spaced clips from the first frame to the last (PySlowFast)
    got = dense_indices(100, 4, 2, 3, train=False)
    np.testing.assert_array_equal(got[:, 0], [0, 46, 93])
    assert got[-1, -1] == 99
    # one clip: centred
    np.testing.assert_array_equal(dense_indices(100, 4, 2, 1, train=False), [[46, 48, 50, 52]])
    # short video: loop mode wraps
    np.testing.assert_array_equal(
        dense_indices(5, 8, 1, 1, train=False), [[0, 1, 2, 3, 4, 0, 1, 2]]
    )
    np.testing.assert_array_equal(
        dense_indices(5, 8, 1, 1, train=True, rng=np.random.default_rng(0)),
        [[0, 1, 2, 3, 4, 0, 1, 2]],
    )
    # the sort(randint) branch: 0 < N - span + 1 < num_clips and N > max(num_clips, span)
    got = dense_indices(20, 16, 1, 10, train=True, rng=np.random.default_rng(3))
    assert np.all(np.diff(got[:, 0]) >= 0) and got[:, 0].max() <= 4


# --- two views ---


@SETTINGS
@given(
    n=frames,
    t=segments,
    mode=st.sampled_from(PAIR_MODES),
    train=st.booleans(),
    img_side=st.sampled_from(["guidance", "anchor"]),
    min_part=st.sampled_from([0.05, 0.25, 1 / 3, 0.5]),
    seed=seeds,
)
def test_two_views_match_reference(n, t, mode, train, img_side, min_part, seed):
    kw = {"train": train, "img_side": img_side, "min_part": min_part}
    a, g = two_view_indices(n, t, mode, rng=np.random.default_rng(seed), **kw)
    ra, rg = ref_views(n, t, mode, train, np.random.default_rng(seed), img_side, min_part)
    check_index_array(a, n, (t,))
    check_index_array(g, n, (t,))
    np.testing.assert_array_equal(a, ra)
    np.testing.assert_array_equal(g, rg)
    if not train:  # deterministic: the rng is not consulted
        a2, g2 = two_view_indices(n, t, mode, rng=None, **kw)
        np.testing.assert_array_equal(a, a2)
        np.testing.assert_array_equal(g, g2)


@SETTINGS
@given(
    n=st.integers(2, 600),
    t=segments,
    train=st.booleans(),
    seed=seeds,
    min_part=st.sampled_from([0.05, 0.25, 0.5]),
)
def test_disjoint_views_share_no_time_range(n, t, train, seed, min_part):
    v = sample_views(
        n, t, "seq_seq_disjoint", rng=np.random.default_rng(seed), train=train, min_part=min_part
    )
    (a0, a1), (g0, g1) = v.anchor_span, v.guidance_span
    assert sorted([(a0, a1), (g0, g1)]) == [(0, min(a1, g1)), (min(a1, g1), n)]  # a cut at c
    assert a0 < a1 and g0 < g1
    assert np.all((a0 <= v.anchor) & (v.anchor < a1))
    assert np.all((g0 <= v.guidance) & (v.guidance < g1))
    assert not set(v.anchor.tolist()) & set(v.guidance.tolist())
    assert max(v.anchor.max(), v.guidance.max()) < n
    cut = min(a1, g1)
    m = max(1, math.ceil(min_part * n))
    if train and m <= n - m:
        assert m <= cut <= n - m
    else:
        assert cut == n // 2
    if not train:
        assert (a0, a1) == (0, n // 2)
    # each view is TSN inside its part: sorted when the part holds >= T frames
    for idx, (lo, hi) in ((v.anchor, (a0, a1)), (v.guidance, (g0, g1))):
        if hi - lo >= t:
            assert np.all(np.diff(idx) > 0)


def test_disjoint_single_frame_fallback():
    a, g = two_view_indices(1, 5, "seq_seq_disjoint", rng=np.random.default_rng(0))
    np.testing.assert_array_equal(a, np.zeros(5))
    np.testing.assert_array_equal(g, np.zeros(5))


def test_disjoint_anchor_takes_either_part():
    sides = set()
    for seed in range(40):
        v = sample_views(100, 4, "seq_seq_disjoint", rng=np.random.default_rng(seed))
        sides.add(v.anchor_span[0] == 0)
    assert sides == {True, False}


@SETTINGS
@given(n=frames, t=segments, train=st.booleans(), seed=seeds)
def test_img_views_repeat_one_frame(n, t, train, seed):
    rng = np.random.default_rng(seed)
    a, g = two_view_indices(n, t, "img_img", rng=rng, train=train)
    assert len(set(a.tolist())) == 1 and len(set(g.tolist())) == 1
    a, g = two_view_indices(n, t, "img_seq", rng=rng, train=train)  # Table 2: teacher gets img
    assert len(set(g.tolist())) == 1
    if not train:
        np.testing.assert_array_equal(a, tsn_indices(n, t, train=False))
    a, g = two_view_indices(n, t, "img_seq", rng=rng, train=train, img_side="anchor")
    assert len(set(a.tolist())) == 1
    if not train:
        np.testing.assert_array_equal(a, np.full(t, n // 2))


def test_overlap_views_are_independent_tsn_samplings():
    rng = np.random.default_rng(0)
    a, g = two_view_indices(300, 8, "seq_seq_overlap", rng=rng)
    rng2 = np.random.default_rng(0)
    np.testing.assert_array_equal(a, tsn_indices(300, 8, train=True, rng=rng2))
    np.testing.assert_array_equal(g, tsn_indices(300, 8, train=True, rng=rng2))
    assert not np.array_equal(a, g)


def test_sample_views_tsn_modes():
    v = sample_views(40, 4, "tsn_test")
    assert v.guidance is None and v.guidance_span is None and not v.train
    np.testing.assert_array_equal(v.anchor, tsn_indices(40, 4, train=False))
    v = sample_views(40, 4, "tsn_train", rng=np.random.default_rng(2), train=False)  # mode wins
    assert v.train
    assert set(VIEW_MODES) == {"tsn_train", "tsn_test", *PAIR_MODES}


def test_pair_statistics():
    def stats(mode, n=200):
        return pair_statistics(n, 8, mode, rng=np.random.default_rng(0), num_draws=200)

    disjoint, overlap = stats("seq_seq_disjoint"), stats("seq_seq_overlap")
    assert disjoint["shared_frames"] == 0.0
    assert overlap["shared_frames"] > 0.0
    assert overlap["time_gap"] < 0.05 < disjoint["time_gap"] <= 0.75
    assert stats("img_img")["shared_frames"] < 0.05  # two uniform frames rarely coincide
    # T <= N < 2T: overlapping views are identical, every frame shared
    assert stats("seq_seq_overlap", n=12)["shared_frames"] == 8.0
    with pytest.raises(ValueError, match="pair mode"):
        pair_statistics(10, 4, "tsn_train", rng=np.random.default_rng(0))

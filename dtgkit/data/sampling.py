"""Frame-index sampling: TSN segments, dense 3D clips and the two views of a contrastive pair.

Every function here is pure: it takes the video length and an explicit
``rng: np.random.Generator`` and returns ``int64`` frame indices in ``[0, num_frames)``. Nothing
is decoded; a reader turns the indices into frames (``dtgkit.data.video``).

* :func:`tsn_indices` — TSN sparse sampling (paper Sec. 3.1: "dividing a video into T
  segments, random sampling one frame from each segment"), exactly mmaction2's
  ``SampleFrames(clip_len=1, frame_interval=1, num_clips=T)``.
* :func:`dense_indices` — ``num_clips`` dense clips of ``clip_len`` frames for 3D students,
  exactly mmaction2's ``SampleFrames(clip_len, frame_interval, num_clips)`` in ``"loop"`` mode.
* :func:`two_view_indices` / :func:`sample_views` — the anchor (student) and guidance
  (teacher) views of a positive pair, one of the four input types of the paper's Table 2
  (:data:`PAIR_MODES`).

Draw order (what a test re-implementing these must replicate): the anchor view's draws come
first, then the guidance view's, except in ``seq_seq_disjoint``, which first draws the cut point
and the side (see :func:`sample_views`).
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import numpy as np

__all__ = [
    "PAIR_MODES",
    "TSN_MODES",
    "VIEW_MODES",
    "SampledViews",
    "dense_indices",
    "pair_statistics",
    "sample_views",
    "tsn_indices",
    "tsn_segment_edges",
    "two_view_indices",
]

#: The four input types of the paper's Table 2, named ``<teacher view>_<student view>`` as the
#: table's columns read (Teacher | Student | Overlap):
#: ``img_img`` = row 1, ``img_seq`` = row 2, ``seq_seq_overlap`` = row 3,
#: ``seq_seq_disjoint`` = row 4.
PAIR_MODES: tuple[str, ...] = ("seq_seq_overlap", "seq_seq_disjoint", "img_img", "img_seq")
#: Single-view TSN sampling, for plots and the explorer widget.
TSN_MODES: tuple[str, ...] = ("tsn_train", "tsn_test")
#: Everything :func:`sample_views` accepts.
VIEW_MODES: tuple[str, ...] = TSN_MODES + PAIR_MODES


def _positive_int(value, name: str) -> int:
    try:
        value = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer (got {value!r})") from None
    if value < 1:
        hint = (
            " (the video has no frames: is it empty or undecodable?)"
            if name == "num_frames"
            else ""
        )
        raise ValueError(f"{name} must be >= 1 (got {value}){hint}")
    return value


def _need_rng(rng, train: bool) -> None:
    if train and not isinstance(rng, np.random.Generator):
        raise ValueError(
            "train-mode sampling needs rng=np.random.Generator (e.g. np.random.default_rng(seed)); "
            f"got {type(rng).__name__}"
        )


def dense_indices(
    num_frames: int,
    clip_len: int,
    frame_interval: int,
    num_clips: int,
    *,
    train: bool,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Clip frame indices, exactly as mmaction2 ``SampleFrames`` (``out_of_bound_opt="loop"``).

    With ``N = num_frames``, ``C = num_clips``, ``L = clip_len``, ``s = frame_interval``, the
    clip start offsets are (mmaction2 1.x, ``keep_tail_frames=False``, no ``target_fps``):

    * train, ``span = L * s``, ``avg = (N - span + 1) // C``:

      - ``avg > 0``: ``offsets = arange(C) * avg + rng.integers(avg, size=C)`` — one random
        start per equal chunk; the last ``(N - span + 1) mod C`` starts are never used;
      - elif ``N > max(C, span)``: ``offsets = sort(rng.integers(N - span + 1, size=C))``
        (unreachable for ``L = 1``, where ``avg = N // C >= 1`` whenever ``N >= C``);
      - elif ``avg == 0``: ``offsets = around(arange(C) * (N - span + 1) / C)`` (no draw;
        ``around`` rounds half to even);
      - else: ``offsets = 0``.

    * test, ``L == 1`` (2D / TSN): ``avg = N / C`` (float),
      ``offsets = arange(C) * avg + avg / 2`` — segment centres, truncated to int after the
      wrap. The float arithmetic is kept on purpose: it sometimes lands one frame below the
      exact ``floor((2i+1) N / 2C)`` (e.g. ``N=2, C=29``), as it does in mmaction2.
    * test, ``L > 1`` (3D): ``max_offset = max(N - ((L-1)*s + 1), 0)``; ``C > 1``:
      ``offsets = round(arange(C) * max_offset / (C - 1))`` (evenly spaced, first clip at 0,
      last ending at the last frame, as in PySlowFast); ``C == 1``: ``max_offset // 2``
      (the centred clip).

    Then ``inds = (offsets[:, None] + arange(L) * s) mod N`` — indices past the end wrap
    around to the start ("loop"), so short videos still give full clips.

    Args:
        num_frames: N, frames in the video (>= 1).
        clip_len: L, frames per clip (>= 1).
        frame_interval: s, step between consecutive frames of a clip (>= 1).
        num_clips: C, clips to sample (>= 1).
        train: random offsets (True) or the deterministic test offsets (False).
        rng: random generator; required when ``train`` (the test offsets draw nothing).

    Returns:
        int64 array ``num_clips x clip_len`` of frame indices in ``[0, num_frames)``.

    Raises:
        ValueError: a size is < 1 (``num_frames == 0`` names the empty video), or ``train``
            without an ``rng``.
    """
    n = _positive_int(num_frames, "num_frames")
    clip_len = _positive_int(clip_len, "clip_len")
    frame_interval = _positive_int(frame_interval, "frame_interval")
    num_clips = _positive_int(num_clips, "num_clips")
    _need_rng(rng, train)

    if train:
        span = clip_len * frame_interval
        avg = (n - span + 1) // num_clips
        if avg > 0:
            offsets = np.arange(num_clips) * avg + rng.integers(avg, size=num_clips)
        elif n > max(num_clips, span):
            offsets = np.sort(rng.integers(n - span + 1, size=num_clips))
        elif avg == 0:
            offsets = np.around(np.arange(num_clips) * ((n - span + 1.0) / num_clips))
        else:
            offsets = np.zeros(num_clips)
    elif clip_len == 1:
        avg = n / float(num_clips)
        offsets = np.arange(num_clips) * avg + avg / 2.0  # float, truncated below
    else:
        max_offset = max(n - ((clip_len - 1) * frame_interval + 1), 0)
        if num_clips > 1:
            offsets = np.round(np.arange(num_clips) * (max_offset / float(num_clips - 1)))
        else:
            offsets = np.array([max_offset // 2])

    inds = offsets[:, None] + np.arange(clip_len)[None, :] * frame_interval  # C x L
    return np.mod(inds, n).astype(np.int64)  # C x L


def tsn_indices(
    num_frames: int,
    num_segments: int,
    *,
    train: bool,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """TSN sparse sampling: one frame per segment (paper Sec. 3.1).

    Exactly mmaction2 ``SampleFrames(clip_len=1, frame_interval=1, num_clips=T)`` with
    ``N = num_frames``, ``T = num_segments``:

    * train, ``avg = N // T``:

      - ``N >= T`` (``avg >= 1``): ``inds = arange(T) * avg + rng.integers(avg, size=T)``:
        segment ``i`` is ``[i*avg, (i+1)*avg)``, one uniform frame in each; the last
        ``N mod T`` frames are never sampled. For ``T <= N < 2T`` this is ``arange(T)``
        (``avg = 1``, the draw is always 0): the first T frames, no randomness at all — two
        train samplings of such a short video are identical.
      - ``N < T``: ``inds = around(arange(T) * N / T) mod N`` (round half to even): every
        frame used, some repeated, no randomness. When ``T >= 2N`` the last entries can round
        up to ``N`` and wrap to frame 0 (mmaction2's "loop"), e.g. ``N=3, T=8`` gives
        ``[0, 0, 1, 1, 2, 2, 2, 0]``. (mmaction2's ``sort(randint(N))`` branch needs
        ``N > T`` and ``N // T == 0`` at once, which never happens for ``clip_len=1``.)

    * test: ``avg = N / T``; ``inds = int(arange(T) * avg + avg / 2)`` — segment centres
      (float arithmetic as mmaction2, see :func:`dense_indices`).

    Train indices are strictly increasing when ``N >= T`` and non-decreasing when ``N < T``
    apart from the wrapped zeros at the end; test indices are non-decreasing.

    Args:
        num_frames: N, frames in the video (>= 1).
        num_segments: T, segments = frames returned (>= 1).
        train: random frame per segment (True) or segment centres (False).
        rng: random generator; required when ``train``.

    Returns:
        int64 array ``(num_segments,)`` of frame indices in ``[0, num_frames)``.

    Raises:
        ValueError: ``num_frames`` or ``num_segments`` < 1, or ``train`` without an ``rng``.
    """
    num_segments = _positive_int(num_segments, "num_segments")
    return dense_indices(num_frames, 1, 1, num_segments, train=train, rng=rng)[:, 0]  # T


def tsn_segment_edges(num_frames: int, num_segments: int, *, train: bool) -> np.ndarray:
    """Boundaries of the TSN segments that :func:`tsn_indices` samples from, for plots.

    Train with ``N >= T``: ``arange(T + 1) * (N // T)`` (integer segments; frames at or past
    the last edge are never sampled). Otherwise (test, or ``N < T``): ``arange(T + 1) * N / T``.

    Args:
        num_frames: N (>= 1).
        num_segments: T (>= 1).
        train: which of the two layouts.

    Returns:
        float64 array ``(num_segments + 1,)``; segment ``i`` is ``[edges[i], edges[i+1])``.
    """
    n = _positive_int(num_frames, "num_frames")
    t = _positive_int(num_segments, "num_segments")
    if train and n >= t:
        return (np.arange(t + 1) * (n // t)).astype(np.float64)
    return np.arange(t + 1) * (n / float(t))


@dataclass(frozen=True)
class SampledViews:
    """The frame indices of one sampled pair (or single TSN view) and where they came from.

    Attributes:
        mode: one of :data:`VIEW_MODES`.
        anchor: int64 ``(num_segments,)``, the student's (anchor) view.
        guidance: int64 ``(num_segments,)``, the teachers' (guidance) view; None in TSN modes.
        anchor_span: ``(start, stop)``, the frame range the anchor was drawn from.
        guidance_span: the same for the guidance view; None in TSN modes.
        train: whether the random (train) rules were used.
    """

    mode: str
    anchor: np.ndarray
    guidance: np.ndarray | None
    anchor_span: tuple[int, int]
    guidance_span: tuple[int, int] | None
    train: bool


def _img_view(n: int, t: int, train: bool, rng) -> np.ndarray:
    # An `img` is a TSN sampling with one segment: a uniform frame (train) or the middle frame
    # N // 2 (test), repeated so that every view has num_segments entries.
    frame = tsn_indices(n, 1, train=train, rng=rng)  # 1
    return np.repeat(frame, t)  # T


def _disjoint_cut(n: int, train: bool, rng, min_part: float) -> int:
    shortest = max(1, math.ceil(min_part * n))
    if train and shortest <= n - shortest:
        return int(rng.integers(shortest, n - shortest + 1))
    return n // 2


def sample_views(
    num_frames: int,
    num_segments: int,
    mode: str,
    *,
    rng: np.random.Generator | None = None,
    train: bool = True,
    img_side: str = "guidance",
    min_part: float = 0.25,
) -> SampledViews:
    """Sample the anchor / guidance views of a positive pair (paper Sec. 3.1, Table 2).

    ``N = num_frames``, ``T = num_segments``; "TSN" is :func:`tsn_indices`, an ``img`` view is
    one frame (TSN with a single segment: uniform over ``[0, N)`` in train, ``N // 2`` in
    test) repeated T times so that every view is ``(T,)``.

    * ``seq_seq_overlap`` (Table 2 row 3, the paper's best): two independent TSN samplings of
      the whole video; their frames may coincide or interleave in time (for
      ``T <= N < 2T`` both are the first T frames: identical views).
    * ``seq_seq_disjoint`` (row 4): the video is cut at ``c`` into two contiguous parts
      ``[0, c)`` and ``[c, N)``; one part holds the anchor, the other the guidance, each a TSN
      sampling inside its part, so the two views occupy disjoint time ranges and share no
      frame. Train: ``c = rng.integers(m, N - m + 1)`` with ``m = max(1, ceil(min_part * N))``
      (each part holds at least a ``min_part`` fraction), then ``rng.integers(2)`` picks the
      anchor's part (1 = the later part), then the anchor's and the guidance's TSN draws.
      When ``m > N - m`` (``N`` too small for ``min_part``) ``c = N // 2`` without a draw.
      Test: ``c = N // 2``, anchor in ``[0, c)``, guidance in ``[c, N)``, segment centres.
      A part shorter than T repeats frames, and one with ``T <= len < 2T`` frames always gives
      its first T frames (TSN's short-video rules, see :func:`tsn_indices`): on short videos
      (32 frames, T = 8) one view of a disjoint pair is often deterministic. ``N == 1`` cannot
      be split:
      both views are frame 0 (spans ``(0, 1)``), no draw — the only case where they overlap.
    * ``img_img`` (row 1): two independent ``img`` views (the same frame with probability
      ``1/N``, as Table 2 marks this row "overlap"); test: both the middle frame.
    * ``img_seq`` (row 2): Table 2 gives the teacher the image and the student the sequence
      (``Teacher img->TSN | Student seq->3D-ResNet``), so by default the guidance is the
      ``img`` and the anchor a TSN sequence of the whole video. ``img_side="anchor"`` swaps
      them (anchor image, guidance sequence), as the name may also be read.
    * ``tsn_train`` / ``tsn_test``: a single TSN view (``guidance`` is None); ``train`` is
      ignored.

    Args:
        num_frames: N, frames in the video (>= 1).
        num_segments: T, frames per view (>= 1).
        mode: one of :data:`VIEW_MODES`.
        rng: random generator; required in train mode.
        train: random views (True) or their deterministic test counterparts (False).
        img_side: ``"guidance"`` (default, Table 2) or ``"anchor"``: which view is the image
            in ``img_seq``.
        min_part: in ``seq_seq_disjoint``, the smallest fraction of the video each part holds,
            in ``(0, 0.5]``; default 0.25. ``0.5`` always cuts in the middle.

    Returns:
        :class:`SampledViews` with int64 index arrays in ``[0, num_frames)``.

    Raises:
        ValueError: unknown ``mode`` / ``img_side``, ``min_part`` outside ``(0, 0.5]``, sizes
            < 1, or train mode without an ``rng``.
    """
    n = _positive_int(num_frames, "num_frames")
    t = _positive_int(num_segments, "num_segments")
    if mode not in VIEW_MODES:
        raise ValueError(f"unknown sampling mode {mode!r}; choose one of {', '.join(VIEW_MODES)}")
    if img_side not in ("guidance", "anchor"):
        raise ValueError(f"img_side must be 'guidance' or 'anchor' (got {img_side!r})")
    if not 0.0 < min_part <= 0.5:
        raise ValueError(f"min_part must be in (0, 0.5] (got {min_part})")
    if mode in TSN_MODES:
        train = mode == "tsn_train"
    _need_rng(rng, train)

    whole = (0, n)
    if mode in TSN_MODES:
        return SampledViews(mode, tsn_indices(n, t, train=train, rng=rng), None, whole, None, train)
    if mode == "seq_seq_overlap":
        anchor = tsn_indices(n, t, train=train, rng=rng)  # T
        guidance = tsn_indices(n, t, train=train, rng=rng)  # T
        return SampledViews(mode, anchor, guidance, whole, whole, train)
    if mode == "img_img":
        anchor = _img_view(n, t, train, rng)  # T
        guidance = _img_view(n, t, train, rng)  # T
        return SampledViews(mode, anchor, guidance, whole, whole, train)
    if mode == "img_seq":
        if img_side == "guidance":
            anchor = tsn_indices(n, t, train=train, rng=rng)  # T
            guidance = _img_view(n, t, train, rng)  # T
        else:
            anchor = _img_view(n, t, train, rng)  # T
            guidance = tsn_indices(n, t, train=train, rng=rng)  # T
        return SampledViews(mode, anchor, guidance, whole, whole, train)

    # seq_seq_disjoint
    if n == 1:
        zeros = np.zeros(t, dtype=np.int64)
        return SampledViews(mode, zeros, zeros.copy(), whole, whole, train)
    cut = _disjoint_cut(n, train, rng, min_part)
    early, late = (0, cut), (cut, n)
    anchor_late = bool(rng.integers(2)) if train else False
    anchor_span, guidance_span = (late, early) if anchor_late else (early, late)
    anchor = anchor_span[0] + tsn_indices(anchor_span[1] - anchor_span[0], t, train=train, rng=rng)
    guidance = guidance_span[0] + tsn_indices(
        guidance_span[1] - guidance_span[0], t, train=train, rng=rng
    )
    return SampledViews(mode, anchor, guidance, anchor_span, guidance_span, train)


def two_view_indices(
    num_frames: int,
    num_segments: int,
    mode: str,
    *,
    rng: np.random.Generator | None = None,
    train: bool = True,
    img_side: str = "guidance",
    min_part: float = 0.25,
) -> tuple[np.ndarray, np.ndarray]:
    """Anchor and guidance frame indices of a positive pair; see :func:`sample_views`.

    Args:
        num_frames: N, frames in the video (>= 1).
        num_segments: T, frames per view (>= 1).
        mode: one of :data:`PAIR_MODES`.
        rng: random generator; required when ``train``.
        train: random (True) or deterministic test views (False).
        img_side: which view is the image in ``img_seq`` (default ``"guidance"``, Table 2).
        min_part: smallest part fraction in ``seq_seq_disjoint`` (default 0.25).

    Returns:
        ``(anchor_idx, guidance_idx)``, two int64 arrays ``(num_segments,)`` in
        ``[0, num_frames)``.
    """
    if mode not in PAIR_MODES:
        raise ValueError(f"unknown pair mode {mode!r}; choose one of {', '.join(PAIR_MODES)}")
    views = sample_views(
        num_frames, num_segments, mode, rng=rng, train=train, img_side=img_side, min_part=min_part
    )
    return views.anchor, views.guidance


def pair_statistics(
    num_frames: int,
    num_segments: int,
    mode: str,
    *,
    rng: np.random.Generator,
    num_draws: int = 1000,
    **kwargs,
) -> dict[str, float]:
    """How alike the two views of a pair mode are, averaged over ``num_draws`` train draws.

    Args:
        num_frames: N, frames in the video.
        num_segments: T, frames per view.
        mode: one of :data:`PAIR_MODES`.
        rng: random generator (consumed by the draws, in order).
        num_draws: pairs to draw.
        **kwargs: ``img_side`` / ``min_part``, passed to :func:`sample_views`.

    Returns:
        dict with ``shared_frames`` (mean number of distinct frames in both views) and
        ``time_gap`` (mean ``|mean(anchor) - mean(guidance)| / N``, the distance between the
        two views' temporal centres as a fraction of the video).
    """
    if mode not in PAIR_MODES:
        raise ValueError(f"unknown pair mode {mode!r}; choose one of {', '.join(PAIR_MODES)}")
    num_draws = _positive_int(num_draws, "num_draws")
    shared = np.empty(num_draws)
    gap = np.empty(num_draws)
    for i in range(num_draws):
        v = sample_views(num_frames, num_segments, mode, rng=rng, **kwargs)
        shared[i] = len(np.intersect1d(v.anchor, v.guidance))
        gap[i] = abs(v.anchor.mean() - v.guidance.mean()) / num_frames
    return {"shared_frames": float(shared.mean()), "time_gap": float(gap.mean())}

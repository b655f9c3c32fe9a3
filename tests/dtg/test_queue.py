"""GuidanceQueue: FIFO order, wrap-around, masking, state, ages, stats, all-gather (gloo)."""

from __future__ import annotations

import os
import socket
import sys
import time

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from dtgkit.dtg.queue import GuidanceQueue, concat_all_gather, contrast_stats


def _keys(start: int, n: int, dim: int = 4) -> torch.Tensor:
    """n distinct unit keys whose first coordinate encodes their global index."""
    idx = torch.arange(start, start + n, dtype=torch.float32)
    k = torch.stack([idx, torch.ones(n), -idx, 0.5 * torch.ones(n)], dim=1)[:, :dim]
    return F.normalize(k, dim=1)


def _run_reference(sizes: list[int], K: int, dim: int = 4):
    """The queue as a plain Python list of the last K enqueued keys, oldest first."""
    items: list[tuple[torch.Tensor, int, int]] = []
    start = 0
    for step, n in enumerate(sizes):
        keys = _keys(start, n, dim)
        for j in range(n):
            items.append((keys[j], start + j, step))
        items = items[-K:]
        start += n
    return items


def _enqueue_all(q: GuidanceQueue, sizes: list[int], dim: int = 4) -> None:
    start = 0
    for n in sizes:
        ids = torch.arange(start, start + n)
        q.enqueue(_keys(start, n, dim), video_ids=ids, group_ids=ids // 3)
        start += n


def _check_against_reference(q: GuidanceQueue, sizes: list[int]) -> None:
    ref = _run_reference(sizes, q.K, q.dim)
    order = q.ordered_indices()
    assert int(q.filled) == len(ref) == len(order)
    # the next write goes to ptr: after the oldest row once full (a batch > K writes K rows)
    assert int(q.ptr) == sum(min(n, q.K) for n in sizes) % q.K
    if ref:
        torch.testing.assert_close(q.feats[order], torch.stack([r[0] for r in ref]))
        assert q.video_ids[order].tolist() == [r[1] for r in ref]
        assert q.group_ids[order].tolist() == [r[1] // 3 for r in ref]
        assert q.steps[order].tolist() == [r[2] for r in ref]
    assert int(q.valid_mask().sum()) == len(ref)


def test_initial_state_is_moco_like():
    torch.manual_seed(0)
    q = GuidanceQueue(dim=5, K=9)
    assert q.feats.shape == (9, 5)
    torch.testing.assert_close(q.feats.norm(dim=1), torch.ones(9))
    assert int(q.ptr) == 0 and int(q.filled) == 0 and q.fill_level() == 0.0
    assert (q.video_ids == -1).all() and (q.group_ids == -1).all() and (q.steps == -1).all()
    assert not q.valid_mask().any()
    assert q.ordered_indices().numel() == 0
    names = dict(q.named_buffers())
    assert set(names) == {"feats", "ptr", "filled", "video_ids", "group_ids", "steps",
                          "num_updates"}


@pytest.mark.parametrize("sizes", [
    [3, 3, 3, 3, 3],        # 3 does not divide K=7: writes cross the end
    [4, 4, 4, 1],           # last short batch
    [2, 9],                 # batch bigger than K keeps its last K
    [7, 7, 2],              # exact fills
    [1] * 10,
])
def test_fifo_order_and_wraparound(sizes):
    q = GuidanceQueue(dim=4, K=7)
    start = 0
    for i, n in enumerate(sizes):
        ids = torch.arange(start, start + n)
        q.enqueue(_keys(start, n), video_ids=ids, group_ids=ids // 3)
        start += n
        _check_against_reference(q, sizes[: i + 1])


@settings(max_examples=40, deadline=None)
@given(K=st.integers(1, 11), sizes=st.lists(st.integers(1, 15), min_size=1, max_size=8))
def test_fifo_matches_reference_property(K, sizes):
    q = GuidanceQueue(dim=4, K=K)
    _enqueue_all(q, sizes)
    _check_against_reference(q, sizes)


def test_wraparound_writes_tail_at_start():
    q = GuidanceQueue(dim=4, K=5)
    q.enqueue(_keys(0, 4))
    q.enqueue(_keys(4, 3))  # rows 4, then 0, 1
    torch.testing.assert_close(q.feats[4], _keys(4, 1)[0])
    torch.testing.assert_close(q.feats[0], _keys(5, 1)[0])
    torch.testing.assert_close(q.feats[1], _keys(6, 1)[0])
    assert int(q.ptr) == 2 and int(q.filled) == 5


def test_keys_are_normalised_and_detached():
    q = GuidanceQueue(dim=3, K=4)
    k = torch.tensor([[3.0, 0.0, 4.0]], requires_grad=True)
    q.enqueue(k)
    torch.testing.assert_close(q.feats[0], torch.tensor([0.6, 0.0, 0.8]))
    assert not q.feats.requires_grad


def test_masking_video_group_none():
    q = GuidanceQueue(dim=4, K=6, mask="video")
    q.enqueue(_keys(0, 4), video_ids=torch.tensor([10, 11, 10, 12]),
              group_ids=torch.tensor([1, 1, 2, -1]))
    m = q.negative_mask(video_ids=torch.tensor([10, 12, 99, -1]))
    expected = torch.zeros(4, 6, dtype=torch.bool)
    expected[0, [0, 2]] = True
    expected[1, 3] = True
    assert torch.equal(m, expected)  # unwritten rows (-1) and anchors with id -1 never match
    q.mask = "group"
    m = q.negative_mask(group_ids=torch.tensor([1, 2, -1]))
    expected = torch.zeros(3, 6, dtype=torch.bool)
    expected[0, [0, 1]] = True
    expected[1, 2] = True
    assert torch.equal(m, expected)
    q.mask = "none"
    assert q.negative_mask(torch.tensor([10])) is None


def test_mask_errors():
    with pytest.raises(ValueError, match="mask must be one of"):
        GuidanceQueue(4, 4, mask="vid")
    q = GuidanceQueue(4, 4, mask="group")
    with pytest.raises(ValueError, match="groups"):
        q.negative_mask(video_ids=torch.tensor([1]))
    with pytest.raises(ValueError, match="B x 4"):
        q.enqueue(torch.randn(2, 3))
    with pytest.raises(ValueError, match="3 ids for a batch of 2"):
        q.enqueue(torch.randn(2, 4), video_ids=torch.tensor([1, 2, 3]))


def test_state_dict_round_trip_resumes_exactly():
    torch.manual_seed(1)
    q = GuidanceQueue(dim=4, K=7, mask="video")
    _enqueue_all(q, [3, 3, 3])
    torch.manual_seed(2)
    q2 = GuidanceQueue(dim=4, K=7, mask="video")
    q2.load_state_dict(q.state_dict())
    for name, buf in q.named_buffers():
        assert torch.equal(buf, dict(q2.named_buffers())[name]), name
    q.enqueue(_keys(100, 5), video_ids=torch.arange(5))
    q2.enqueue(_keys(100, 5), video_ids=torch.arange(5))
    for name, buf in q.named_buffers():
        assert torch.equal(buf, dict(q2.named_buffers())[name]), name


def test_ages_and_fill_level():
    q = GuidanceQueue(dim=4, K=5)
    q.enqueue(_keys(0, 2), step=10)
    q.enqueue(_keys(2, 2), step=12)
    assert q.fill_level() == pytest.approx(0.8)
    assert q.ages(15).tolist() == [5, 5, 3, 3]
    q.enqueue(_keys(4, 3), step=13)  # overwrites the two oldest
    assert q.ages(15).tolist() == [3, 3, 2, 2, 2]
    q3 = GuidanceQueue(dim=4, K=3)  # default step = number of enqueue calls
    for i in range(4):
        q3.enqueue(_keys(i, 1))
    assert q3.ages().tolist() == [3, 2, 1]


def test_float64_queue_accepts_float32_keys():
    q = GuidanceQueue(dim=4, K=3).to(torch.float64)
    assert q.feats.dtype == torch.float64 and q.ptr.dtype == torch.long
    q.enqueue(_keys(0, 2))
    assert q.feats.dtype == torch.float64 and int(q.filled) == 2


def test_concat_all_gather_without_process_group_is_identity():
    t = torch.randn(3, 2)
    assert concat_all_gather(t) is t


def _stats_reference(logits, tau, neg_mask, valid):
    N, K1 = logits.shape
    acc, pos, negs, hards = 0.0, 0.0, [], []
    for n in range(N):
        row = logits[n].tolist()
        acc += float(max(range(K1), key=lambda i: (row[i], -i)) == 0)
        pos += row[0] * tau
        kept = [row[1 + j] * tau for j in range(K1 - 1)
                if valid[j] and not (neg_mask is not None and neg_mask[n, j])]
        negs += kept
        if kept:
            hards.append(max(kept))
    return acc / N, pos / N, sum(negs) / len(negs), sum(hards) / len(hards)


def test_contrast_stats_against_loop():
    torch.manual_seed(3)
    tau = 0.1
    logits = torch.randn(6, 9, dtype=torch.float64) * 3
    logits[2, 0] = 50.0  # a clear hit
    valid = torch.tensor([True] * 6 + [False] * 2)
    neg_mask = torch.rand(6, 8) < 0.3
    s = contrast_stats(logits, tau, neg_mask=neg_mask, valid=valid)
    acc, pos, neg, hard = _stats_reference(logits, tau, neg_mask, valid)
    assert float(s["acc"]) == pytest.approx(acc)
    assert float(s["pos_sim"]) == pytest.approx(pos, rel=1e-6)
    assert float(s["neg_sim"]) == pytest.approx(neg, rel=1e-6)
    assert float(s["hard_neg_sim"]) == pytest.approx(hard, rel=1e-6)
    empty = contrast_stats(logits, tau, valid=torch.zeros(8, dtype=torch.bool))
    assert torch.isnan(empty["neg_sim"]) and torch.isnan(empty["hard_neg_sim"])


# ---------------------------------------------------------------- torch.distributed (gloo)
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gloo_worker(rank: int, world: int, port: int, out_dir: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)
    try:
        torch.manual_seed(0)  # same random initial rows on every rank
        q = GuidanceQueue(dim=4, K=7)
        start = 0
        for step, sizes in enumerate([(3, 2), (2, 2), (1, 3)]):  # uneven per-rank batches
            mine = sizes[rank]
            off = start + sum(sizes[:rank])
            q.enqueue(_keys(off, mine), video_ids=torch.arange(off, off + mine), step=step)
            start += sum(sizes)
        torch.save(q.state_dict(), os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow  # ~30 s on 2 shared cores: two fresh interpreters import torch
@pytest.mark.skipif(sys.platform == "win32", reason="gloo tcp spawn test")
def test_gloo_two_ranks_hold_identical_queues(tmp_path):
    import torch.distributed as dist
    import torch.multiprocessing as mp

    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("gloo not available")
    t0 = time.time()
    mp.spawn(_gloo_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    s0 = torch.load(tmp_path / "rank0.pt")
    s1 = torch.load(tmp_path / "rank1.pt")
    for name in s0:
        assert torch.equal(s0[name], s1[name]), name
    # and equal to one process enqueueing the gathered batches (rank order)
    torch.manual_seed(0)
    ref = GuidanceQueue(dim=4, K=7)
    start = 0
    for step, sizes in enumerate([(3, 2), (2, 2), (1, 3)]):
        n = sum(sizes)
        ref.enqueue(_keys(start, n), video_ids=torch.arange(start, start + n), step=step)
        start += n
    for name, buf in ref.state_dict().items():
        assert torch.equal(buf, s0[name]), name
    assert time.time() - t0 < 120


def test_summary_matches_ages():
    q = GuidanceQueue(dim=4, K=5)
    assert torch.isnan(q.summary()["queue_age"])
    q.enqueue(_keys(0, 2), step=10)
    q.enqueue(_keys(2, 4), step=12)
    s = q.summary(15)
    assert float(s["queue_fill"]) == 1.0
    assert float(s["queue_age"]) == pytest.approx(q.ages(15).float().mean().item())

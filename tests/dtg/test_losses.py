"""Losses against slow per-sample Python references (float64)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from dtgkit.dtg import weighting as W
from dtgkit.dtg.losses import (
    MASK_VALUE,
    contrast_rows,
    distinit_l1,
    distinit_soft_ce,
    info_nce,
    info_nce_logits,
    info_nce_loss,
    info_nce_queue,
    joint_loss,
)
from dtgkit.dtg.queue import GuidanceQueue, contrast_stats


def _unit(v: list[float]) -> list[float]:
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def _dot(u: list[float], v: list[float]) -> float:
    return sum(x * y for x, y in zip(u, v))


def _info_nce_reference(a, g, queue, tau, mask=None):
    """Eq. 2 one sample at a time: -log(exp(a.g+/tau) / sum_i exp(a.g_i/tau))."""
    losses, all_logits = [], []
    for n in range(a.shape[0]):
        an, gn = _unit(a[n].tolist()), _unit(g[n].tolist())
        logits = [_dot(an, gn) / tau]
        for j in range(queue.shape[0]):
            if mask is not None and mask[n, j]:
                logits.append(None)
                continue
            logits.append(_dot(an, queue[j].tolist()) / tau)
        kept = [x for x in logits if x is not None]
        losses.append(-(logits[0] - math.log(sum(math.exp(x) for x in kept))))
        all_logits.append(logits)
    return losses, all_logits


@pytest.fixture
def batch():
    torch.manual_seed(0)
    N, D, K = 5, 6, 11
    a = torch.randn(N, D, dtype=torch.float64)
    g = torch.randn(N, D, dtype=torch.float64)
    queue = F.normalize(torch.randn(K, D, dtype=torch.float64), dim=1)
    return a, g, queue


@pytest.mark.parametrize("tau", [0.07, 0.2, 1.0])
def test_info_nce_logits_and_loss_match_loop(batch, tau):
    a, g, queue = batch
    logits = info_nce_logits(a, g, queue, tau)
    assert logits.shape == (5, 1 + 11)
    ref_losses, ref_logits = _info_nce_reference(a, g, queue, tau)
    torch.testing.assert_close(logits, torch.tensor(ref_logits, dtype=torch.float64))
    per = info_nce_loss(logits, reduction="none")
    torch.testing.assert_close(per, torch.tensor(ref_losses, dtype=torch.float64))
    assert float(info_nce_loss(logits)) == pytest.approx(sum(ref_losses) / 5, rel=1e-12)
    assert float(info_nce_loss(logits, "sum")) == pytest.approx(sum(ref_losses), rel=1e-12)
    assert float(info_nce(a, g, queue, tau)) == pytest.approx(sum(ref_losses) / 5, rel=1e-12)


def test_masked_negatives_drop_out_of_the_softmax(batch):
    a, g, queue = batch
    mask = torch.rand(5, 11, generator=torch.Generator().manual_seed(1)) < 0.4
    logits = info_nce_logits(a, g, queue, 0.1, mask)
    assert (logits[:, 1:][mask] == MASK_VALUE).all()
    ref_losses, _ = _info_nce_reference(a, g, queue, 0.1, mask)
    torch.testing.assert_close(info_nce_loss(logits, "none"),
                               torch.tensor(ref_losses, dtype=torch.float64))
    all_masked = torch.ones(5, 11, dtype=torch.bool)  # only the positive left: loss 0
    loss = info_nce_loss(info_nce_logits(a, g, queue, 0.1, all_masked), "none")
    torch.testing.assert_close(loss, torch.zeros(5, dtype=torch.float64))


def test_gradients_flow_to_anchor_and_queue_update_before_backward_is_safe():
    torch.manual_seed(0)
    q = GuidanceQueue(dim=4, K=6)
    a = torch.randn(3, 4, requires_grad=True)
    g = torch.randn(3, 4)
    loss = info_nce(a, g, q.feats, 0.07)
    q.enqueue(g)  # MoCo order: enqueue after the logits, before backward
    loss.backward()
    assert a.grad is not None and torch.isfinite(a.grad).all() and a.grad.abs().sum() > 0


def _reference_grads(a, g, queue, tau, mask, weights):
    """Gradients of sum_n w_n L_n through the plain logits (autograd, float64)."""
    a, g = a.clone().requires_grad_(), g.clone().requires_grad_()
    loss = (info_nce_loss(info_nce_logits(a, g, queue, tau, mask), "none") * weights).sum()
    return torch.autograd.grad(loss, (a, g))


@pytest.mark.parametrize("block", [1, 4, 11, 1024])
@pytest.mark.parametrize("masked", [False, True])
def test_info_nce_queue_matches_loop_and_plain_gradients(batch, block, masked):
    a, g, queue = batch
    tau = 0.07
    mask = torch.rand(5, 11, generator=torch.Generator().manual_seed(4)) < 0.4 if masked else None
    valid = torch.rand(11, generator=torch.Generator().manual_seed(5)) < 0.7
    a_, g_ = a.clone().requires_grad_(), g.clone().requires_grad_()
    out = info_nce_queue(a_, g_, queue, tau, mask, valid=valid, ranks=True, block=block)
    ref_losses, _ = _info_nce_reference(a, g, queue, tau, mask)
    torch.testing.assert_close(out.loss, torch.tensor(ref_losses, dtype=torch.float64))
    weights = torch.rand(5, dtype=torch.float64)  # per-sample weights, as online1 / online2 give
    grads = torch.autograd.grad((out.loss * weights).sum(), (a_, g_))
    for got, want in zip(grads, _reference_grads(a, g, queue, tau, mask, weights)):
        torch.testing.assert_close(got, want)
    want_rows = contrast_rows(info_nce_logits(a, g, queue, tau, mask), mask, valid)
    for name, got, want in zip(want_rows._fields, out.rows, want_rows):
        torch.testing.assert_close(got, want, msg=name)


def test_info_nce_queue_edge_cases_match_the_logits():
    torch.manual_seed(6)
    a, g = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    q = F.normalize(torch.randn(5, 4, dtype=torch.float64), dim=1)
    cases = [(q[:0], None, None),  # K = 0: only the positive
             (q, torch.ones(3, 5, dtype=torch.bool), None),  # every negative masked
             (q, None, torch.zeros(5, dtype=torch.bool)),  # no real entry yet
             (q, None, torch.ones(5, dtype=torch.bool)),  # a full queue
             (q, torch.eye(3, 5, dtype=torch.bool), torch.ones(5, dtype=torch.bool))]
    for queue, mask, valid in cases:
        out = info_nce_queue(a, g, queue, 0.1, mask, valid=valid, ranks=True, block=2)
        logits = info_nce_logits(a, g, queue, 0.1, mask)
        torch.testing.assert_close(out.loss, info_nce_loss(logits, "none"))
        for name, got, want in zip(out.rows._fields, out.rows,
                                   contrast_rows(logits, mask, valid)):
            torch.testing.assert_close(got, want, msg=name)
        for key, v in contrast_stats(out.rows, 0.1).items():
            torch.testing.assert_close(v, contrast_stats(logits, 0.1, neg_mask=mask,
                                                         valid=valid)[key], equal_nan=True)


def test_info_nce_queue_rows_give_the_online2_weights_of_the_logits(batch):
    a, g, queue = batch
    mask = torch.rand(5, 11, generator=torch.Generator().manual_seed(7)) < 0.3
    views = [(a, g, None), (g, a, mask)]
    rows = [info_nce_queue(x, y, queue, 0.2, m, ranks=True, block=3).rows for x, y, m in views]
    logits = [info_nce_logits(x, y, queue, 0.2, m) for x, y, m in views]
    for mode in ("softmax", "reciprocal"):
        torch.testing.assert_close(W.online2(rows, mode=mode),
                                   W.online2(logits, mode=mode, neg_masks=[None, mask]))
    no_ranks = info_nce_queue(a, g, queue, 0.2).rows
    with pytest.raises(ValueError, match="ranks=True"):
        W.online2([no_ranks])


def test_info_nce_queue_is_float32_under_autocast_and_grads_reach_bf16_features():
    torch.manual_seed(9)
    a, g = torch.randn(8, 16).bfloat16().requires_grad_(), torch.randn(8, 16).bfloat16()
    q = F.normalize(torch.randn(40, 16), dim=1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = info_nce_queue(a, g, q, 0.07, block=16)
    assert out.loss.dtype == torch.float32 and out.rows.pos.dtype == torch.float32
    exact = info_nce_loss(info_nce_logits(a.detach().float(), g.float(), q, 0.07), "none")
    torch.testing.assert_close(out.loss, exact, atol=1e-5, rtol=1e-5)
    out.loss.sum().backward()
    assert a.grad.dtype == torch.bfloat16 and torch.isfinite(a.grad.float()).all()


def test_info_nce_queue_keeps_no_n_by_k_tensor_for_backward():
    """The gradient's softmax @ Q is summed in the forward pass: nothing N x K (nor the queue)
    is saved, so the queue can change in place and backward is O(N x D)."""
    torch.manual_seed(8)
    N, D, K = 6, 5, 40
    q = GuidanceQueue(D, K)
    q.enqueue(torch.randn(K, D))
    a = torch.randn(N, D, requires_grad=True)
    g = torch.randn(N, D)
    saved: list[int] = []

    def pack(t):
        saved.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = info_nce(a, g, q.feats, 0.1)
    assert saved and max(saved) <= N * D  # the plain path saves N x (1+K) logits and Q
    before = torch.autograd.grad(info_nce(a, g, q.feats.clone(), 0.1), a)[0]
    q.enqueue(torch.randn(N, D))  # MoCo order: the queue changes before backward
    loss.backward()
    torch.testing.assert_close(a.grad, before)


def test_perfect_match_has_low_loss():
    e = torch.eye(4, dtype=torch.float64)
    logits = info_nce_logits(e, e, -e, tau=0.07)  # positives cos 1, negatives cos <= 0
    assert float(info_nce_loss(logits)) < 1e-5


def test_distinit_l1_values():
    s = torch.tensor([[1.0, 0.0], [3.0, 4.0]], dtype=torch.float64)
    t = torch.tensor([[0.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    # normalised: |1-0| + |0-1| over 2 dims = 1.0 ; identical directions = 0
    torch.testing.assert_close(distinit_l1(s, t, reduction="none"),
                               torch.tensor([1.0, 0.0], dtype=torch.float64))
    assert float(distinit_l1(s, t)) == pytest.approx(0.5)
    raw = distinit_l1(s, t, normalize=False, reduction="none")  # (1+2)/2, 0
    torch.testing.assert_close(raw, torch.tensor([1.5, 0.0], dtype=torch.float64))
    torch.manual_seed(2)
    s, t = torch.randn(4, 7, dtype=torch.float64), torch.randn(4, 7, dtype=torch.float64)
    ref = [sum(abs(x - y) for x, y in zip(_unit(s[n].tolist()), _unit(t[n].tolist()))) / 7
           for n in range(4)]
    torch.testing.assert_close(distinit_l1(s, t, reduction="none"),
                               torch.tensor(ref, dtype=torch.float64))


def test_distinit_l1_summed_over_dimensions():
    """dims="sum" is the L1 distance (the reference's sum without the / D), so its gradient is
    D times the mean's; a bad reduction name is one clear error."""
    torch.manual_seed(4)
    s, t = torch.randn(4, 7, dtype=torch.float64), torch.randn(4, 7, dtype=torch.float64)
    ref = [sum(abs(x - y) for x, y in zip(_unit(s[n].tolist()), _unit(t[n].tolist())))
           for n in range(4)]
    torch.testing.assert_close(distinit_l1(s, t, reduction="none", dims="sum"),
                               torch.tensor(ref, dtype=torch.float64))
    grads = []
    for dims in ("mean", "sum"):
        x = s.clone().requires_grad_(True)
        distinit_l1(x, t, dims=dims).backward()
        grads.append(x.grad)
    torch.testing.assert_close(grads[1], 7 * grads[0])
    with pytest.raises(ValueError, match="dims must be one of"):
        distinit_l1(s, t, dims="max")


def test_distinit_l1_does_not_train_teacher():
    s = torch.randn(2, 3, requires_grad=True)
    t = torch.randn(2, 3, requires_grad=True)
    distinit_l1(s, t).backward()
    assert s.grad is not None and t.grad is None


@pytest.mark.parametrize("T", [1.0, 2.0, 0.5])
def test_distinit_soft_ce_matches_loop(T):
    torch.manual_seed(3)
    s = torch.randn(4, 5, dtype=torch.float64)
    t = torch.randn(4, 5, dtype=torch.float64)
    ref = []
    for n in range(4):
        pt = [math.exp(x / T) for x in t[n].tolist()]
        pt = [x / sum(pt) for x in pt]
        z = math.log(sum(math.exp(x / T) for x in s[n].tolist()))
        ref.append(-sum(p * (x / T - z) for p, x in zip(pt, s[n].tolist())))
    torch.testing.assert_close(distinit_soft_ce(s, t, T, reduction="none"),
                               torch.tensor(ref, dtype=torch.float64))
    assert float(distinit_soft_ce(s, t, T)) == pytest.approx(sum(ref) / 4, rel=1e-12)


def test_distinit_soft_ce_with_confident_teacher_is_cross_entropy():
    s = torch.randn(3, 4, dtype=torch.float64)
    labels = torch.tensor([0, 3, 1])
    t = F.one_hot(labels, 4).to(torch.float64) * 1e4
    assert float(distinit_soft_ce(s, t)) == pytest.approx(float(F.cross_entropy(s, labels)))


def test_joint_loss_eq3():
    assert float(joint_loss(torch.tensor(2.0), torch.tensor(3.0))) == pytest.approx(3.2)
    assert float(joint_loss(torch.tensor(2.0), torch.tensor(3.0), alpha=1.0, beta=0.5)) == \
        pytest.approx(3.5)


def test_bad_reduction():
    with pytest.raises(ValueError, match="reduction"):
        distinit_l1(torch.randn(2, 3), torch.randn(2, 3), reduction="avg")

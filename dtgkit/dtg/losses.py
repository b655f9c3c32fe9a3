"""Losses of DTG-Net and of its baselines: InfoNCE with a queue (Eq. 2), DistInit, joint (Eq. 3).

Vocabulary: ``a`` anchor features (student, Sec. 3.1), ``g`` guidance features (teacher),
``K`` queue size, ``tau`` temperature. Every function is pure; none updates a queue.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from dtgkit.dtg.options import DISTINIT_L1_DIMS

# Value given to the logits of masked negatives: exp(-1e4 - max) is exactly 0 in every float
# dtype, and a finite value keeps 0 * value (in gradients) free of NaN. Real logits are >= -1/tau.
MASK_VALUE = -1.0e4
# Logits per block of the fused InfoNCE (N anchors x QUEUE_BLOCK_LOGITS / N queue rows): blocks
# bound its memory to 64 MiB of float32 logits (N 256 x K 65536 is one block). Cache-sized
# blocks (2 MiB) ran at 0.8x the N x K matmul on one idle core (1.2x for one block), but each
# block costs a handful of parallel regions whose thread wake-ups dominate on shared cores: at 2
# threads on the loaded 2-core machine 32 blocks took 2.2 s, one block 0.35 s (matmul 0.3 s).
QUEUE_BLOCK_LOGITS = 1 << 24


def info_nce_logits(
    a: torch.Tensor,
    g_pos: torch.Tensor,
    queue_feats: torch.Tensor,
    tau: float = 0.07,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Logits of Eq. 2: similarity of the anchor to its positive and to the K queued negatives.

    ``Similarity = a . g`` "defined by dot product as in [16]" (Sec. 3.4) of L2-normalised
    features, divided by the temperature. Compute these *before* enqueueing the batch's keys.

    Args:
        a: N x D anchor features (normalised here).
        g_pos: N x D guidance features of the same videos (normalised here; used as given, so
            detach them if they must not receive gradients).
        queue_feats: K x D L2-normalised negatives (``GuidanceQueue.feats``); copied and
            detached, so the queue may be updated before ``backward``.
        tau: temperature; the paper gives no value and uses the InfoNCE "from [16]" (MoCo v1:
            0.07). Default 0.07.
        mask: N x K bool, True = that queue entry is not a negative for that anchor (e.g. the
            anchor's own video); its logit is set to ``MASK_VALUE``.

    Returns:
        N x (1+K) logits, the positive at index 0, in float32 (or float64 for float64 inputs).

    The logits are computed in float32 even under autocast: in bf16 they differ from fp32 by up
    to 0.03 at tau = 0.07 (0.4 % of the gradient), which would blur the instance accuracy and the
    ranks ``online2`` weights by. Gradients flow back to the low-precision features as usual.
    """
    if a.dtype in (torch.float16, torch.bfloat16):
        a = a.float()
    with torch.autocast(device_type=a.device.type, enabled=False):
        a = F.normalize(a, dim=1)  # a: N x D
        g_pos = F.normalize(g_pos.to(a.dtype), dim=1)  # g_pos: N x D
        l_pos = torch.einsum("nd,nd->n", a, g_pos).unsqueeze(1)  # l_pos: N x 1
        # a copy, like MoCo's queue.clone(): the queue is updated in place before backward
        negs = queue_feats.detach().to(a.dtype).clone()  # negs: K x D
        l_neg = a @ negs.t()  # l_neg: N x K
        if mask is not None:
            l_neg = l_neg.masked_fill(mask.to(l_neg.device), MASK_VALUE * tau)  # N x K
        return torch.cat([l_pos, l_neg], dim=1) / tau  # logits: N x (1+K)


def info_nce_loss(logits: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Eq. 2, ``-log(exp(a.g+/tau) / sum_{i=0..K} exp(a.g_i/tau))``: cross-entropy, label 0.

    Args:
        logits: N x (1+K) from :func:`info_nce_logits`.
        reduction: ``"mean"`` (0-d), ``"sum"`` or ``"none"`` (N per-sample losses, for the
            per-sample weights of ``online1`` / ``online2``).

    Returns:
        0-d or N loss.
    """
    labels = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)  # N
    return F.cross_entropy(logits, labels, reduction=reduction)


def info_nce(
    a: torch.Tensor,
    g_pos: torch.Tensor,
    queue_feats: torch.Tensor,
    tau: float = 0.07,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Eq. 2 in one call: :func:`info_nce_loss` of :func:`info_nce_logits`, same arguments and
    value, computed by :func:`info_nce_queue` without the N x (1+K) logits."""
    return _reduce(info_nce_queue(a, g_pos, queue_feats, tau, mask, rows=False).loss, reduction)


class ContrastRows(NamedTuple):
    """Per-anchor reductions of the N x (1+K) logits of Eq. 2 (positive at index 0): what the
    diagnostics (:func:`dtgkit.dtg.queue.contrast_stats`) and the online2 weights
    (:func:`dtgkit.dtg.weighting.online2`) need, without the logits themselves.

    All N tensors, detached, float32 (float64 for float64 inputs).

    Attributes:
        pos: the positive logit a.g+/tau.
        top_neg: the largest negative logit as the loss sees it (masked ones at ``MASK_VALUE``,
            the queue's random initial rows included); ``-inf`` when K = 0.
        n_neg: unmasked negatives.
        real_sum: sum of the logits of the real (``valid``), unmasked negatives.
        real_count: how many real, unmasked negatives there are.
        real_max: the largest of them (``-inf`` when there is none).
        above: unmasked negatives whose logit is >= the positive's (ties count against it);
            None unless asked for (``ranks=True``: it costs a comparison of every logit).
    """

    pos: torch.Tensor
    top_neg: torch.Tensor
    n_neg: torch.Tensor
    real_sum: torch.Tensor
    real_count: torch.Tensor
    real_max: torch.Tensor
    above: torch.Tensor | None = None


def contrast_rows(
    logits: torch.Tensor,
    neg_mask: torch.Tensor | None = None,
    valid: torch.Tensor | None = None,
) -> ContrastRows:
    """:class:`ContrastRows` of full logits (``above`` included): the plain version of what
    :func:`info_nce_queue` gathers block by block.

    Args:
        logits: N x (1+K) from :func:`info_nce_logits`.
        neg_mask: N x K bool, True = excluded negative.
        valid: K bool, True = real queue entry; default all real.
    """
    logits = logits.detach()  # N x (1+K)
    dt = _acc_dtype(logits)
    pos, neg = logits[:, 0].to(dt), logits[:, 1:].to(dt)  # N, N x K
    unmasked = torch.ones_like(neg, dtype=torch.bool)  # N x K
    if neg_mask is not None:
        unmasked &= ~neg_mask.to(neg.device)
    keep = unmasked & valid.to(neg.device)[None, :] if valid is not None else unmasked  # N x K
    ninf = neg.new_full((len(pos), 1), float("-inf"))  # N x 1: max of nothing
    return ContrastRows(
        pos=pos,
        top_neg=torch.cat([ninf, neg], dim=1).amax(dim=1),
        n_neg=unmasked.sum(dim=1).to(dt),
        real_sum=torch.where(keep, neg, 0.0).sum(dim=1),
        real_count=keep.sum(dim=1).to(dt),
        real_max=torch.cat([ninf, torch.where(keep, neg, ninf)], dim=1).amax(dim=1),
        above=((neg >= pos[:, None]) & unmasked).sum(dim=1).to(dt),
    )


class InfoNCEQueue(NamedTuple):
    """What :func:`info_nce_queue` returns: ``loss`` N (differentiable), ``rows`` or None."""

    loss: torch.Tensor
    rows: ContrastRows | None


def info_nce_queue(
    a: torch.Tensor,
    g_pos: torch.Tensor,
    queue_feats: torch.Tensor,
    tau: float = 0.07,
    mask: torch.Tensor | None = None,
    *,
    valid: torch.Tensor | None = None,
    rows: bool = True,
    ranks: bool = False,
    block: int | None = None,
) -> InfoNCEQueue:
    """Per-sample Eq. 2 with a queue, fused: one pass over the queue, no N x (1+K) tensor.

    Same value as ``info_nce_loss(info_nce_logits(a, g_pos, queue_feats, tau, mask), "none")``
    (to rounding; the float64 tests hold both to the per-sample reference), in float32 under
    autocast too, at about the cost of the N x K matrix product alone:

    * 1/tau is folded into the anchor, so each logit is written once, by the product;
    * ``l_pos = a.g+`` is computed apart, and ``logsumexp`` runs over ``[l_pos, a @ Q.T]``
      without concatenating, in place on the product's output, block by block over the queue
      when N x K is large (a running max and sum, as in flash attention);
    * the gradient of Eq. 2 needs ``softmax @ Q``: when a gradient is wanted it is summed in
      the same pass, so ``backward`` costs O(N x D) and keeps neither an N x K tensor nor a
      copy of the queue: the queue may be updated in place before ``backward`` (MoCo's order).

    Args:
        a, g_pos, queue_feats, tau, mask: as :func:`info_nce_logits` (``g_pos`` may carry a
            gradient; the queue never does).
        valid: K bool, real queue entries (``GuidanceQueue.valid_mask()``), for ``rows``.
        rows: also return the :class:`ContrastRows` of the logits (the diagnostics).
        ranks: include ``rows.above`` (for the online2 weights).
        block: queue rows per block; default ``QUEUE_BLOCK_LOGITS // N``.

    Returns:
        :class:`InfoNCEQueue` ``(loss N, rows or None)``.
    """
    if a.dtype in (torch.float16, torch.bfloat16):  # float32 under autocast, as info_nce_logits
        a = a.float()
    mask = mask.to(a.device) if mask is not None else None  # N x K
    valid = valid.to(a.device) if valid is not None else None  # K
    out: list[ContrastRows | None] = [None]  # the rows come back through here (not a grad input)
    block = block or max(1, QUEUE_BLOCK_LOGITS // max(1, a.shape[0]))
    with torch.autocast(device_type=a.device.type, enabled=False):
        a = F.normalize(a, dim=1) / tau  # a: N x D, 1/tau folded in
        g_pos = F.normalize(g_pos.to(a.dtype), dim=1)  # g_pos: N x D
        loss = _QueueInfoNCE.apply(a, g_pos, queue_feats.detach(), mask, valid,
                                   bool(rows or ranks), bool(ranks), int(block), out)  # N
    return InfoNCEQueue(loss, out[0])


def _acc_dtype(x: torch.Tensor) -> torch.dtype:
    """Accumulation dtype: float64 stays float64, everything else sums in float32."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


class _QueueInfoNCE(torch.autograd.Function):
    """Blockwise Eq. 2 (see :func:`info_nce_queue`): forward also sums the gradient's
    ``softmax @ Q`` when one is wanted, so backward only scales it by the incoming grad."""

    @staticmethod
    def forward(ctx, a, g, queue, mask, valid, want_rows, want_above, block, out):
        # a: N x D (already / tau), g: N x D unit, queue: K x D
        N, K = a.shape[0], queue.shape[0]
        dt = _acc_dtype(a)
        grad_a, grad_g = ctx.needs_input_grad[:2]
        pos = (a * g).sum(dim=1).to(dt)  # l_pos: N
        run_max = pos.clone()  # N: max over [l_pos, the negatives so far]
        run_sum = torch.ones_like(pos)  # N: sum of exp(l - run_max), exp(l_pos - l_pos) = 1
        soft_q = a.new_zeros(N, a.shape[1], dtype=dt) if grad_a else None  # N x D
        ninf = float("-inf")
        if want_rows:
            real_sum, above = pos.new_zeros(N), pos.new_zeros(N)  # N, N
            top, real_max = pos.new_full((N,), ninf), pos.new_full((N,), ninf)  # N, N
            # a full queue (the usual case) needs no selection: the sum and max of every logit
            # (where(all True) gives the same numbers; looked up on the CPU only: no device sync)
            if valid is not None and valid.device.type == "cpu" and bool(valid.all()):
                valid = None
        for j in range(0, K, block):
            q = queue[j:j + block].to(a.dtype)  # q: B x D
            logit = (a @ q.t()).to(dt)  # logit: N x B
            m = mask[:, j:j + block] if mask is not None else None  # N x B
            if m is not None:
                logit.masked_fill_(m, MASK_VALUE)
            blk_max = logit.amax(dim=1)  # N
            if want_rows:
                top = torch.maximum(top, blk_max)
                if m is None and valid is None:  # every negative is real and unmasked
                    real_sum += logit.sum(dim=1)
                    real_max = torch.maximum(real_max, blk_max)
                else:  # real = valid and unmasked
                    keep = valid[j:j + block].expand_as(logit) if valid is not None else ~m
                    if m is not None and valid is not None:
                        keep = keep & ~m  # N x B
                    real_sum += torch.where(keep, logit, 0.0).sum(dim=1)
                    real_max = torch.maximum(real_max, torch.where(keep, logit, ninf).amax(dim=1))
                if want_above:
                    ge = logit >= pos[:, None]  # N x B, ties count against the positive
                    above += (ge & ~m if m is not None else ge).sum(dim=1)
            new_max = torch.maximum(run_max, blk_max)  # N
            rescale = torch.exp(run_max - new_max)  # N
            prob = logit.sub_(new_max[:, None]).exp_()  # N x B: exp(l - new_max), in place
            run_sum = run_sum * rescale + prob.sum(dim=1)
            if soft_q is not None:
                soft_q.mul_(rescale[:, None]).addmm_(prob, q.to(dt))  # N x D
            run_max = new_max
        lse = run_max + run_sum.log()  # N
        if grad_a or grad_g:
            # d loss_n / d a_n = sum_j p_nj q_j - (1 - p_n0) g_n ; d loss_n / d g_n = -(1 - p_n0) a_n
            miss = 1.0 - torch.exp(pos - lse)  # N: 1 - softmax weight of the positive
            d_a = soft_q / run_sum[:, None] - miss[:, None] * g.to(dt) if grad_a else None
            d_g = -miss[:, None] * a.to(dt) if grad_g else None  # N x D
            ctx.save_for_backward(d_a, d_g)
        if want_rows:
            n_neg, real_count = _row_counts(mask, valid, N, K, pos)  # N, N
            real_max = torch.where(real_count > 0, real_max, ninf)  # N
            out[0] = ContrastRows(pos, top, n_neg, real_sum, real_count, real_max,
                                  above if want_above else None)
        ctx.dtypes = a.dtype, g.dtype
        return lse - pos  # loss: N, float32 (float64 for float64 inputs)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_loss):  # grad_loss: N
        d_a, d_g = ctx.saved_tensors  # N x D each, or None
        c = grad_loss[:, None]  # N x 1
        return (None if d_a is None else (c * d_a).to(ctx.dtypes[0]),
                None if d_g is None else (c * d_g).to(ctx.dtypes[1]),
                None, None, None, None, None, None, None)


def _row_counts(mask: torch.Tensor | None, valid: torch.Tensor | None, N: int, K: int,
                like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(unmasked negatives, real unmasked negatives) per anchor, N each, dtype of ``like``."""
    dtype = like.dtype
    full = like.new_full((N,), float(K))  # N
    n_neg = full - mask.sum(dim=1).to(dtype) if mask is not None else full
    if valid is None:
        return n_neg, n_neg
    keep = valid[None, :] & ~mask if mask is not None else valid[None, :]  # N x K or 1 x K
    return n_neg, keep.sum(dim=1).to(dtype).expand(N)


def distinit_l1(
    student_feats: torch.Tensor,
    teacher_feats: torch.Tensor,
    *,
    normalize: bool = True,
    reduction: str = "mean",
    dims: str = "mean",
) -> torch.Tensor:
    """DistInit [13] feature fitting: L1 between the student's projected and the teacher's feature.

    "the Dist Init fits the anchor feature representation R_anchor into the teacher feature
    representation R_guidance with L1 loss" (Sec. 3.3): each sample on its own, no negatives.
    Per sample the loss is the *mean* absolute difference over the D dimensions
    (``torch.nn.L1Loss`` convention, ``dims="mean"``, the default), so its scale does not grow
    with D; or their *sum* (``dims="sum"``, the L1 distance). Between unit vectors the mean's
    gradient is 1/D of the sum's: for a 1280-d teacher ~1/1000 of an InfoNCE gradient at the
    same lr, so at one lr for all methods the mean barely moves the student (measured in
    issue 13: cosine to the teacher 0.33 after 300 steps with the mean, 0.55 after 100 with
    the sum). The paper gives no reduction; the ``lab`` preset uses the sum.

    Args:
        student_feats: N x D, the student's feature after its projection head.
        teacher_feats: N x D teacher features (treated as constants: detached).
        normalize: L2-normalise both first (default True: a ``ProjectionHead`` output is unit
            length, so the teacher's must be too for the fit to be reachable).
        reduction: over the batch: ``"mean"`` (0-d), ``"sum"`` or ``"none"`` (N).
        dims: over the D dimensions: ``"mean"`` (default) or ``"sum"``.

    Returns:
        0-d or N loss.
    """
    if dims not in DISTINIT_L1_DIMS:
        raise ValueError(f"dims must be one of {DISTINIT_L1_DIMS}, got {dims!r}")
    s, t = student_feats, teacher_feats.detach()  # N x D, N x D
    if normalize:
        s, t = F.normalize(s, dim=1), F.normalize(t, dim=1)  # N x D, N x D
    diff = (s - t).abs()  # N x D
    per_sample = diff.sum(dim=1) if dims == "sum" else diff.mean(dim=1)  # N
    return _reduce(per_sample, reduction)


def distinit_soft_ce(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    T: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    """DistInit [13] posterior fitting: cross-entropy to the teacher's softened class posterior.

    ``L = -sum_c softmax(t/T)_c * log softmax(s/T)_c`` per sample, no negatives, no ``T**2``
    factor (it only rescales the loss).

    Args:
        student_logits: N x C, the student's head over the teacher's C classes.
        teacher_logits: N x C teacher logits (detached).
        T: softmax temperature applied to both (default 1.0).
        reduction: ``"mean"`` (0-d), ``"sum"`` or ``"none"`` (N).

    Returns:
        0-d or N loss.
    """
    p_t = F.softmax(teacher_logits.detach() / T, dim=1)  # N x C
    log_p_s = F.log_softmax(student_logits / T, dim=1)  # N x C
    per_sample = -(p_t * log_p_s).sum(dim=1)  # N
    return _reduce(per_sample, reduction)


def joint_loss(
    l_contrast: torch.Tensor, l_ce: torch.Tensor, alpha: float = 0.1, beta: float = 1.0
) -> torch.Tensor:
    """Supervised DTG-Net, Eq. 3: ``L_joint = alpha * L_CT + beta * L_CE``.

    Args:
        l_contrast: the contrastive loss of DTG-Net (Eq. 2).
        l_ce: the cross-entropy of the student's classifier on labels.
        alpha: weight of the contrastive loss; paper 0.1 (Sec. 4.4.1).
        beta: weight of the cross-entropy; paper 1.0.

    Returns:
        the joint loss (same shape as the inputs).
    """
    return alpha * l_contrast + beta * l_ce


def _reduce(per_sample: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return per_sample.mean()
    if reduction == "sum":
        return per_sample.sum()
    if reduction == "none":
        return per_sample
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")

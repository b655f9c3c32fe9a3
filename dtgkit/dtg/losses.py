"""Losses of DTG-Net and of its baselines: InfoNCE with a queue (Eq. 2), DistInit, joint (Eq. 3).

Vocabulary: ``a`` anchor features (student, Sec. 3.1), ``g`` guidance features (teacher),
``K`` queue size, ``tau`` temperature. Every function is pure; none updates a queue.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Value given to the logits of masked negatives: exp(-1e4 - max) is exactly 0 in every float
# dtype, and a finite value keeps 0 * value (in gradients) free of NaN. Real logits are >= -1/tau.
MASK_VALUE = -1.0e4


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
    """:func:`info_nce_loss` of :func:`info_nce_logits` (Eq. 2) in one call; same arguments."""
    return info_nce_loss(info_nce_logits(a, g_pos, queue_feats, tau, mask), reduction)


def distinit_l1(
    student_feats: torch.Tensor,
    teacher_feats: torch.Tensor,
    *,
    normalize: bool = True,
    reduction: str = "mean",
) -> torch.Tensor:
    """DistInit [13] feature fitting: L1 between the student's projected and the teacher's feature.

    "the Dist Init fits the anchor feature representation R_anchor into the teacher feature
    representation R_guidance with L1 loss" (Sec. 3.3): each sample on its own, no negatives.
    Per sample the loss is the *mean* absolute difference over the D dimensions
    (``torch.nn.L1Loss`` convention), so its scale does not grow with D.

    Args:
        student_feats: N x D, the student's feature after its projection head.
        teacher_feats: N x D teacher features (treated as constants: detached).
        normalize: L2-normalise both first (default True: a ``ProjectionHead`` output is unit
            length, so the teacher's must be too for the fit to be reachable).
        reduction: ``"mean"`` (0-d), ``"sum"`` or ``"none"`` (N).

    Returns:
        0-d or N loss.
    """
    s, t = student_feats, teacher_feats.detach()  # N x D, N x D
    if normalize:
        s, t = F.normalize(s, dim=1), F.normalize(t, dim=1)  # N x D, N x D
    per_sample = (s - t).abs().mean(dim=1)  # N
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

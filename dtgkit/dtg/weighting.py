"""Weights of the differentiated teachers (Eq. 1, Sec. 3.3.1 and 4.3.3).

Eq. 1: ``R_guidance = sum_k w_k R_guidance,k`` with ``sum_k w_k = 1``. Sec. 4.3.3 applies the
weights to the per-teacher contrastive losses ("weighing each contrastive loss between a teacher
and the student task"). Every function here returns weights that are non-negative and sum to 1
over the M teachers, either per teacher (shape ``M``) or per sample and teacher (``N x M``).

Weights are computed under ``torch.no_grad``: they are not trained and carry no gradient (the
paper describes them as computed, not learned; letting gradients flow into online weights
would let the student lower its loss by shifting weight instead of fitting the guidance).

Choices where the paper is vague are documented in each function.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from dtgkit.dtg.losses import ContrastRows
from dtgkit.dtg.options import DEFAULT_TAU

#: the softmax temperature of each weighting when none is given (``dtg.weight_temperature=0``)
DEFAULT_TEMPERATURES = {"offline": 1.0, "online2": 0.1}


def temperature_for(weighting: str, temperature: float | None = None, *,
                    tau: float = DEFAULT_TAU) -> float:
    """The softmax temperature a weighting uses: ``temperature`` when given (not 0 / None),
    else the weighting's default: offline 1.0 (the paper's example), online1 ``tau`` (the
    weights are then the softmax over teachers of the positive logits of Eq. 2), online2 0.1.

    Args:
        weighting: ``"offline"``, ``"online1"`` or ``"online2"``.
        temperature: the configured temperature (``dtg.weight_temperature``); 0 / None = default.
        tau: the InfoNCE temperature (online1's default).
    """
    if temperature:
        return float(temperature)
    if weighting == "online1":
        return float(tau)
    if weighting not in DEFAULT_TEMPERATURES:
        raise ValueError(f"weighting {weighting!r} has no temperature (offline, online1, online2 do)")
    return DEFAULT_TEMPERATURES[weighting]


def uniform(M: int) -> torch.Tensor:
    """The unweighted fusion of Table 3 (rows marked ✗): ``w_k = 1 / M``.

    Args:
        M: number of teachers.

    Returns:
        M float64 weights.
    """
    if M < 1:
        raise ValueError(f"need at least one teacher, got M={M}")
    return torch.full((M,), 1.0 / M, dtype=torch.float64)


def fixed(w: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """User-given weights, normalised to sum 1: ``w_k / sum_j w_j``.

    Args:
        w: M non-negative numbers, not all zero.

    Returns:
        M float64 weights.

    Raises:
        ValueError: naming the values, if any is negative or not finite, or all are zero.
    """
    t = torch.as_tensor(w, dtype=torch.float64).reshape(-1)  # M
    if t.numel() == 0:
        raise ValueError("fixed weights: got an empty list")
    if not torch.isfinite(t).all() or (t < 0).any():
        raise ValueError(f"fixed weights must be finite and >= 0, got {t.tolist()}")
    if t.sum() == 0:
        raise ValueError(f"fixed weights must not all be zero, got {t.tolist()}")
    return t / t.sum()


def offline(accs: Sequence[float] | torch.Tensor, temperature: float = 1.0, *,
            percent_check: bool = True) -> torch.Tensor:
    """The *offline* weighting: softmax over each single-teacher DTG run's top-1 accuracy.

    "The offline way performs DTG-Nets with each teacher task separately to obtain their
    accuracy results, namely, the softmax output on the top1 accuracy. Then these accuracy
    values are used as the weights, such as (0.067, 3.0e-6, 0.51, 0.43)" (Sec. 4.3.3), with the
    accuracies of Table 3 (59.98, 49.96, 62.01, 61.83). Formula:
    ``w_k = exp(acc_k / temperature) / sum_j exp(acc_j / temperature)``, accuracies in percent.
    With temperature 1 this gives (0.0668, 2.97e-6, 0.5085, 0.4247): the paper's example to its
    printed digits except 0.43, which is 0.4247 rounded up (the printed weights sum to 1.007).

    Args:
        accs: M top-1 accuracies in percent (59.98, not 0.5998).
        temperature: softmax temperature (default 1.0, as in the paper's example).
        percent_check: reject accuracies that are all <= 1 as fractions given by mistake;
            off for a proxy that can legitimately score that low in percent (random teachers).

    Returns:
        M float64 weights.

    Raises:
        ValueError: if accuracies are outside [0, 100], not finite, or (``percent_check``) all
            <= 1.
    """
    a = torch.as_tensor(accs, dtype=torch.float64).reshape(-1)  # M
    if a.numel() == 0 or not torch.isfinite(a).all() or (a < 0).any() or (a > 100).any():
        raise ValueError(f"offline weights need top-1 accuracies in percent, got {a.tolist()}")
    if percent_check and (a <= 1).all():
        raise ValueError(f"offline accuracies {a.tolist()} look like fractions; give percent "
                         "(59.98, not 0.5998) as the paper does")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return torch.softmax(a / temperature, dim=0)


@torch.no_grad()
def online1(
    pos_sims: torch.Tensor, temperature: float = 0.07, mode: str = "softmax"
) -> torch.Tensor:
    """The *online1* weighting: per sample, from each teacher's positive-pair similarity.

    "we use the dot product similarity of the positive pair as the weights of corresponding
    contrastive loss" (Sec. 4.3.3); Table 3: "the weights are determined by the dot product
    similarity of the positive pairs of multiple teacher tasks". The raw similarity can be
    negative and does not sum to 1 (Eq. 1), so it is normalised over the teachers:

    * ``mode="softmax"`` (default): ``w_nk = softmax_k(s_nk / temperature)`` with
      ``s_nk = a_nk . g_nk+``. The default temperature 0.07 equals the default tau, so the
      weights are the softmax over teachers of the positive logits of Eq. 2.
    * ``mode="proportional"`` (the literal reading): ``w_nk = max(s_nk, 0) / sum_j max(s_nj, 0)``,
      uniform for a sample whose similarities are all <= 0. ``temperature`` is unused.

    Args:
        pos_sims: N x M cosine similarities a . g+ of each sample to each teacher's positive.
        temperature: softmax temperature (default 0.07).
        mode: ``"softmax"`` or ``"proportional"``.

    Returns:
        N x M weights (rows sum to 1), no gradient.
    """
    s = pos_sims.detach()  # N x M
    if mode == "softmax":
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        return torch.softmax(s / temperature, dim=1)  # N x M
    if mode == "proportional":
        pos = s.clamp(min=0)  # N x M
        total = pos.sum(dim=1, keepdim=True)  # N x 1
        flat = torch.full_like(pos, 1.0 / s.shape[1])  # N x M
        return torch.where(total > 0, pos / total.clamp(min=1e-12), flat)  # N x M
    raise ValueError(f"online1 mode must be 'softmax' or 'proportional', got {mode!r}")


def _negatives_above(
    logits: torch.Tensor | ContrastRows, neg_mask: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(negatives scoring >= the positive, unmasked negatives), N each, from the logits or
    from :class:`~dtgkit.dtg.losses.ContrastRows` with ``above`` (``info_nce_queue(ranks=True)``)."""
    if isinstance(logits, ContrastRows):
        if logits.above is None:
            raise ValueError("online2 needs the ranks: info_nce_queue(..., ranks=True)")
        return logits.above, logits.n_neg
    above = logits[:, 1:] >= logits[:, :1]  # N x K (ties count against the positive)
    n_neg = torch.full((logits.shape[0],), logits.shape[1] - 1, device=logits.device,
                       dtype=logits.dtype)  # N
    if neg_mask is not None:
        above &= ~neg_mask.to(above.device)
        n_neg = n_neg - neg_mask.to(above.device).sum(dim=1).to(logits.dtype)
    return above.sum(dim=1).to(logits.dtype), n_neg  # N, N


@torch.no_grad()
def positive_rank(
    logits: torch.Tensor | ContrastRows, neg_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Normalised rank of the positive among the 1+K pairs: the fraction of negatives above it.

    ``q_n = #{i >= 1 : l_ni >= l_n0, not masked} / #{unmasked negatives}`` in [0, 1]; 0 when
    the positive has the top logit. Ties count against the positive.

    Args:
        logits: N x (1+K), positive at index 0, or their
            :class:`~dtgkit.dtg.losses.ContrastRows` with ``above``.
        neg_mask: N x K bool, True = excluded negative (not counted; with logits only).

    Returns:
        N float normalised ranks.
    """
    above, n_neg = _negatives_above(logits, neg_mask)  # N, N (under no_grad)
    return above / n_neg.clamp(min=1)  # N


@torch.no_grad()
def online2(
    logits: Sequence[torch.Tensor],
    temperature: float = 0.1,
    mode: str = "softmax",
    neg_masks: Sequence[torch.Tensor | None] | None = None,
) -> torch.Tensor:
    """The *online2* weighting: per sample, from the rank of the positive pair per teacher.

    "online2 method determines the loss weights by the ranking of the similarity of the
    positive pair in all of the contrastive pairs" (Sec. 4.3.3). The paper gives no formula; a
    teacher whose positive ranks higher among its K+1 pairs gets more weight:

    * ``mode="softmax"`` (default): ``w_nk = softmax_k(-q_nk / temperature)`` where
      ``q_nk`` in [0, 1] is the fraction of teacher k's negatives scoring at least the positive
      (:func:`positive_rank`); normalising by K makes it independent of the queue size.
    * ``mode="reciprocal"``: ``w_nk ∝ 1 / r_nk`` with the integer rank ``r = 1 + #above``
      (reciprocal rank); ``temperature`` is unused.

    Args:
        logits: M tensors N x (1+K_k), one per teacher, positive at index 0, or their
            :class:`~dtgkit.dtg.losses.ContrastRows` with ``above``
            (``info_nce_queue(..., ranks=True)``: the ranks without the logits).
        temperature: softmax temperature over normalised ranks (default 0.1).
        mode: ``"softmax"`` or ``"reciprocal"``.
        neg_masks: optional M masks N x K_k (True = excluded negative).

    Returns:
        N x M weights (rows sum to 1), no gradient.
    """
    if len(logits) == 0:
        raise ValueError("online2 needs the logits of at least one teacher")
    masks = list(neg_masks) if neg_masks is not None else [None] * len(logits)
    if mode == "softmax":
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        q = torch.stack([positive_rank(l, m) for l, m in zip(logits, masks)], dim=1)  # N x M
        return torch.softmax(-q / temperature, dim=1)  # N x M
    if mode == "reciprocal":
        r = 1.0 + torch.stack(
            [_negatives_above(l, m)[0] for l, m in zip(logits, masks)], dim=1)  # N x M
        inv = 1.0 / r  # N x M
        return inv / inv.sum(dim=1, keepdim=True)  # N x M
    raise ValueError(f"online2 mode must be 'softmax' or 'reciprocal', got {mode!r}")

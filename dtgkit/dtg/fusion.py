"""Feature fusion of differentiated teachers (Eq. 1) in one common space.

Eq. 1 fuses the teachers' guidance, ``R_guidance = sum_k w_k R_guidance,k`` with
``sum_k w_k = 1``. The teachers' spaces differ (D_k differ, unrelated bases), so the common
space is their orthogonal direct sum R^(sum_k D_k): teacher k's unit feature occupies block k,
scaled by a coefficient ``c_k``, and the result is renormalised for the dot-product similarity
of Eq. 2::

    g = normalize(concat_k(c_k g_k))        # N x (D_1 + ... + D_M)

* ``scale="linear"``: ``c_k = w_k`` (Eq. 1 as written). Two fused features' cosine is then
  ``sum_k w_k^2 cos_k / sum_k w_k^2``: a weight counts quadratically (w = (0.75, 0.25) acts like
  (0.9, 0.1) on similarities).
* ``scale="sqrt"``: ``c_k = sqrt(w_k)``; the fused cosine is ``sum_k w_k cos_k``, exactly Eq. 1
  applied to the teachers' similarity matrices.

The paper does not say how spaces of different sizes are summed; both readings are offered
(``dtg.fusion_scale``). :class:`dtgkit.dtg.net.DTGNet` (``fusion="feature"``) trains with
:func:`fuse`; the guidance-space study of the teacher-weights widget draws the same space.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from dtgkit.dtg import weighting as W
from dtgkit.dtg.options import FUSION_SCALES

__all__ = ["fuse", "similarity_weights"]


def _check(scale: str) -> None:
    if scale not in FUSION_SCALES:
        raise ValueError(f"fusion scale must be one of {FUSION_SCALES}, got {scale!r}")


def fuse(guidance: Sequence[torch.Tensor], weights, scale: str = "linear") -> torch.Tensor:
    """The fused guidance ``normalize(concat_k(c_k g_k))`` (module docstring).

    Args:
        guidance: M tensors N x D_k, unit rows (each teacher's L2-normalised guidance).
        weights: M weights (one per teacher) or N x M (per sample), each row summing to 1.
        scale: ``"linear"`` (``c_k = w_k``, default) or ``"sqrt"`` (``c_k = sqrt(w_k)``).

    Returns:
        N x (D_1 + ... + D_M) unit rows.
    """
    _check(scale)
    g0 = guidance[0]
    w = torch.as_tensor(weights, dtype=g0.dtype, device=g0.device)
    if w.dim() == 1:
        w = w.expand(g0.shape[0], len(w))  # N x M
    if w.shape[1] != len(guidance):
        raise ValueError(f"{w.shape[1]} weights for {len(guidance)} teachers")
    c = w.sqrt() if scale == "sqrt" else w  # c: N x M, block scales
    return F.normalize(torch.cat([c[:, k:k + 1] * g for k, g in enumerate(guidance)], dim=1),
                       dim=1)  # N x sum(D_k)


def similarity_weights(weights, scale: str = "sqrt") -> np.ndarray:
    """The weight each teacher's cosine-similarity matrix gets in the fused space's cosine.

    Args:
        weights: M teacher weights (normalised here to sum 1, :func:`dtgkit.dtg.weighting.fixed`).
        scale: ``"sqrt"`` (fused cosine = ``sum_k w_k cos_k``) or ``"linear"``
            (``sum_k w_k^2 cos_k / sum_k w_k^2``).

    Returns:
        M float64 weights summing to 1.
    """
    _check(scale)
    w = W.fixed(weights).numpy()  # M
    return w if scale == "sqrt" else w ** 2 / np.sum(w ** 2)

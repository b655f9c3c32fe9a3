"""The choices of every ``dtg.*`` option and the defaults the paper leaves open (torch-free).

:mod:`dtgkit.config` validates configs against these names without importing torch; the
modules of :mod:`dtgkit.dtg` implement them.
"""
from __future__ import annotations

__all__ = ["DEFAULT_K", "DEFAULT_TAU", "DISTINIT_L1_DIMS", "FUSIONS", "FUSION_SCALES", "MASKS",
           "METHODS", "WEIGHTINGS"]

#: pre-training methods of :func:`dtgkit.dtg.create_method` (``none`` in a config: no
#: contrastive term, plain supervised training)
METHODS = ("dtg", "distinit-l1", "distinit-ce", "moco")
#: teacher weightings of Eq. 1 (:mod:`dtgkit.dtg.weighting`)
WEIGHTINGS = ("uniform", "fixed", "offline", "online1", "online2")
#: where the weights apply: the per-teacher losses (Sec. 4.3.3) or the guidance features (Eq. 1)
FUSIONS = ("loss", "feature")
#: feature fusion: teacher k's unit block scaled by w_k (Eq. 1 as written) or sqrt(w_k)
#: (:mod:`dtgkit.dtg.fusion`)
FUSION_SCALES = ("linear", "sqrt")
#: queue negatives left out: none (the paper), the anchor's own video, its UCF101 group
MASKS = ("none", "video", "group")
#: DistInit-L1 per sample: the mean (torch ``L1Loss``, the default) or the sum of |s - t| over
#: the feature dimensions (:func:`dtgkit.dtg.losses.distinit_l1`)
DISTINIT_L1_DIMS = ("mean", "sum")

DEFAULT_K = 2048  # paper: "K is smaller than the total training samples" (Sec. 3.4), no value
DEFAULT_TAU = 0.07  # paper: InfoNCE "from [16]", no value; MoCo v1 uses 0.07

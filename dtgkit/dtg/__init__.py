"""The method of the paper (Sec. 3): queue, losses, teacher weighting, fusion, DTG-Net and its
baselines, and the one dispatch that builds any of them by name.

Importing this package does not import torch: :mod:`dtgkit.config` reads the option names
(:mod:`dtgkit.dtg.options`) from here; :func:`create_method` imports the networks when called.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dtgkit.dtg.options import (
    DEFAULT_K,
    DEFAULT_TAU,
    DISTINIT_L1_DIMS,
    FUSION_SCALES,
    FUSIONS,
    MASKS,
    METHODS,
    WEIGHTINGS,
)

__all__ = ["DEFAULT_K", "DEFAULT_TAU", "DISTINIT_L1_DIMS", "FUSIONS", "FUSION_SCALES", "MASKS",
           "METHODS", "WEIGHTINGS", "create_method", "list_methods"]


def create_method(name: str, student: Any, teachers: Mapping[str, Any] | None = None, **cfg: Any):
    """Build a pre-training method by name, so "does the teacher help?" is one switch.

    Args:
        name: ``"dtg"`` (:class:`~dtgkit.dtg.net.DTGNet`), ``"distinit-l1"`` /
            ``"distinit-ce"`` (:class:`~dtgkit.dtg.baselines.DistInitNet`), ``"moco"``
            (:class:`~dtgkit.dtg.baselines.MoCoVideoNet`, ignores ``teachers``).
        student: the video network to train (an ``nn.Module`` with ``.feat_dim``).
        teachers: name -> frozen teacher (not used by ``"moco"``).
        **cfg: keyword arguments of that class.

    Returns:
        an ``nn.Module`` whose ``forward(anchor, guidance, ...)`` returns ``(loss, diagnostics)``
        and with ``trainable_parameters()``.
    """
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose from {METHODS}")
    from dtgkit.dtg.baselines import DistInitNet, MoCoVideoNet  # torch: only when building
    from dtgkit.dtg.net import DTGNet

    if name == "moco":
        return MoCoVideoNet(student, **cfg)
    if not teachers:
        raise ValueError(f"method {name!r} needs at least one teacher")
    if name == "dtg":
        return DTGNet(student, teachers, **cfg)
    return DistInitNet(student, teachers, loss="l1" if name == "distinit-l1" else "soft_ce", **cfg)


def list_methods() -> list[str]:
    """Names accepted by :func:`create_method`."""
    return list(METHODS)

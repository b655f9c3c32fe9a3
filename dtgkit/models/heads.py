"""Projection heads: the student's feature into each teacher's space (paper Sec. 3.3-3.4).

The teachers differ in width (EfficientNet-Lite0: 1280, ResNet18: 512 ...), so the student
feature ``feats`` (N x student_dim) gets one head per teacher k, giving the anchor feature
``a_k`` compared with that teacher's guidance ``g_k`` in Eq. 2. Outputs are L2-normalised, so
``a_k . g_k`` is a cosine similarity as in MoCo::

    heads = make_heads(student.feat_dim, {"imagenet": 1280, "bu101": 512})
    anchors = heads(feats)            # {"imagenet": N x 1280, "bu101": N x 512}, unit rows

A head is linear by default (the paper does not describe one; MoCo v1 uses a linear fc) or a
two-layer MLP when ``hidden`` is given (MoCo v2: Linear -> ReLU -> Linear).
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ProjectionHead", "ProjectionHeads", "make_heads"]


class ProjectionHead(nn.Module):
    """Linear or MLP projection followed by L2 normalisation.

    Args:
        in_dim: input width (the student's ``feat_dim``).
        out_dim: output width (the teacher's feature width).
        hidden: None (default) for one linear layer; an int for MoCo v2's MLP
            ``Linear(in_dim, hidden) -> [BatchNorm1d] -> ReLU -> Linear(hidden, out_dim)``.
        bn: BatchNorm1d after the hidden layer (MLP only; default False, as MoCo v2).
        normalize: L2-normalise the outputs (default True, for the dot-product similarity of
            Eq. 2); False gives raw projections (e.g. a DistInit L1 fit to raw teacher features).
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        hidden: int | None = None,
        bn: bool = False,
        normalize: bool = True,
    ) -> None:
        super().__init__()
        if in_dim < 1 or out_dim < 1 or (hidden is not None and hidden < 1):
            raise ValueError(f"head widths must be >= 1, got {in_dim=}, {out_dim=}, {hidden=}")
        if bn and hidden is None:
            raise ValueError("bn=True needs an MLP head (give hidden=...)")
        self.in_dim, self.out_dim, self.hidden = int(in_dim), int(out_dim), hidden
        self.normalize = normalize
        if hidden is None:
            self.net = nn.Linear(in_dim, out_dim)
        else:
            layers: list[nn.Module] = [nn.Linear(in_dim, hidden, bias=not bn)]
            if bn:
                layers.append(nn.BatchNorm1d(hidden))
            layers += [nn.ReLU(inplace=True), nn.Linear(hidden, out_dim)]
            self.net = nn.Sequential(*layers)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """Project and normalise.

        Args:
            feats: N x in_dim student features.

        Returns:
            N x out_dim, each row of unit L2 norm (when ``normalize``).
        """
        if feats.dim() != 2 or feats.shape[1] != self.in_dim:
            raise ValueError(
                f"ProjectionHead expects feats N x {self.in_dim}, got {tuple(feats.shape)}"
            )
        z = self.net(feats)  # N x out_dim
        return F.normalize(z, dim=1) if self.normalize else z


class ProjectionHeads(nn.ModuleDict):
    """One :class:`ProjectionHead` per teacher, indexed by the teacher's name.

    An ``nn.ModuleDict`` (parameters, ``state_dict``, ``.to()`` as usual). Teacher names may
    contain characters a module name cannot (``.`` in ``"torchvision:resnet18@w.pth"``): they
    are stored under a sanitised key, but ``heads[name]``, ``name in heads`` and the dict
    returned by ``forward`` use the original names (``.teacher_names``, in order).

    Args:
        heads: teacher name -> head.
    """

    def __init__(self, heads: Mapping[str, ProjectionHead]) -> None:
        super().__init__()
        self.teacher_names: list[str] = []
        for name, head in heads.items():
            key = self.module_key(name)
            if key in self._modules:
                raise ValueError(f"teacher names collide after sanitising: {name!r} -> {key!r}")
            self.add_module(key, head)
            self.teacher_names.append(name)

    @staticmethod
    def module_key(name: str) -> str:
        """The module key a teacher name is stored under ('.' -> '_')."""
        if not name:
            raise ValueError("teacher name must not be empty")
        return name.replace(".", "_")

    def __getitem__(self, name: str) -> nn.Module:
        return self._modules[self.module_key(name)]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(name) and self.module_key(name) in self._modules

    def forward(self, feats: torch.Tensor) -> dict[str, torch.Tensor]:
        """Anchor features in every teacher's space.

        Args:
            feats: N x student_dim.

        Returns:
            teacher name -> N x teacher_dim, unit rows.
        """
        return {name: self[name](feats) for name in self.teacher_names}


def make_heads(
    student_dim: int,
    teacher_dims: Mapping[str, int],
    hidden: int | None = None,
    bn: bool = False,
    normalize: bool = True,
) -> ProjectionHeads:
    """Build one projection head per teacher (student feature -> that teacher's space).

    Args:
        student_dim: the student's ``feat_dim``.
        teacher_dims: teacher name -> its feature width (e.g. ``{"imagenet": 1280}``).
        hidden: None for linear heads (default), an int for MoCo v2 MLP heads.
        bn: BatchNorm1d in the MLP heads' hidden layer (default False).
        normalize: L2-normalise the outputs (default True).

    Returns:
        :class:`ProjectionHeads` (an ``nn.ModuleDict``) keyed by teacher name.
    """
    if not teacher_dims:
        raise ValueError("make_heads needs at least one teacher")
    return ProjectionHeads(
        {name: ProjectionHead(student_dim, dim, hidden, bn, normalize)
         for name, dim in teacher_dims.items()}
    )

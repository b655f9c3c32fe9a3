"""What DTG-Net and its baselines share (Sec. 3): a student with frozen teachers, the default
projection head, and the queue's diagnostics.

* :class:`TeacherGuided` - the student plus frozen teachers (eval mode, no gradient, left out
  of the optimiser); :meth:`TeacherGuided.guidance` runs the teachers on the guidance view (or
  takes cached features). :class:`~dtgkit.dtg.net.DTGNet` and
  :class:`~dtgkit.dtg.baselines.DistInitNet` build on it.
* :func:`projection_head` - the default head from the student's feature into a teacher's space.
* :func:`queue_diagnostics` - the queue's fill level and entry age added to a step's diagnostics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import torch
from torch import nn

from dtgkit.dtg.queue import GuidanceQueue
from dtgkit.models.heads import ProjectionHead

__all__ = ["TeacherGuided", "module_key", "projection_head", "queue_diagnostics"]


def module_key(name: str) -> str:
    """The ``nn.ModuleDict`` key of a teacher name: ``.`` is not allowed in module names, so
    ``"torchvision:resnet18@w.pth"`` is stored as ``"torchvision:resnet18@w_pth"`` (the rule of
    ``dtgkit.models.heads.ProjectionHeads``). Names in diagnostics stay as given."""
    if not name:
        raise ValueError("teacher name must not be empty")
    return name.replace(".", "_")


def projection_head(in_dim: int, out_dim: int) -> nn.Module:
    """The default head mapping the student's feature into a space of ``out_dim``
    (:class:`~dtgkit.models.heads.ProjectionHead`, L2-normalised output)."""
    return ProjectionHead(in_dim, out_dim)


class TeacherGuided(nn.Module):
    """Student + frozen teachers: what DTG-Net and DistInit share.

    Args:
        student: nn.Module with ``.feat_dim``; ``forward(N x T x 3 x H x W) -> N x feat_dim``.
        teachers: name -> frozen nn.Module with ``.feat_dim`` (``forward(clip) -> N x D``), or
            name -> int feature dim when only cached ``guidance_feats`` will be passed.
    """

    def __init__(self, student: nn.Module, teachers: Mapping[str, nn.Module | int]) -> None:
        super().__init__()
        if not teachers:
            raise ValueError("need at least one teacher")
        self.student = student
        self.names = list(teachers)
        keys = [module_key(k) for k in self.names]
        if len(set(keys)) != len(keys):
            raise ValueError(f"teacher names collide as module keys: {self.names}")
        self.teachers = nn.ModuleDict()
        self.teacher_dims: dict[str, int] = {}
        for name, t in teachers.items():
            if isinstance(t, int):
                self.teacher_dims[name] = t
                continue
            if not hasattr(t, "feat_dim"):
                raise ValueError(f"teacher {name!r} has no .feat_dim")
            self.teacher_dims[name] = int(t.feat_dim)
            t.requires_grad_(False).eval()
            self.teachers[module_key(name)] = t

    def train(self, mode: bool = True) -> TeacherGuided:
        super().train(mode)
        self.teachers.eval()  # teachers stay in eval mode (frozen BN statistics)
        return self

    def trainable_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters of the student and the heads (never the teachers)."""
        yield from self.student.parameters()
        yield from self.heads.parameters()

    @torch.no_grad()
    def guidance(
        self,
        guidance_clip: torch.Tensor | None,
        guidance_feats: Mapping[str, torch.Tensor] | None,
        N: int,
        run: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Each teacher's output on the guidance clip (no gradient), or the cached features."""
        if guidance_feats is not None:
            missing = [k for k in self.names if k not in guidance_feats]
            if missing:
                raise ValueError(f"guidance_feats lacks teachers {missing}; has "
                                 f"{sorted(guidance_feats)}")
            out = {k: guidance_feats[k].detach() for k in self.names}  # k: N x D_k
        else:
            if guidance_clip is None:
                raise ValueError("pass guidance_clip or guidance_feats")
            out = {}
            for k in self.names:
                if module_key(k) not in self.teachers:
                    raise ValueError(f"teacher {k!r} was given as a feature dim only: "
                                     "pass guidance_feats")
                t = self.teachers[module_key(k)]
                out[k] = run(t, guidance_clip) if run else t(guidance_clip)  # N x D_k
        for k, v in out.items():
            if v.dim() != 2 or v.shape[0] != N:
                raise ValueError(f"guidance of teacher {k!r}: expected {N} x D, got "
                                 f"{tuple(v.shape)}")
        return out


def queue_diagnostics(diag: dict, q: GuidanceQueue, step: int | None) -> dict:
    """``diag`` with the queue's summary (``queue_fill``, ``queue_age``) added, returned."""
    diag.update(q.summary(step))
    return diag

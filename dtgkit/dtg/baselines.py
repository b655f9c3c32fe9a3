"""The baselines DTG-Net is compared with, built on the same blocks (:mod:`dtgkit.dtg.base`):

* :class:`DistInitNet` -- DistInit [13]: the student fits each teacher's feature of the same
  video (L1 on normalised features, or soft cross-entropy of the teachers' posteriors), no
  negatives, no queue (Fig. 2's left panel);
* :class:`MoCoVideoNet` -- MoCo [16] on video: no teachers, a momentum copy of the student
  encodes the guidance view and the same queue supplies the negatives ("does the teacher
  help?" is ``dtg.method=moco``).

Both return ``(loss, diagnostics)`` with the keys of :class:`~dtgkit.dtg.net.DTGNet` where
they mean something. Build them with :func:`dtgkit.dtg.create_method`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from dtgkit.dtg import weighting as W
from dtgkit.dtg.base import TeacherGuided, module_key, projection_head, queue_diagnostics
from dtgkit.dtg.losses import distinit_l1, distinit_soft_ce, info_nce_queue
from dtgkit.dtg.options import DEFAULT_K, DEFAULT_TAU, DISTINIT_L1_DIMS
from dtgkit.dtg.queue import GuidanceQueue, concat_all_gather, contrast_stats

__all__ = ["DistInitNet", "MoCoVideoNet", "shuffle_across_ranks", "unshuffle_across_ranks"]


def _shuffle_across_ranks_applies(encoder: nn.Module) -> bool:
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return False
    bns = [m for m in encoder.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    return bool(bns) and not any(isinstance(m, nn.SyncBatchNorm) for m in bns)


@torch.no_grad()
def shuffle_across_ranks(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """MoCo's batch shuffle over processes: gather every rank's batch, permute it with a
    permutation drawn on rank 0, and give each rank its slice back.

    Args:
        x: B x ... on every rank (the same B on every rank: DDP's equal local batches).

    Returns:
        (this rank's B x ... slice of the shuffled global batch, the inverse permutation for
        :func:`unshuffle_across_ranks`).
    """
    import torch.distributed as dist

    world, rank = dist.get_world_size(), dist.get_rank()
    x_all = concat_all_gather(x)  # (W*B) x ...
    if x_all.shape[0] != world * x.shape[0]:
        raise ValueError("shuffle_across_ranks needs the same batch size on every rank")
    perm = torch.randperm(x_all.shape[0], device=x.device)  # W*B
    dist.broadcast(perm, src=0)
    return x_all[perm.view(world, -1)[rank]], torch.argsort(perm)


@torch.no_grad()
def unshuffle_across_ranks(k: torch.Tensor, unshuffle: torch.Tensor) -> torch.Tensor:
    """Undo :func:`shuffle_across_ranks` on its outputs: B x ... rows in this rank's order."""
    import torch.distributed as dist

    k_all = concat_all_gather(k)  # (W*B) x ...
    return k_all[unshuffle.view(dist.get_world_size(), -1)[dist.get_rank()]]


class DistInitNet(TeacherGuided):
    """DistInit baseline [13]: fit each sample's student output to the teachers', no negatives.

    "the Dist Init fits the anchor feature representation R_anchor into the teacher feature
    representation R_guidance with L1 loss or cross-entropy loss" (Sec. 3.3, Fig. 2).

    Args:
        student: the video network to train.
        teachers: name -> frozen teacher (or feature dim / class count with cached inputs).
        heads: name -> head. ``loss="l1"``: ``feat_dim -> D_k`` projection (default
            ``ProjectionHead``). ``loss="soft_ce"``: ``feat_dim -> C_k`` classifier (default
            ``nn.Linear``, C_k from the teacher's ``num_classes``).
        loss: ``"l1"`` (:func:`distinit_l1`) or ``"soft_ce"`` (:func:`distinit_soft_ce`; the
            teacher's clip logits are the mean over frames of ``teacher.classify``).
        T: soft cross-entropy temperature (default 1.0).
        weights: M teacher weights (default uniform).
        l1_dims: ``"mean"`` (default) or ``"sum"`` of the L1 over the feature dimensions
            (:func:`distinit_l1`'s ``dims``: the sum's gradient is of InfoNCE's order).

    The teacher sees ``guidance_clip`` when given, else the anchor clip (DistInit's own set-up:
    both networks see the same frames). Passing the pair's second view makes DistInit differ
    from DTG only in its loss, the comparison of Fig. 2.
    """

    def __init__(
        self,
        student: nn.Module,
        teachers: Mapping[str, nn.Module | int],
        heads: nn.ModuleDict | None = None,
        *,
        loss: str = "l1",
        T: float = 1.0,
        weights: Sequence[float] | None = None,
        l1_dims: str = "mean",
    ) -> None:
        super().__init__(student, teachers)
        if loss not in ("l1", "soft_ce"):
            raise ValueError(f"DistInit loss must be 'l1' or 'soft_ce', got {loss!r}")
        if l1_dims not in DISTINIT_L1_DIMS:
            raise ValueError(f"l1_dims must be one of {DISTINIT_L1_DIMS}, got {l1_dims!r}")
        self.loss, self.T, self.l1_dims = loss, float(T), l1_dims
        if heads is None:
            heads = nn.ModuleDict()
            for k in self.names:
                key = module_key(k)
                if loss == "l1":
                    heads[key] = projection_head(int(student.feat_dim), self.teacher_dims[k])
                else:
                    n_cls = getattr(self.teachers[key], "num_classes", None) \
                        if key in self.teachers else self.teacher_dims[k]
                    if not n_cls:
                        raise ValueError(f"teacher {k!r} has no .num_classes: pass heads")
                    heads[key] = nn.Linear(int(student.feat_dim), int(n_cls))
        expected = sorted(module_key(k) for k in self.names)
        if sorted(module_key(k) for k in heads) != expected:
            raise ValueError(f"heads keys {sorted(heads)} must be {expected}")
        self.heads = heads
        M = len(self.names)
        self.register_buffer("static_weights", (W.uniform(M) if weights is None
                                                else W.fixed(weights)).float())  # M

    @staticmethod
    def _clip_logits(teacher: nn.Module, clip: torch.Tensor) -> torch.Tensor:
        """Teacher class logits of a clip: mean over its T frames of ``teacher.classify``."""
        if not hasattr(teacher, "classify"):
            raise ValueError(f"teacher {getattr(teacher, 'name', type(teacher).__name__)!r} has "
                             "no classifier (.classify) for DistInit soft_ce")
        N, T = clip.shape[:2]
        logits = teacher.classify(clip.flatten(0, 1))  # (N*T) x C
        return logits.view(N, T, -1).mean(dim=1)  # N x C

    def forward(
        self,
        anchor_clip: torch.Tensor | None,
        guidance_clip: torch.Tensor | None = None,
        *,
        guidance_feats: Mapping[str, torch.Tensor] | None = None,
        video_ids: torch.Tensor | None = None,
        groups: torch.Tensor | None = None,
        step: int | None = None,
        anchor_feats: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Same call as :meth:`DTGNet.forward`; ``guidance_feats`` are logits for soft_ce."""
        s = self.student(anchor_clip) if anchor_feats is None else anchor_feats  # s: N x C
        clip = anchor_clip if guidance_clip is None else guidance_clip
        run = self._clip_logits if self.loss == "soft_ce" else None
        t = self.guidance(clip, guidance_feats, s.shape[0], run)  # k: N x D_k (or N x C_k)
        w = self.static_weights.to(s.dtype)  # M
        diag, total = {}, s.new_zeros(())
        for i, k in enumerate(self.names):
            p_k = self.heads[module_key(k)](s)  # p_k: N x D_k (or N x C_k)
            t_k = t[k].to(p_k.dtype)  # t_k: same
            if self.loss == "l1":
                l_k = distinit_l1(p_k, t_k, dims=self.l1_dims)  # 0-d
                diag[f"pos_sim/{k}"] = F.cosine_similarity(p_k, t_k, dim=1).mean().detach()
            else:
                l_k = distinit_soft_ce(p_k, t_k, self.T)  # 0-d
                diag[f"acc/{k}"] = (p_k.argmax(1) == t_k.argmax(1)).float().mean()  # agreement
            total = total + w[i] * l_k
            diag[f"loss/{k}"] = l_k.detach()
            diag[f"weight/{k}"] = w[i].detach()
        diag["loss"] = total.detach()
        key = "pos_sim" if self.loss == "l1" else "acc"
        diag[key] = torch.stack([diag[f"{key}/{k}"] for k in self.names]).mean()
        return total, diag


class MoCoVideoNet(nn.Module):
    """Teacher-free baseline: MoCo [16] on the same video pairs, the key encoder a momentum copy.

    The query is the student's projected anchor, the key the momentum encoder's projected
    guidance clip; same queue class and InfoNCE as DTG-Net, so the only difference from DTG is
    who encodes the guidance view.

    Args:
        student: the video network to train (``.feat_dim``).
        dim: projection dim (default 128, MoCo).
        K: queue size (default 2048; MoCo 65536 is larger than UCF101).
        m: momentum of the key encoder, ``theta_k <- m theta_k + (1 - m) theta_q`` (0.999).
        tau: temperature (default 0.07, MoCo v1).
        head: query projection head (default ``ProjectionHead(feat_dim, dim)``).
        mask: queue negative masking ``"none"`` / ``"video"`` / ``"group"``.
        key_bn_splits: the key batch is shuffled and encoded in this many chunks, MoCo's
            shuffle-BN on one device, so BatchNorm statistics cannot leak the positive
            (default 2; one chunk when the batch is smaller than 2 per chunk).

    Under DDP (several processes) whose key encoder keeps per-rank BatchNorm (``run.sync_bn``
    off), the keys are shuffled *across ranks* instead, as MoCo's ``_batch_shuffle_ddp``: every
    rank encodes a random share of the global batch (:func:`shuffle_across_ranks`), so a
    sample's BatchNorm statistics come from other ranks' samples than its query's.
    """

    def __init__(
        self,
        student: nn.Module,
        dim: int = 128,
        K: int = DEFAULT_K,
        m: float = 0.999,
        tau: float = DEFAULT_TAU,
        *,
        head: nn.Module | None = None,
        mask: str = "none",
        key_bn_splits: int = 2,
    ) -> None:
        super().__init__()
        self.m, self.tau, self.key_bn_splits = float(m), float(tau), int(key_bn_splits)
        self.student = student
        self.head = head if head is not None else projection_head(int(student.feat_dim), dim)
        self.key_student = copy.deepcopy(student).requires_grad_(False)
        self.key_head = copy.deepcopy(self.head).requires_grad_(False)
        self.queue = GuidanceQueue(dim, K, mask=mask)

    def trainable_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters of the student and its head (not the momentum encoder)."""
        yield from self.student.parameters()
        yield from self.head.parameters()

    @torch.no_grad()
    def momentum_update(self) -> None:
        """``theta_k <- m * theta_k + (1 - m) * theta_q`` for the student and the head."""
        pairs = list(zip(self.student.parameters(), self.key_student.parameters())) + list(
            zip(self.head.parameters(), self.key_head.parameters()))
        for p_q, p_k in pairs:
            p_k.mul_(self.m).add_(p_q.detach(), alpha=1.0 - self.m)

    @torch.no_grad()
    def _keys(self, clip: torch.Tensor) -> torch.Tensor:
        if _shuffle_across_ranks_applies(self.key_student):
            x, unshuffle = shuffle_across_ranks(clip)  # this rank's share of the shuffled batch
            k = self.key_head(self.key_student(x))  # k: N x dim
            return F.normalize(unshuffle_across_ranks(k, unshuffle), dim=1)  # N x dim
        N = clip.shape[0]
        splits = self.key_bn_splits if N >= 2 * self.key_bn_splits else 1
        perm = torch.randperm(N, device=clip.device)  # N
        k = torch.cat([self.key_head(self.key_student(c))
                       for c in clip[perm].chunk(splits)], dim=0)  # k: N x dim (shuffled)
        out = torch.empty_like(k)  # N x dim
        out[perm] = k  # unshuffle
        return F.normalize(out, dim=1)  # N x dim

    def forward(
        self,
        anchor_clip: torch.Tensor | None,
        guidance_clip: torch.Tensor | None = None,
        *,
        guidance_feats: Mapping[str, torch.Tensor] | None = None,
        video_ids: torch.Tensor | None = None,
        groups: torch.Tensor | None = None,
        step: int | None = None,
        anchor_feats: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Same call as :meth:`DTGNet.forward` (``guidance_feats`` is not allowed: no teacher)."""
        if guidance_feats is not None or guidance_clip is None:
            raise ValueError("MoCoVideoNet needs guidance_clip (its key encoder is a momentum "
                             "copy of the student; cached teacher features do not apply)")
        s = self.student(anchor_clip) if anchor_feats is None else anchor_feats  # s: N x C
        q_feat = self.head(s)  # q: N x dim
        if self.training:
            self.momentum_update()
        k_feat = self._keys(guidance_clip)  # k: N x dim
        mask = self.queue.negative_mask(video_ids, groups)  # N x K or None
        out = info_nce_queue(q_feat, k_feat, self.queue.feats, self.tau, mask,
                             valid=self.queue.valid_mask())  # Eq. 2 without the N x (1+K) logits
        loss = out.loss.mean()  # 0-d
        stats = contrast_stats(out.rows, self.tau)
        diag = {"loss": loss.detach(), **stats}
        self.queue.enqueue(k_feat, video_ids, groups, step)  # after the logits
        return loss, queue_diagnostics(diag, self.queue, step)

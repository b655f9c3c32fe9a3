"""DTG-Net (Sec. 3). Its baselines DistInit [13] and MoCo [16] share the same building blocks
(:mod:`dtgkit.dtg.base`, :mod:`dtgkit.dtg.baselines`); :func:`dtgkit.dtg.create_method` builds
any of them by name.

One training step of self-supervised DTG-Net (Fig. 1), for a batch of N videos:

1. the student f_anchor encodes the anchor view, a projection head per teacher maps it into
   that teacher's space: ``a_k = head_k(f_anchor(v_anchor))``;
2. each frozen teacher k (eval mode, no gradient) encodes the guidance view of the same
   videos: ``g_k = f_guidance,k(v_guidance)`` (or cached features are passed in);
3. InfoNCE with the queue Q_k of teacher k (Eq. 2), logits computed before the enqueue;
4. the teachers are fused with weights w (Eq. 1, Sec. 4.3.3), then each queue is updated FIFO.

The teacher-free switch (``create_method("moco", ...)``) replaces the teachers by a momentum
copy of the student; ``"distinit-l1"`` / ``"distinit-ce"`` keep the teachers but drop the
negatives. Every ``forward`` returns ``(loss, diagnostics)`` with the same keys where they mean
something: ``loss``, ``acc``, ``pos_sim``, ``neg_sim``, ``hard_neg_sim``, ``queue_fill``,
``queue_age`` and per teacher ``loss/<name>``, ``weight/<name>``, ``acc/<name>``,
``pos_sim/<name>``, ``neg_sim/<name>``. Diagnostics are detached 0-d tensors (``float(v)``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from dtgkit.dtg import weighting as W
from dtgkit.dtg.base import TeacherGuided, module_key, projection_head, queue_diagnostics
from dtgkit.dtg.fusion import fuse
from dtgkit.dtg.losses import ContrastRows, info_nce_logits, info_nce_queue
from dtgkit.dtg.options import DEFAULT_K, DEFAULT_TAU, FUSION_SCALES, FUSIONS, WEIGHTINGS
from dtgkit.dtg.queue import GuidanceQueue, contrast_stats

__all__ = ["FUSED", "DTGNet"]

FUSED = "fused"  # the key of the head and the queue of the fused space (fusion="feature")

Weighting = Callable[..., torch.Tensor]


class DTGNet(TeacherGuided):
    """Differentiated Teachers Guided network (Sec. 3, Eq. 1-2), self-supervised.

    Args:
        student: the video network to train (``.feat_dim``).
        teachers: name -> frozen teacher (``.feat_dim``) or feature dim (cached features only).
            Dict order is the teacher order of the weights.
        heads: projection heads. ``fusion="loss"``: name -> head ``feat_dim -> D_k`` per
            teacher. ``fusion="feature"``: ``{"fused": head feat_dim -> sum_k D_k}``. Heads must
            return L2-normalised features (``dtgkit.models.heads.ProjectionHead``, the default;
            ``make_heads`` gives a matching ``ProjectionHeads``).
        queues: name (or ``"fused"``) -> :class:`GuidanceQueue` of the matching dim; default
            new queues of size ``K`` and ``mask``. ModuleDict keys are :func:`module_key` of
            the teacher names (``.`` -> ``_``).
        weighting: ``"uniform"`` (default), ``"fixed"`` (needs ``weights``), ``"offline"``
            (needs ``accuracies`` or :meth:`set_offline_accuracies`), ``"online1"``,
            ``"online2"`` (see :mod:`dtgkit.dtg.weighting`), or a callable
            ``f(pos_sims N x M, logits list|None, neg_masks list|None) -> M or N x M``.
        weights: M user weights for ``"fixed"``.
        accuracies: M single-teacher top-1 accuracies (percent) for ``"offline"``.
        weighting_temperature: temperature of offline / online1 / online2; default 1.0 /
            ``tau`` / 0.1.
        tau: temperature of Eq. 2 (default 0.07, MoCo v1; the paper gives none).
        K: queue size when queues are created here (default 2048; the paper gives none).
        fusion: ``"loss"`` (default, Sec. 4.3.3: ``L = sum_k w_k L_k``, weights per teacher or
            per sample) or ``"feature"`` (Eq. 1 on features, see :meth:`_forward_feature`).
        fusion_scale: feature fusion only: teacher k's unit block is scaled by ``w_k``
            (``"linear"``, default: Eq. 1 as written) or ``sqrt(w_k)`` (``"sqrt"``: the fused
            cosine of two guidance features is then ``sum_k w_k cos_k``, the space drawn by the
            teacher-weights widget, :mod:`dtgkit.viz.guidance`).
        mask: queue negative masking ``"none"`` (paper) / ``"video"`` / ``"group"``.
    """

    def __init__(
        self,
        student: nn.Module,
        teachers: Mapping[str, nn.Module | int],
        heads: nn.ModuleDict | None = None,
        queues: nn.ModuleDict | None = None,
        *,
        weighting: str | Weighting = "uniform",
        weights: Sequence[float] | None = None,
        accuracies: Sequence[float] | Mapping[str, float] | None = None,
        weighting_temperature: float | None = None,
        tau: float = DEFAULT_TAU,
        K: int = DEFAULT_K,
        fusion: str = "loss",
        fusion_scale: str = "linear",
        mask: str = "none",
    ) -> None:
        super().__init__(student, teachers)
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
        if fusion_scale not in FUSION_SCALES:
            raise ValueError(f"fusion_scale must be one of {FUSION_SCALES}, got {fusion_scale!r}")
        self.fusion_scale = fusion_scale
        if isinstance(weighting, str) and weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {WEIGHTINGS} or a callable, "
                             f"got {weighting!r}")
        if fusion == "feature" and weighting == "online2":
            raise ValueError("weighting='online2' ranks each teacher's positive among its own "
                             "queue: use fusion='loss'")
        self.fusion, self.tau, self.weighting = fusion, float(tau), weighting
        self.weighting_temperature = weighting_temperature
        dims = {FUSED: sum(self.teacher_dims.values())} if fusion == "feature" else \
            dict(self.teacher_dims)  # key -> dim of the space the loss lives in
        feat_dim = int(student.feat_dim)
        dims = {module_key(k): d for k, d in dims.items()}
        self.heads = heads if heads is not None else nn.ModuleDict(
            {k: projection_head(feat_dim, d) for k, d in dims.items()})
        self.queues = queues if queues is not None else nn.ModuleDict(
            {k: GuidanceQueue(d, K, mask=mask) for k, d in dims.items()})
        for what, md in (("heads", self.heads), ("queues", self.queues)):
            if sorted(module_key(k) for k in md) != sorted(dims):
                raise ValueError(f"{what} keys {sorted(md)} must be {sorted(dims)} for "
                                 f"fusion={fusion!r}")
        for k, d in dims.items():
            if self.queues[k].dim != d:
                raise ValueError(f"queue {k!r} has dim {self.queues[k].dim}, its space has "
                                 f"dim {d}")
        M = len(self.names)
        static = torch.full((M,), float("nan"))  # M; NaN = offline weights not yet known
        if weighting == "uniform":
            static = W.uniform(M)
        elif weighting == "fixed":
            if weights is None or len(weights) != M:
                raise ValueError(f"weighting='fixed' needs {M} weights for {self.names}, "
                                 f"got {weights}")
            static = W.fixed(weights)
        self.register_buffer("static_weights", static.float())  # M
        if accuracies is not None:
            self.set_offline_accuracies(accuracies)

    def set_offline_accuracies(
        self, accuracies: Sequence[float] | Mapping[str, float], temperature: float | None = None
    ) -> torch.Tensor:
        """Switch to the *offline* weighting from single-teacher top-1 accuracies (percent).

        Args:
            accuracies: M values in teacher order, or name -> value for every teacher.
            temperature: softmax temperature; default ``weighting_temperature`` or 1.0.

        Returns:
            the M weights now in use (also saved in ``state_dict``).
        """
        if isinstance(accuracies, Mapping):
            missing = [k for k in self.names if k not in accuracies]
            if missing:
                raise ValueError(f"offline accuracies lack teachers {missing}")
            accuracies = [accuracies[k] for k in self.names]
        if len(accuracies) != len(self.names):
            raise ValueError(f"need {len(self.names)} accuracies for {self.names}, "
                             f"got {list(accuracies)}")
        t = W.temperature_for("offline", temperature or self.weighting_temperature)
        self.static_weights.copy_(W.offline(accuracies, temperature=t))
        self.weighting = "offline"
        return self.static_weights.clone()

    @torch.no_grad()
    def teacher_weights(
        self,
        pos_sims: torch.Tensor,
        logits: list[torch.Tensor] | list[ContrastRows] | None = None,
        neg_masks: list[torch.Tensor | None] | None = None,
    ) -> torch.Tensor:
        """The weights w of Eq. 1 for this batch, N x M, no gradient.

        Args:
            pos_sims: N x M positive similarities a_k . g_k+ (for online1).
            logits: M tensors N x (1+K), or their ``ContrastRows`` with ranks (what the
                loss gathered), for online2; None under feature fusion.
            neg_masks: M masks N x K or None (for online2).
        """
        N, M = pos_sims.shape
        w = self.weighting
        t = self.weighting_temperature
        if callable(w):
            out = w(pos_sims, logits, neg_masks)
        elif w == "online1":
            out = W.online1(pos_sims, temperature=W.temperature_for(w, t, tau=self.tau))
        elif w == "online2":
            out = W.online2(logits, temperature=W.temperature_for(w, t), neg_masks=neg_masks)
        else:
            if w == "offline" and torch.isnan(self.static_weights).any():
                raise ValueError("weighting='offline' needs accuracies: pass accuracies=... or "
                                 "call set_offline_accuracies()")
            out = self.static_weights
        out = torch.as_tensor(out, device=pos_sims.device, dtype=pos_sims.dtype)
        if out.shape not in ((M,), (N, M)):
            raise ValueError(f"weights must be ({M},) or ({N}, {M}), got {tuple(out.shape)}")
        return out.expand(N, M)  # N x M

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
        """One DTG step: loss of Eq. 2 fused over the teachers, then the FIFO update of Q.

        Args:
            anchor_clip: N x T x 3 x H x W in [0, 1], the student's view.
            guidance_clip: N x T x 3 x H x W, the teachers' view of the same videos.
            guidance_feats: name -> N x D_k cached teacher features instead of the clip.
            video_ids: N long video ids (stored in the queue; for ``mask="video"``).
            groups: N long group ids (-1 = none; for ``mask="group"``).
            step: training step stored with the queued keys (for queue ages).
            anchor_feats: N x C student features already computed from the anchor clip
                (``anchor_clip`` is then ignored, may be None). For supervised DTG-Net (Eq. 3)
                one student pass feeds both losses::

                    feats = student(anchor)                      # N x C
                    l_ct, diag = net(None, guidance, anchor_feats=feats)
                    loss = joint_loss(l_ct, F.cross_entropy(classifier(feats), labels))

        Returns:
            (loss 0-d, diagnostics dict of detached 0-d tensors).
        """
        s = self.student(anchor_clip) if anchor_feats is None else anchor_feats  # s: N x C
        g = self.guidance(guidance_clip, guidance_feats, s.shape[0])  # k: N x D_k
        for k, v in g.items():
            if v.shape[1] != self.teacher_dims[k]:
                raise ValueError(f"guidance of teacher {k!r} has dim {v.shape[1]}, the teacher "
                                 f"has feat_dim {self.teacher_dims[k]}")
        g = {k: F.normalize(v.to(s.dtype), dim=1) for k, v in g.items()}  # k: N x D_k
        if self.fusion == "loss":
            return self._forward_loss(s, g, video_ids, groups, step)
        return self._forward_feature(s, g, video_ids, groups, step)

    def _forward_loss(self, s, g, video_ids, groups, step):
        """Loss fusion (Sec. 4.3.3): ``L = mean_n sum_k w_nk L_nk``, one queue per teacher."""
        per_sample, rows, logits, masks, stats = [], [], [], [], {}
        for k in self.names:
            q = self.queues[module_key(k)]
            a_k = self.heads[module_key(k)](s)  # a_k: N x D_k
            m_k = q.negative_mask(video_ids, groups)  # m_k: N x K or None
            out = info_nce_queue(a_k, g[k], q.feats, self.tau, m_k, valid=q.valid_mask(),
                                 ranks=self.weighting == "online2")  # loss N, rows
            per_sample.append(out.loss)
            rows.append(out.rows)
            masks.append(m_k)
            stats[k] = contrast_stats(out.rows, self.tau)
            if callable(self.weighting):  # its documented input: the full logits N x (1+K)
                with torch.no_grad():
                    logits.append(info_nce_logits(a_k, g[k], q.feats, self.tau, m_k))
        losses = torch.stack(per_sample, dim=1)  # N x M
        pos_sims = torch.stack([r.pos for r in rows], dim=1).float() * self.tau  # a_k . g_k+: N x M
        w = self.teacher_weights(pos_sims, logits if callable(self.weighting) else rows, masks)
        loss = (w * losses).sum(dim=1).mean()  # 0-d
        diag = {"loss": loss.detach()}
        for i, k in enumerate(self.names):
            diag[f"loss/{k}"] = losses[:, i].mean().detach()
            diag[f"weight/{k}"] = w[:, i].mean()
            diag.update({f"{s_}/{k}": v for s_, v in stats[k].items() if s_ != "hard_neg_sim"})
        for s_ in ("acc", "pos_sim", "neg_sim", "hard_neg_sim"):  # mean over teachers
            diag[s_] = torch.stack([stats[k][s_] for k in self.names]).mean()
        for k in self.names:
            self.queues[module_key(k)].enqueue(g[k], video_ids, groups, step)  # after the logits
        return loss, queue_diagnostics(diag, self.queues[module_key(self.names[0])], step)

    def _forward_feature(self, s, g, video_ids, groups, step):
        """Feature fusion (Eq. 1): one InfoNCE on the weighted average of the guidance features.

        The teachers' spaces differ (D_k differ, unrelated bases), so the common space is
        their orthogonal direct sum R^(sum_k D_k): teacher k's unit feature occupies block k,
        ``g = normalize(sum_k w_k E_k g_k) = normalize(concat_k(w_k g_k))`` (Eq. 1, then
        renormalised for the dot-product similarity of Eq. 2). In that space the similarity of
        two guidance features weighs teacher k by ``w_k^2``; ``fusion_scale="sqrt"`` scales
        block k by ``sqrt(w_k)`` instead, so similarities weigh it by ``w_k`` (both are readings
        of Eq. 1; the paper does not say how spaces of different sizes are summed). No parameter is added on the
        guidance side and nothing is random; with one teacher this is exactly the single-teacher
        DTG. The anchor is projected once into that space, ``a = head_fused(f_anchor(v))``, and
        one queue holds the fused keys. Per-sample online1 weights use the similarity of the
        anchor's block k (renormalised) with g_k.
        """
        q = self.queues[FUSED]
        a = self.heads[FUSED](s)  # a: N x sum(D_k)
        blocks = torch.split(a, [self.teacher_dims[k] for k in self.names], dim=1)  # k: N x D_k
        pos_sims = torch.stack([(F.normalize(b, dim=1) * g[k]).sum(dim=1) for b, k in
                                zip(blocks, self.names)], dim=1).detach().float()  # N x M
        w = self.teacher_weights(pos_sims)  # w: N x M
        g_fused = fuse([g[k] for k in self.names], w, self.fusion_scale)  # N x sum(D_k)
        m = q.negative_mask(video_ids, groups)  # m: N x K or None
        out = info_nce_queue(a, g_fused, q.feats, self.tau, m, valid=q.valid_mask())  # Eq. 2
        loss = out.loss.mean()  # 0-d
        stats = contrast_stats(out.rows, self.tau)
        diag = {"loss": loss.detach(), **stats}
        for i, k in enumerate(self.names):
            diag[f"weight/{k}"] = w[:, i].mean()
            diag[f"pos_sim/{k}"] = pos_sims[:, i].mean()
        q.enqueue(g_fused, video_ids, groups, step)  # after the logits
        return loss, queue_diagnostics(diag, q, step)


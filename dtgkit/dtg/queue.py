"""The guidance queue Q of DTG-Net (Sec. 3.2, 3.4): a FIFO of guidance features of other videos.

"To construct the negative pairs, there is a queue Q of size K, which is continually updated"
(Sec. 3.4), following MoCo [16]. One :class:`GuidanceQueue` holds the keys of one feature space
(one teacher, the fused guidance, or MoCo's key encoder). Everything it knows is a registered
buffer, so it moves with ``.to(device)``, is saved in ``state_dict`` and resumes exactly.

Differences from ``moco/builder.py``, each on purpose:

* feats are stored **K x dim** (one row per entry), random-normal then L2-normalised like MoCo,
  plus a ``filled`` counter so diagnostics know which rows are real guidance features;
* no ``K % batch_size`` assert: a batch that crosses the end writes its tail at the start,
  and a batch larger than K keeps its last K keys (the last short batch of an epoch just works);
* each entry remembers its video id, group id (-1 = unknown) and the step it was enqueued at,
  so negatives from the anchor's own video or group can be masked (``mask="video"|"group"``;
  ``"none"`` reproduces the paper) and the age of the queue can be plotted;
* under ``torch.distributed`` the batch is all-gathered before the enqueue (sizes may differ
  per rank), so every rank holds the same queue; there is no other DDP-only code path. The
  random initial rows are made identical by DDP (it broadcasts rank 0's buffers when it wraps
  the model) or by seeding every rank alike.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from dtgkit.dtg.losses import ContrastRows, contrast_rows
from dtgkit.dtg.options import MASKS


def _dist_on() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


@torch.no_grad()
def concat_all_gather(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` from every rank along dim 0 (no gradient), rank order.

    Unlike MoCo's version the per-rank sizes may differ (the last batch of an epoch). Without an
    initialised process group (or with one rank) the tensor is returned unchanged.

    Args:
        tensor: B_r x ... on this rank.

    Returns:
        (sum_r B_r) x ... , identical on every rank.
    """
    if not _dist_on():
        return tensor
    world = dist.get_world_size()
    n = torch.tensor([tensor.shape[0]], device=tensor.device, dtype=torch.long)
    sizes = [torch.zeros_like(n) for _ in range(world)]
    dist.all_gather(sizes, n)
    sizes_int = [int(s.item()) for s in sizes]
    padded = tensor.new_zeros((max(sizes_int), *tensor.shape[1:]))  # B_max x ...
    padded[: tensor.shape[0]] = tensor
    out = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(out, padded.contiguous())
    return torch.cat([o[:s] for o, s in zip(out, sizes_int)], dim=0)  # (sum B_r) x ...


class GuidanceQueue(nn.Module):
    """FIFO queue of L2-normalised keys with per-entry video id, group id and enqueue step.

    Args:
        dim: feature dimension of the keys (a teacher's ``feat_dim`` for DTG).
        K: number of entries. The paper gives no value, only "the size of K is smaller than the
            total training samples" (Sec. 3.4); MoCo uses 65536. Default 2048 (< the 3,570 / 9,537
            training videos of HMDB51 / UCF101 split 1); pick K below the number of training videos.
        mask: which negatives to exclude for an anchor: ``"none"`` (the paper), ``"video"``
            (entries of the anchor's own video, i.e. its own earlier copies) or ``"group"``
            (entries of the anchor's group, e.g. UCF101's ``gXX``; implies same-video when ids
            are consistent). Default ``"none"``.

    Buffers (all in ``state_dict``):
        feats: K x dim float, random-normal then L2-normalised (MoCo), overwritten FIFO.
        ptr: () long, the next row to write (= the oldest entry once the queue is full).
        filled: () long, number of rows holding real keys (min(enqueued, K)).
        video_ids, group_ids: K long, -1 for none / not yet written.
        steps: K long, step at which the row was written, -1 for the random initial rows.
        num_updates: () long, number of ``enqueue`` calls (the default step).
    """

    def __init__(self, dim: int, K: int = 2048, *, mask: str = "none") -> None:
        super().__init__()
        if dim < 1 or K < 1:
            raise ValueError(f"GuidanceQueue needs dim >= 1 and K >= 1, got dim={dim}, K={K}")
        if mask not in MASKS:
            raise ValueError(f"mask must be one of {MASKS}, got {mask!r}")
        self.dim, self.K, self.mask = int(dim), int(K), mask
        self.register_buffer("feats", F.normalize(torch.randn(K, dim), dim=1))  # K x dim
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))
        self.register_buffer("video_ids", torch.full((K,), -1, dtype=torch.long))  # K
        self.register_buffer("group_ids", torch.full((K,), -1, dtype=torch.long))  # K
        self.register_buffer("steps", torch.full((K,), -1, dtype=torch.long))  # K
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, K={self.K}, mask={self.mask!r}"

    # ------------------------------------------------------------------ update
    @torch.no_grad()
    def enqueue(
        self,
        keys: torch.Tensor,
        video_ids: torch.Tensor | None = None,
        group_ids: torch.Tensor | None = None,
        step: int | None = None,
    ) -> None:
        """Write a batch of keys FIFO (after the logits were computed, as in MoCo).

        Under ``torch.distributed`` the keys and ids of all ranks are gathered first (rank
        order), so every rank writes the same rows.

        Args:
            keys: B x dim guidance features (L2-normalised here; no gradient is kept).
            video_ids: B long video ids, or None (-1 stored).
            group_ids: B long group ids, or None (-1 stored).
            step: training step stored with the rows (for :meth:`ages`); default the number of
                previous ``enqueue`` calls.
        """
        if keys.dim() != 2 or keys.shape[1] != self.dim:
            raise ValueError(f"enqueue expects B x {self.dim} keys, got {tuple(keys.shape)}")
        B = keys.shape[0]
        vid = self._ids(video_ids, B, keys.device)  # B
        grp = self._ids(group_ids, B, keys.device)  # B
        keys = concat_all_gather(F.normalize(keys.detach(), dim=1).to(self.feats.dtype))  # B' x dim
        vid = concat_all_gather(vid)  # B'
        grp = concat_all_gather(grp)  # B'
        dev = self.feats.device
        n = min(keys.shape[0], self.K)  # a batch larger than K keeps its last K keys
        keys, vid, grp = keys[-n:].to(dev), vid[-n:].to(dev), grp[-n:].to(dev)  # n x dim, n, n
        step_t = self.num_updates if step is None else torch.tensor(int(step), device=dev)
        # pointer arithmetic stays on the device: no host sync per step
        idx = (self.ptr + torch.arange(n, device=dev)) % self.K  # n (wraps around)
        self.feats.index_copy_(0, idx, keys)  # K x dim
        self.video_ids.index_copy_(0, idx, vid)  # K
        self.group_ids.index_copy_(0, idx, grp)  # K
        self.steps.index_copy_(0, idx, step_t.expand(n).clone())  # K
        self.ptr.copy_((self.ptr + n) % self.K)
        self.filled.copy_((self.filled + n).clamp(max=self.K))
        self.num_updates += 1

    @staticmethod
    def _ids(ids: torch.Tensor | None, B: int, device: torch.device) -> torch.Tensor:
        if ids is None:
            return torch.full((B,), -1, dtype=torch.long, device=device)
        ids = torch.as_tensor(ids, dtype=torch.long, device=device).reshape(-1)
        if ids.numel() != B:
            raise ValueError(f"got {ids.numel()} ids for a batch of {B} keys")
        return ids

    # ------------------------------------------------------------------ reading
    def valid_mask(self) -> torch.Tensor:
        """K bool: True for rows holding real keys (not the random initial rows)."""
        return self.steps >= 0  # K

    def ordered_indices(self) -> torch.Tensor:
        """Row indices of the real entries, oldest first (length ``filled``)."""
        f = int(self.filled)
        start = int(self.ptr) if f == self.K else 0
        return (start + torch.arange(f, device=self.feats.device)) % self.K  # filled

    def negative_mask(
        self, video_ids: torch.Tensor | None = None, group_ids: torch.Tensor | None = None
    ) -> torch.Tensor | None:
        """Which queue entries are *not* negatives for each anchor, per ``self.mask``.

        Args:
            video_ids: N long ids of the anchors (needed for ``mask="video"``).
            group_ids: N long group ids (needed for ``mask="group"``). Id -1 never matches.

        Returns:
            N x K bool (True = exclude from the softmax), or None for ``mask="none"``.
        """
        if self.mask == "none":
            return None
        ids, table = (video_ids, self.video_ids) if self.mask == "video" else (
            group_ids, self.group_ids)
        if ids is None:
            raise ValueError(f"queue mask={self.mask!r} needs the anchors' "
                             f"{'video_ids' if self.mask == 'video' else 'groups'}")
        ids = torch.as_tensor(ids, dtype=torch.long, device=table.device).reshape(-1)  # N
        return (ids[:, None] == table[None, :]) & (ids[:, None] >= 0)  # N x K

    def fill_level(self) -> float:
        """Fraction of the K rows holding real keys, in [0, 1]."""
        return int(self.filled) / self.K

    @torch.no_grad()
    def summary(self, step: int | None = None) -> dict[str, torch.Tensor]:
        """Fill level and mean age (in steps) of the real entries, as 0-d tensors (no sync).

        Args:
            step: the current step; default the number of ``enqueue`` calls so far.

        Returns:
            ``{"queue_fill": filled / K, "queue_age": mean age, NaN while empty}``.
        """
        now = self.num_updates if step is None else step
        valid = self.valid_mask()  # K
        age = torch.where(valid, now - self.steps, 0).sum() / valid.sum()  # 0-d
        return {"queue_fill": self.filled.float() / self.K, "queue_age": age.float()}

    def ages(self, step: int | None = None) -> torch.Tensor:
        """Age in steps (``step`` minus the enqueue step) of each real entry, oldest first.

        Args:
            step: the current step; default the number of ``enqueue`` calls so far.

        Returns:
            filled long tensor.
        """
        now = int(self.num_updates) if step is None else int(step)
        return now - self.steps[self.ordered_indices()]  # filled


@torch.no_grad()
def contrast_stats(
    logits: torch.Tensor | ContrastRows,
    tau: float,
    *,
    neg_mask: torch.Tensor | None = None,
    valid: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Similarity statistics of InfoNCE logits (positive at index 0), for monitoring.

    Args:
        logits: N x (1+K) logits = similarity / tau, as from ``info_nce_logits``; or the
            :class:`~dtgkit.dtg.losses.ContrastRows` that ``info_nce_queue`` gathered from
            them without writing them out (``neg_mask`` and ``valid`` are then already in).
        tau: the temperature used, to report similarities in [-1, 1].
        neg_mask: N x K bool, True = excluded negative (ignored in the statistics).
        valid: K bool, True = real queue entry (:meth:`GuidanceQueue.valid_mask`); the random
            initial rows are left out of the negative statistics. Default: all valid.

    Returns:
        dict of 0-d float tensors: ``acc`` (instance discrimination accuracy: fraction of anchors
        whose positive has the top logit among all 1+K, as the loss sees them), ``pos_sim``
        (mean a.g+), ``neg_sim`` (mean a.g- over real, unmasked negatives; NaN if none),
        ``hard_neg_sim`` (mean over anchors of the most similar real negative; NaN if none).
    """
    rows = logits if isinstance(logits, ContrastRows) else contrast_rows(logits, neg_mask, valid)
    # no host sync: 0 / 0 gives the NaN of "no real negative"
    has = rows.real_count > 0  # N
    hard = torch.where(has, rows.real_max, 0.0).sum() / has.sum()  # 0-d
    return {
        "acc": (rows.pos >= rows.top_neg).float().mean(),  # argmax = 0: the positive wins ties
        "pos_sim": (rows.pos.mean() * tau).float(),
        "neg_sim": (rows.real_sum.sum() / rows.real_count.sum() * tau).float(),
        "hard_neg_sim": (hard * tau).float(),
    }

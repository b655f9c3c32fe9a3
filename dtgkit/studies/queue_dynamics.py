"""Queue dynamics of DTG-Net on cached features: a short real run, every step recorded.

:func:`queue_run` trains a small student with the real :class:`dtgkit.dtg.net.DTGNet` (its
:class:`~dtgkit.dtg.queue.GuidanceQueue`, Eq. 2 InfoNCE, FIFO update after the logits) on
:class:`~dtgkit.studies.frames.FrameData`: per-frame pixel thumbnails for the student (a
TSN-style per-frame MLP with average consensus, :class:`FrameMLPStudent`) and a real
teacher's cached per-frame features for the guidance. Each step draws a batch of videos
(an epoch-wise permutation, as the training loader does) and a positive pair of views per
video (``two_view_indices``); guidance = mean teacher feature over the guidance view's frames.

Recorded per step: the diagnostics DTGNet returns (``loss``, ``acc``, ``pos_sim``,
``neg_sim``, ``hard_neg_sim``, ``queue_fill``, ``queue_age``) plus the pointer, the number
of wrap-arounds and how many anchors find their own video among the negatives (a queue larger
than the dataset holds earlier copies of the anchor: moco #146). Every ``snapshot_every`` steps
the full positive / negative similarity arrays and the entry ages are kept for histograms.
Everything is small enough to re-run in a second or two when a widget changes tau or K.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dtgkit.data.sampling import two_view_indices
from dtgkit.dtg.net import DTGNet
from dtgkit.metrics import evaluate_knn
from dtgkit.studies.frames import FrameData, torch_threads
from dtgkit.studies.geometry import geometry_metrics

__all__ = ["FrameMLPStudent", "QueueRun", "queue_run", "queue_sweep"]

TEACHER = "teacher"  # name of the single teacher inside the DTGNet of a queue run


class FrameMLPStudent(nn.Module):
    """A TSN-style student on per-frame input vectors: shared MLP per frame, average consensus.

    Args:
        in_dim: D_in of each frame's input vector.
        feat_dim: output width (``.feat_dim``, what the projection head sees).
        hidden: hidden width of the per-frame MLP.
        mean, std: D_in input standardisation (buffers; default 0 / 1).
    """

    def __init__(self, in_dim: int, feat_dim: int = 64, hidden: int = 128,
                 mean: np.ndarray | None = None, std: np.ndarray | None = None) -> None:
        super().__init__()
        self.feat_dim = int(feat_dim)
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(inplace=True),
                                 nn.Linear(hidden, feat_dim))
        self.register_buffer("mean", torch.as_tensor(
            np.zeros(in_dim) if mean is None else mean, dtype=torch.float32))  # D_in
        self.register_buffer("std", torch.as_tensor(
            np.ones(in_dim) if std is None else std, dtype=torch.float32))  # D_in

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Args: frames N x T x D_in. Returns: N x feat_dim (mean over the T frames)."""
        x = (frames - self.mean) / self.std  # N x T x D_in
        return self.net(x).mean(dim=1)  # N x feat_dim


@dataclass
class QueueRun:
    """What :func:`queue_run` recorded.

    Attributes:
        history: one dict per step (see the module docstring for the keys).
        snapshots: dicts with ``step``, ``pos`` (B), ``neg`` (all real negatives' similarities),
            ``neg_own`` (similarities to queue entries of the anchor's own video), ``ages``
            (entry ages, oldest first), ``ptr``, ``filled``, ``slot_steps`` (K, enqueue step
            of each slot, -1 = random initial row). Taken *before* the step's update.
        final: evaluation after training (``own_retrieval``, ``knn_acc``, ``silhouette``,
            ``anchor_sim`` on fixed test views of the evaluated videos).
        params: the arguments of the run.
    """

    history: list[dict]
    snapshots: list[dict]
    final: dict[str, float]
    params: dict = field(default_factory=dict)

    def series(self, key: str) -> np.ndarray:
        """One history key over the steps (NaN where missing)."""
        return np.array([np.nan if h.get(key) is None else h[key] for h in self.history],
                        dtype=np.float64)


def _views(data: FrameData, vids: np.ndarray, num_segments: int, mode: str,
           rng: np.random.Generator | None, train: bool):
    a_idx, g_idx = zip(*(two_view_indices(data.num_frames, num_segments, mode, rng=rng,
                                          train=train) for _ in vids))
    anchor = torch.from_numpy(np.stack([data.student_frames[v, i]
                                        for v, i in zip(vids, a_idx)]))  # B x T x D_in
    guid = torch.from_numpy(np.stack([data.guidance_frames[v, i].mean(axis=0)
                                      for v, i in zip(vids, g_idx)]))  # B x D
    return anchor, guid


def queue_run(
    data: FrameData,
    *,
    K: int = 16,
    tau: float = 0.07,
    steps: int = 60,
    batch_size: int = 8,
    num_segments: int = 4,
    mode: str = "seq_seq_overlap",
    lr: float = 0.05,
    feat_dim: int = 64,
    hidden: int = 128,
    mask: str = "none",
    snapshot_every: int = 10,
    train_videos: np.ndarray | None = None,
    seed: int = 0,
) -> QueueRun:
    """A short self-supervised DTG run with one teacher, recording the queue at every step.

    Args:
        data: per-frame student inputs and teacher features (:func:`~dtgkit.studies.frames.
            load_frame_data`).
        K: queue size (the paper: "smaller than the total training samples").
        tau: temperature of Eq. 2 (MoCo v1: 0.07).
        steps: optimiser steps.
        batch_size: videos per step.
        num_segments: T frames per view.
        mode: pair mode (``dtgkit.data.sampling.PAIR_MODES``).
        lr: SGD learning rate (momentum 0.9, weight decay 5e-4: the paper's optimiser).
        feat_dim, hidden: student widths.
        mask: queue negative masking (``"none"`` = the paper, ``"video"``, ``"group"``).
        snapshot_every: keep full similarity arrays every this many steps (and the last).
        train_videos: indices of the videos to train on (default all: pre-training uses
            unlabelled videos, the labels are only used by the final kNN score).
        seed: seeds the view draws, the batch order and the initial weights.

    Returns:
        :class:`QueueRun`.
    """
    params = {"K": K, "tau": tau, "steps": steps, "batch_size": batch_size,
              "num_segments": num_segments, "mode": mode, "lr": lr, "feat_dim": feat_dim,
              "hidden": hidden, "mask": mask, "seed": seed}
    rng = np.random.default_rng(seed)
    vids_all = np.arange(len(data.labels)) if train_videos is None else np.asarray(train_videos)
    frames = data.student_frames[vids_all].reshape(-1, data.student_frames.shape[-1])
    with torch_threads(1):
        torch.manual_seed(seed)
        student = FrameMLPStudent(frames.shape[1], feat_dim, hidden, frames.mean(0),
                                  frames.std(0) + 1e-3)
        net = DTGNet(student, {TEACHER: data.guidance_frames.shape[-1]}, K=K, tau=tau,
                     mask=mask)
        opt = torch.optim.SGD(list(net.trainable_parameters()), lr=lr, momentum=0.9,
                              weight_decay=5e-4)
        queue, head = net.queues[TEACHER], net.heads[TEACHER]
        history, snapshots = [], []
        order: list[int] = []
        epoch = 0
        for step in range(1, steps + 1):
            if len(order) < batch_size:  # next epoch: a fresh permutation of the videos
                order += rng.permutation(vids_all).tolist()
                epoch += 1
            vids, order = np.array(order[:batch_size]), order[batch_size:]
            anchor, guid = _views(data, vids, num_segments, mode, rng, train=True)
            vid_t = torch.from_numpy(data.video_ids[vids])  # B
            with torch.no_grad():  # the similarities the loss is about to see
                a = head(student(anchor))  # a: B x D (unit rows)
                pos = (a * F.normalize(guid, dim=1)).sum(1)  # B
                real = queue.valid_mask()  # K
                neg = a @ queue.feats[real].T  # B x filled
                own = vid_t[:, None] == queue.video_ids[real][None, :]  # B x filled
            if step % max(1, snapshot_every) == 0 or step in (1, steps):
                snapshots.append({"step": step, "pos": pos.numpy().copy(),
                                  "neg": neg[~own].numpy().copy(),
                                  "neg_own": neg[own].numpy().copy(),
                                  "ages": queue.ages(step).numpy().copy(),
                                  "ptr": int(queue.ptr), "filled": int(queue.filled),
                                  "slot_steps": queue.steps.numpy().copy()})
            net.train()
            loss, diag = net(anchor, guidance_feats={TEACHER: guid}, video_ids=vid_t,
                             step=step)
            opt.zero_grad()
            loss.backward()
            opt.step()
            row = {"step": step, "epoch": epoch, **{k: float(v) for k, v in diag.items()
                                                    if "/" not in k}}
            row.update(ptr=int(queue.ptr), wraps=int(step * batch_size // K),
                       own_in_queue=float(own.any(1).float().mean()),
                       own_negatives=int(own.sum()))
            history.append(row)
        final = _evaluate(net, data, num_segments, mode)
    return QueueRun(history, snapshots, final, params)


@torch.no_grad()
def _evaluate(net, data: FrameData, num_segments: int, mode: str) -> dict[str, float]:
    """Anchor vs guidance geometry on fixed test-rule views of every video."""
    vids = np.arange(len(data.labels))
    anchor, guid = _views(data, vids, num_segments, mode, None, train=False)
    net.eval()
    a = net.heads[TEACHER](net.student(anchor)).numpy()  # V x D
    out = geometry_metrics(a, guid.numpy(), data.labels)
    feats = net.student(anchor).numpy()  # V x feat_dim
    tr = np.asarray(data.train_mask, dtype=bool)
    if tr.any() and (~tr).any():
        out["knn_test_acc"] = float(evaluate_knn(feats[tr], data.labels[tr], feats[~tr],
                                                 data.labels[~tr], k=5)["acc1"])
    return out


def queue_sweep(data: FrameData, Ks: Sequence[int], taus: Sequence[float], **kwargs
                ) -> list[dict]:
    """:func:`queue_run` for every (K, tau); one row per run with its final scores.

    Args:
        data: as for :func:`queue_run`.
        Ks: queue sizes.
        taus: temperatures.
        **kwargs: other :func:`queue_run` arguments (the same for every run).

    Returns:
        rows ``{"K", "tau", "final_loss", "final_acc", "own_in_queue", **run.final}``.
    """
    rows = []
    for K in Ks:
        for tau in taus:
            run = queue_run(data, K=K, tau=tau, **kwargs)
            last = run.history[-max(1, len(run.history) // 5):]  # the last fifth of the steps
            rows.append({"K": K, "tau": tau,
                         "final_loss": float(np.mean([h["loss"] for h in last])),
                         "final_acc": float(np.mean([h["acc"] for h in last])),
                         "own_in_queue": float(np.mean([h["own_in_queue"] for h in last])),
                         **run.final})
    return rows

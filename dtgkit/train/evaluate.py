"""Features and scores of a network on a split: the one path from a split to features.

* :func:`split_features` loads a split's test-time clips and extracts a network's features
  (:func:`extract_features`); every caller (the kNN monitor of pre-training, the frozen
  evaluation of an experiment arm, ``dtgkit evaluate``, the teachers' offline-weight proxy)
  goes through it.
* :func:`frozen_evaluation`: kNN and linear probe of frozen features, train split -> test split.
* :func:`predict_scores`: video-level class scores of a classifier (softmax per clip, mean over
  clips).

The metrics themselves live in :mod:`dtgkit.metrics`.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from dtgkit.config import Config
from dtgkit.metrics import evaluate_knn, linear_probe, to_numpy, video_level_scores
from dtgkit.train import data as TD

__all__ = [
    "extract_features",
    "frozen_evaluation",
    "load_features",
    "predict_scores",
    "save_features",
    "split_features",
]


# ----------------------------------------------------------------- features and scores
def _batch_video_ids(loader, index) -> np.ndarray:
    records = getattr(getattr(loader, "dataset", None), "records", None)
    index = to_numpy(index).astype(np.int64)
    if records is not None:
        return np.array([getattr(records[i], "video_id", i) for i in index], dtype=np.int64)
    return index


def _forward_clips(fn, clip: torch.Tensor) -> torch.Tensor:
    """Apply ``fn`` to N x T x 3 x H x W or N x num_clips x T x 3 x H x W, mean over clips."""
    if clip.dim() == 6:
        n, c = clip.shape[:2]
        out = fn(clip.flatten(0, 1))  # (N * num_clips) x D
        return out.view(n, c, -1)  # N x num_clips x D
    return fn(clip).unsqueeze(1)  # N x 1 x D


def _rank_share(loader):
    """``(loader over this rank's share of its dataset, sharded?)``: under torch.distributed each
    rank decodes every W-th sample (no padding duplicates); otherwise (or with fewer samples than
    ranks) the loader itself."""
    from torch.utils.data import DataLoader, Subset

    from dtgkit.train import distributed as D

    if not D.is_distributed() or not isinstance(loader, DataLoader) \
            or len(loader.dataset) < D.get_world_size():
        return loader, False
    share = Subset(loader.dataset, list(D.shard_indices(len(loader.dataset))))
    return DataLoader(share, batch_size=loader.batch_size, shuffle=False, drop_last=False,
                      num_workers=loader.num_workers, pin_memory=loader.pin_memory,
                      collate_fn=loader.collate_fn), True


def _gather_in_order(device, index: np.ndarray, *arrays: np.ndarray) -> list[np.ndarray]:
    """Every rank's rows joined and put back in dataset order (the order of one process).
    The collective runs on ``device`` (the GPU under nccl, the CPU under gloo)."""
    from dtgkit.dtg.queue import concat_all_gather

    def gather(a: np.ndarray) -> np.ndarray:
        return concat_all_gather(torch.from_numpy(np.ascontiguousarray(a)).to(device)).cpu().numpy()

    order = np.argsort(gather(index), kind="stable")
    return [gather(a)[order] for a in arrays]


@torch.no_grad()
def extract_features(model: torch.nn.Module, loader: Iterable, *, device: str | torch.device = "cpu",
                     progress: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Student features of every sample of ``loader`` (multi-clip batches averaged over clips).

    Under ``torch.distributed`` (a DataLoader over a dataset) every rank extracts the features of
    its share of the samples and all ranks get them all, in the order of one process.

    Args:
        model: maps a clip batch N x T x 3 x H x W to N x D features (e.g. the student).
        loader: yields ``(clip, label, index, ...)`` as :class:`~dtgkit.data.datasets.ClipDataset`
            does; ``clip`` may be N x num_clips x T x 3 x H x W.
        device: where the model runs.

    Returns:
        ``feats`` N x D float32, ``labels`` N int64, ``video_ids`` N int64 (the records'
        ``video_id`` when the loader's dataset has ``records``, else the sample index).
    """
    from tqdm.auto import tqdm

    was_training = model.training
    model.eval()
    feats, labels, vids, order = [], [], [], []
    share, sharded = _rank_share(loader)
    for batch in tqdm(share, desc="features", disable=not progress, leave=False):
        clip, label, index = batch[0], batch[1], batch[2]
        f = _forward_clips(model, clip.to(device, non_blocking=True))  # N x clips x D
        feats.append(f.float().mean(1).cpu().numpy())
        labels.append(to_numpy(label).astype(np.int64))
        vids.append(_batch_video_ids(loader, index))
        order.append(to_numpy(index).astype(np.int64))
    model.train(was_training)
    if feats:
        out = [np.concatenate(feats), np.concatenate(labels), np.concatenate(vids)]
    else:
        dim = int(getattr(model, "feat_dim", 0) or 0)
        out = [np.zeros((0, dim), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64)]
    if sharded:
        out = _gather_in_order(device, np.concatenate(order), *out)
    return tuple(out)


def split_features(cfg: Config, model: torch.nn.Module, split, *, device: str | torch.device = "cpu",
                   num_clips: int = 1, batch_size: int | None = None,
                   log_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``model``'s features of the test-time clips of a split: load the split, build the
    sequential loader, :func:`extract_features`.

    Args:
        cfg: data settings (``data.*``; ``run.progress`` for the bar).
        model: the network (a student, or a frozen teacher).
        split: ``"train"`` / ``"test"`` (loaded from ``cfg.data``), or the records themselves
            (e.g. a subsampled training split).
        device: where the model runs.
        num_clips: clips per video (averaged), :class:`~dtgkit.train.data.MultiClipDataset`.
        batch_size: clips per batch (default ``pretrain.batch_size``).
        log_dir: where the dataset logs skipped and short videos (:func:`~dtgkit.train.data.data_report`).

    Returns:
        ``feats`` N x D float32, ``labels`` N int64, ``video_ids`` N int64.
    """
    records = TD.load_split(cfg.data, split)[0] if isinstance(split, str) else split
    loader = TD.eval_loader(cfg, TD.eval_clip_dataset(cfg, records, num_clips, log_dir=log_dir),
                            batch_size)
    return extract_features(model, loader, device=device, progress=cfg.run.progress)


def frozen_evaluation(cfg: Config, model: torch.nn.Module, *, device: str | torch.device = "cpu",
                      train="train", test="test", batch_size: int | None = None,
                      test_clips: int = 1, linear: bool = True, num_classes: int | None = None,
                      k: int = 200, tau: float = 0.1,
                      log_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """kNN and linear probe of ``model``'s frozen features: the training split is the bank /
    the probe's training set, the test split the queries (:func:`split_features`).

    Args:
        cfg: data settings; ``run.seed`` seeds the probe's solver.
        model: the frozen network (e.g. a student).
        train, test: the two splits (``"train"`` / ``"test"`` or records).
        batch_size: clips per batch (default ``pretrain.batch_size``).
        test_clips: clips per test video (averaged).
        linear: also fit the linear probe.
        num_classes: C (default: the class list of the training split, else its largest label + 1).
        k, tau: kNN neighbours and vote temperature (:func:`dtgkit.metrics.evaluate_knn`).
        log_dir: where the datasets log skipped and short videos.

    Returns:
        ``{"knn": metrics, "linear_probe": metrics or None, "num_classes": C,
        "test_features": (feats, labels, video_ids)}`` (metrics in percent).
    """
    train_records, class_names = TD.load_split(cfg.data, train) if isinstance(train, str) else (train, None)
    f_tr, y_tr, _ = split_features(cfg, model, train_records, device=device, batch_size=batch_size,
                                   log_dir=log_dir)
    f_te, y_te, v_te = split_features(cfg, model, test, device=device, num_clips=test_clips,
                                      batch_size=batch_size, log_dir=log_dir)
    C = num_classes or TD.num_classes_of(train_records, class_names)
    return {"knn": evaluate_knn(f_tr, y_tr, f_te, y_te, C, k=k, tau=tau),
            "linear_probe": linear_probe(f_tr, y_tr, f_te, y_te, C, seed=cfg.run.seed) if linear else None,
            "num_classes": C, "test_features": (f_te, y_te, v_te)}


@torch.no_grad()
def predict_scores(model: torch.nn.Module, loader: Iterable, *, device: str | torch.device = "cpu",
                   progress: bool = False, features: torch.nn.Module | None = None) -> tuple:
    """Video-level class scores of a classifier (softmax per clip, mean over clips and over
    repeated rows of the same video).

    Under ``torch.distributed`` every rank scores its share of the rows and all ranks get the
    whole result (as :func:`extract_features`).

    Args:
        model: maps N x T x 3 x H x W clips to N x C logits.
        loader: as for :func:`extract_features`.
        features: a sub-module of ``model`` called once per forward (e.g. the student under
            the classifier): its output is collected in the same pass, so a test that also
            wants the features (Figure 4) decodes the clips once.

    Returns:
        ``scores`` V x C, ``labels`` V, ``video_ids`` V (one row per video); with ``features``
        also ``feats`` V x D float32 (mean over clips and rows, as :func:`extract_features`).
    """
    from tqdm.auto import tqdm

    was_training = model.training
    model.eval()
    probs, labels, vids, feats, order, captured = [], [], [], [], [], []
    hook = None if features is None else features.register_forward_hook(
        lambda _m, _i, out: captured.append(out))
    share, sharded = _rank_share(loader)
    try:
        for batch in tqdm(share, desc="test", disable=not progress, leave=False):
            clip, label, index = batch[0], batch[1], batch[2]
            logits = _forward_clips(model, clip.to(device, non_blocking=True))  # N x clips x C
            probs.append(video_level_scores(logits.float().cpu().numpy()))  # N x C
            labels.append(to_numpy(label).astype(np.int64))
            vids.append(_batch_video_ids(loader, index))
            order.append(to_numpy(index).astype(np.int64))
            if hook is not None:
                f = torch.cat(captured).float()  # (N * clips) x D
                captured.clear()
                feats.append(f.view(logits.shape[0], logits.shape[1], -1).mean(1).cpu().numpy())
    finally:
        if hook is not None:
            hook.remove()
        model.train(was_training)
    probs, labels, vids = np.concatenate(probs), np.concatenate(labels), np.concatenate(vids)
    feats = [np.concatenate(feats)] if hook is not None else []
    if sharded:
        probs, labels, vids, *feats = _gather_in_order(device, np.concatenate(order), probs,
                                                       labels, vids, *feats)
    scores, uniq = video_level_scores(probs, vids, apply_softmax=False)
    first = {v: i for i, v in reversed(list(enumerate(vids)))}
    out = (scores, labels[[first[v] for v in uniq]], uniq)
    if hook is None:
        return out
    video_feats, _ = video_level_scores(feats[0], vids, apply_softmax=False)
    return (*out, video_feats.astype(np.float32))


def save_features(path: str | os.PathLike, feats, labels, video_ids, class_names=None) -> str:
    """Save features for t-SNE etc. as ``.npz`` (atomically) and return the path."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp.npz"
    extra = {} if class_names is None else {"class_names": np.asarray(list(class_names), dtype=str)}
    np.savez(tmp, feats=to_numpy(feats), labels=to_numpy(labels), video_ids=to_numpy(video_ids), **extra)
    os.replace(tmp, path)
    return path


def load_features(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load an ``.npz`` written by :func:`save_features` (keys feats, labels, video_ids[, class_names])."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"feature file not found: {path}")
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}

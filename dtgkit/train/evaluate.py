"""Evaluation: acc@k, mAP, mean class accuracy, multi-clip scores, kNN, linear probe, features.

The metrics follow mmaction2's definitions (ANCHORS.md, "Metrics"), the kNN monitor follows the
MoCo Colab / lightly ``knn_predict``:

* ``top_k_accuracy``: a sample is right when its label is among the k highest scores (argsort).
* ``mean_average_precision``: per class, the average precision of that class's scores against
  the one-hot labels, from the step-wise precision-recall curve (no interpolation), classes
  without positives (NaN) dropped, mean over classes. Equal to
  ``sklearn.metrics.average_precision_score`` per class.
* ``mean_class_accuracy``: mean over classes (that have test samples) of per-class recall.
* Video-level scores from several clips: softmax per clip, then the mean over clips.
* kNN: cosine similarity, the k = 200 nearest bank features (k clamped to the bank size), votes
  weighted by ``exp(sim / tau)`` with tau = 0.1.
* Linear probe: frozen, L2-normalised features; ``sklearn.linear_model.LogisticRegression``
  (lbfgs, multinomial, C = 1.0, max_iter = 1000); no other feature scaling.

Everything but :func:`extract_features` / :func:`predict_scores` is a pure function of arrays.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import numpy as np
import torch

__all__ = [
    "average_precision",
    "classification_metrics",
    "extract_features",
    "knn_evaluate",
    "knn_predict",
    "l2_normalize",
    "linear_probe",
    "load_features",
    "mean_average_precision",
    "mean_class_accuracy",
    "predict_scores",
    "save_features",
    "softmax",
    "top_k_accuracy",
    "video_level_scores",
]


def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().float().cpu().numpy() if x.is_floating_point() else x.detach().cpu().numpy()
    return np.asarray(x)


# ------------------------------------------------------------------ classification metrics
def top_k_accuracy(scores, labels, topk: Sequence[int] = (1, 5)) -> list[float]:
    """Fraction of samples whose label is among the k highest scores, for each k.

    Args:
        scores: N x C class scores (logits or probabilities).
        labels: N integer labels.
        topk: the k values; a k larger than C counts every sample as right.

    Returns:
        One accuracy in [0, 1] per k.
    """
    scores, labels = _np(scores), _np(labels).astype(np.int64)
    order = np.argsort(scores, axis=1)[:, ::-1]  # N x C, best first
    out = []
    for k in topk:
        hits = (order[:, :k] == labels[:, None]).any(axis=1)  # N
        out.append(float(hits.mean()) if len(labels) else float("nan"))
    return out


def mean_class_accuracy(scores, labels) -> float:
    """Mean over classes present in ``labels`` of the per-class recall of argmax predictions.

    Args:
        scores: N x C class scores.
        labels: N integer labels.
    """
    scores, labels = _np(scores), _np(labels).astype(np.int64)
    pred = scores.argmax(axis=1)  # N
    recalls = [float((pred[labels == c] == c).mean()) for c in np.unique(labels)]
    return float(np.mean(recalls)) if recalls else float("nan")


def average_precision(scores, targets) -> float:
    """Average precision of one class: sum over recall steps of precision (no interpolation).

    The precision-recall curve is evaluated at every distinct score threshold (ties counted
    together), as in mmaction2 ``binary_precision_recall_curve`` and sklearn.

    Args:
        scores: N scores of this class.
        targets: N booleans / {0, 1}: does the sample belong to the class.

    Returns:
        AP in [0, 1], or NaN when there are no positives.
    """
    scores, targets = _np(scores).astype(np.float64), _np(targets).astype(bool)
    if targets.sum() == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")[::-1]  # descending, stable
    scores, targets = scores[order], targets[order]
    last = np.r_[np.nonzero(np.diff(scores))[0], scores.size - 1]  # last index of each tie group
    tps = np.cumsum(targets)[last]
    precision = tps / (last + 1)
    recall = tps / tps[-1]
    recall_steps = np.diff(np.r_[0.0, recall])
    return float(np.sum(recall_steps * precision))


def mean_average_precision(scores, labels, num_classes: int | None = None) -> float:
    """mmaction2 ``mean_average_precision`` on one-hot labels: mean AP over classes.

    Args:
        scores: N x C class scores.
        labels: N integer labels (turned into one-hot N x C).
        num_classes: C (default: ``scores.shape[1]``).

    Returns:
        Mean AP over classes with at least one positive (NaN classes dropped).
    """
    scores, labels = _np(scores), _np(labels).astype(np.int64)
    num_classes = num_classes or scores.shape[1]
    aps = [average_precision(scores[:, c], labels == c) for c in range(num_classes)]
    aps = [a for a in aps if not np.isnan(a)]
    return float(np.mean(aps)) if aps else float("nan")


def classification_metrics(scores, labels, topk: Sequence[int] = (1, 5)) -> dict[str, float]:
    """acc@k (in %), mAP (in %) and mean class accuracy (in %) in one dict.

    Args:
        scores: N x C video-level scores.
        labels: N integer labels.

    Returns:
        ``{"acc1", "acc5", "mAP", "mean_class_acc", "num_samples"}`` (keys follow ``topk``).
    """
    accs = top_k_accuracy(scores, labels, topk)
    out = {f"acc{k}": 100.0 * a for k, a in zip(topk, accs)}
    out["mAP"] = 100.0 * mean_average_precision(scores, labels)
    out["mean_class_acc"] = 100.0 * mean_class_accuracy(scores, labels)
    out["num_samples"] = len(_np(labels))
    return out


# -------------------------------------------------------------------- multi-clip testing
def softmax(logits, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax of a numpy array along ``axis``."""
    x = _np(logits).astype(np.float64)
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def video_level_scores(clip_logits, video_ids=None, *, apply_softmax: bool = True):
    """Average clip scores into one score vector per video (softmax per clip, then mean).

    Args:
        clip_logits: either N x num_clips x C (clips of a video stacked), or M x C clip rows
            with ``video_ids`` (M) naming the video of each row.
        video_ids: M video ids for the 2-D form; ignored for the 3-D form.
        apply_softmax: softmax each clip before averaging (mmaction2's ``average_clips='prob'``).

    Returns:
        3-D form: N x C scores. 2-D form: ``(scores V x C, ids V)`` with the videos in order of
        first appearance.
    """
    x = _np(clip_logits).astype(np.float64)
    if apply_softmax:
        x = softmax(x, axis=-1)
    if x.ndim == 3:
        return x.mean(axis=1)  # N x C
    if video_ids is None:
        return x, np.arange(len(x))
    ids = _np(video_ids)
    uniq, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    sums = np.zeros((len(uniq), x.shape[1]))
    np.add.at(sums, inverse, x)
    counts = np.bincount(inverse, minlength=len(uniq))[:, None]
    order = np.argsort(first)  # videos in order of first appearance
    return (sums / counts)[order], uniq[order]


# --------------------------------------------------------------------------------- kNN
def l2_normalize(feats, eps: float = 1e-12) -> np.ndarray:
    """Rows of an N x D array scaled to unit L2 norm (zero rows stay zero)."""
    x = _np(feats).astype(np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), eps)


def knn_predict(feats, bank_feats, bank_labels, num_classes: int, *, k: int = 200,
                tau: float = 0.1, chunk: int = 1024) -> np.ndarray:
    """Similarity-weighted kNN class scores (MoCo Colab / lightly ``knn_predict``).

    Args:
        feats: N x D query features (normalised here).
        bank_feats: M x D bank features (normalised here).
        bank_labels: M integer labels.
        num_classes: C.
        k: neighbours (default 200), clamped to M.
        tau: temperature of the vote weights ``exp(sim / tau)`` (default 0.1).
        chunk: queries per matrix product (memory bound).

    Returns:
        N x C vote scores (argsort them for the predictions).
    """
    q = torch.from_numpy(l2_normalize(feats))  # N x D
    bank = torch.from_numpy(l2_normalize(bank_feats))  # M x D
    labels = torch.from_numpy(_np(bank_labels).astype(np.int64))  # M
    k = max(1, min(int(k), bank.shape[0]))
    out = []
    for start in range(0, q.shape[0], chunk):
        sim = q[start:start + chunk] @ bank.T  # n x M
        sim_w, idx = sim.topk(k, dim=1)  # n x k
        votes = torch.zeros(sim.shape[0], num_classes, dtype=torch.float64)  # n x C
        votes.scatter_add_(1, labels[idx], (sim_w.double() / tau).exp())
        out.append(votes)
    return torch.cat(out).numpy() if out else np.zeros((0, num_classes))


def knn_evaluate(train_feats, train_labels, test_feats, test_labels, num_classes: int | None = None,
                 *, k: int = 200, tau: float = 0.1) -> dict[str, float]:
    """kNN monitor: the train features are the bank, the test features the queries.

    Returns:
        :func:`classification_metrics` of the vote scores (acc1, acc5, mAP, ...) plus ``k``.
    """
    train_labels, test_labels = _np(train_labels), _np(test_labels)
    if num_classes is None:
        num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    scores = knn_predict(test_feats, train_feats, train_labels, num_classes, k=k, tau=tau)
    out = classification_metrics(scores, test_labels)
    out["k"] = int(min(k, len(train_labels)))
    return out


# ------------------------------------------------------------------------ linear probe
def linear_probe(train_feats, train_labels, test_feats, test_labels, num_classes: int | None = None,
                 *, C: float = 1.0, max_iter: int = 1000, seed: int = 0) -> dict[str, float]:
    """Linear classifier on frozen, L2-normalised features (sklearn LogisticRegression).

    Settings: lbfgs solver, multinomial loss, L2 penalty with inverse strength ``C`` (1.0),
    ``max_iter`` 1000, ``random_state=seed``; no standardisation besides the L2 normalisation.

    Returns:
        :func:`classification_metrics` of the test probabilities.
    """
    from sklearn.linear_model import LogisticRegression

    train_labels, test_labels = _np(train_labels).astype(np.int64), _np(test_labels).astype(np.int64)
    if num_classes is None:
        num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    xtr, xte = l2_normalize(train_feats), l2_normalize(test_feats)
    scores = np.zeros((len(xte), num_classes))
    present = np.unique(train_labels)
    if len(present) == 1:  # a single class: it is the only prediction
        scores[:, present[0]] = 1.0
    else:
        clf = LogisticRegression(C=C, max_iter=max_iter, random_state=seed)
        clf.fit(xtr, train_labels)
        scores[:, clf.classes_] = clf.predict_proba(xte)  # classes absent in train keep 0
    return classification_metrics(scores, test_labels)


# ----------------------------------------------------------------- features and scores
def _batch_video_ids(loader, index) -> np.ndarray:
    records = getattr(getattr(loader, "dataset", None), "records", None)
    index = _np(index).astype(np.int64)
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
        labels.append(_np(label).astype(np.int64))
        vids.append(_batch_video_ids(loader, index))
        order.append(_np(index).astype(np.int64))
    model.train(was_training)
    if feats:
        out = [np.concatenate(feats), np.concatenate(labels), np.concatenate(vids)]
    else:
        dim = int(getattr(model, "feat_dim", 0) or 0)
        out = [np.zeros((0, dim), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64)]
    if sharded:
        out = _gather_in_order(device, np.concatenate(order), *out)
    return tuple(out)


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
            labels.append(_np(label).astype(np.int64))
            vids.append(_batch_video_ids(loader, index))
            order.append(_np(index).astype(np.int64))
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
    np.savez(tmp, feats=_np(feats), labels=_np(labels), video_ids=_np(video_ids), **extra)
    os.replace(tmp, path)
    return path


def load_features(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load an ``.npz`` written by :func:`save_features` (keys feats, labels, video_ids[, class_names])."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"feature file not found: {path}")
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}

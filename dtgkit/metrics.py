"""Every metric dtgkit reports, in one place: acc@k, mAP, mean class accuracy, multi-clip
scores, L2 normalisation, kNN, leave-one-group-out kNN, linear probe, silhouette.

The classification metrics follow mmaction2's definitions (ANCHORS.md, "Metrics"); the kNN
follows the MoCo Colab / lightly ``knn_predict``:

* ``top_k_accuracy``: a sample is right when its label is among the k highest scores (argsort).
* ``mean_average_precision``: per class, the average precision of that class's scores against
  the one-hot labels, from the step-wise precision-recall curve (no interpolation), classes
  without positives (NaN) dropped, mean over classes. Equal to
  ``sklearn.metrics.average_precision_score`` per class.
* ``mean_class_accuracy``: mean over classes (that have test samples) of per-class recall.
* Video-level scores from several clips: softmax per clip, then the mean over clips.
* kNN (:func:`knn_predict`, the only kNN): the k most similar bank samples vote for their
  class with weight ``exp(sim / tau)`` (k = 200, tau = 0.1, cosine similarity), or one vote
  each (``tau=None``); pairs can be excluded (a sample itself, its UCF101 group).
* Linear probe: frozen, L2-normalised features; ``sklearn.linear_model.LogisticRegression``
  (lbfgs, multinomial, C = 1.0, max_iter = 1000); no other feature scaling.
* Binomial standard error of an accuracy on n test samples (the test set's noise).
* Silhouette: sklearn's definition (a sample alone in its class scores 0) on any distance
  matrix (cosine distance ``1 - cos`` for features).

Pure functions of arrays (numpy arrays or tensors in; floats, dicts or numpy arrays out).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

__all__ = [
    "METRICS",
    "METRIC_NAMES",
    "PROBE_C_GRID",
    "average_precision",
    "binomial_se",
    "classification_metrics",
    "cosine_distances",
    "evaluate_knn",
    "knn_predict",
    "l2_normalize",
    "linear_probe",
    "loo_knn_accuracy",
    "mean_average_precision",
    "mean_class_accuracy",
    "select_probe_C",
    "silhouette",
    "softmax",
    "to_numpy",
    "top_k_accuracy",
    "video_level_scores",
]


#: the metrics of an experiment's result row (percent), in table order: frozen-feature kNN and
#: linear probe, then the fine-tuned (or supervised) classifier
METRICS = ("knn_acc1", "linear_acc1", "acc1", "acc5", "mAP")
#: their display names in tables and figures
METRIC_NAMES = {"knn_acc1": "kNN acc@1", "linear_acc1": "linear acc@1", "acc1": "fine-tune acc@1",
                "acc5": "fine-tune acc@5", "mAP": "fine-tune mAP", "mean_class_acc": "mean class acc"}


def to_numpy(x) -> np.ndarray:
    """A numpy view of an array or tensor (floating tensors as float32, on the CPU)."""
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
    scores, labels = to_numpy(scores), to_numpy(labels).astype(np.int64)
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
    scores, labels = to_numpy(scores), to_numpy(labels).astype(np.int64)
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
    scores, targets = to_numpy(scores).astype(np.float64), to_numpy(targets).astype(bool)
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
    scores, labels = to_numpy(scores), to_numpy(labels).astype(np.int64)
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
    out["num_samples"] = len(to_numpy(labels))
    return out


# -------------------------------------------------------------------- multi-clip testing
def softmax(logits, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax of a numpy array along ``axis``."""
    x = to_numpy(logits).astype(np.float64)
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
    x = to_numpy(clip_logits).astype(np.float64)
    if apply_softmax:
        x = softmax(x, axis=-1)
    if x.ndim == 3:
        return x.mean(axis=1)  # N x C
    if video_ids is None:
        return x, np.arange(len(x))
    ids = to_numpy(video_ids)
    uniq, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    sums = np.zeros((len(uniq), x.shape[1]))
    np.add.at(sums, inverse, x)
    counts = np.bincount(inverse, minlength=len(uniq))[:, None]
    order = np.argsort(first)  # videos in order of first appearance
    return (sums / counts)[order], uniq[order]


# --------------------------------------------------------------------------------- kNN
def l2_normalize(feats, eps: float = 1e-12, *, dtype=np.float32) -> np.ndarray:
    """Rows (the last axis) of an array scaled to unit L2 norm (zero rows stay zero).

    Args:
        feats: ... x D features (array or tensor).
        eps: smallest norm divided by.
        dtype: the result's dtype (float32; float64 where a study needs the precision).
    """
    x = to_numpy(feats).astype(dtype)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), eps)


def knn_predict(sim, bank_labels, num_classes: int | None = None, *, k: int = 200,
                tau: float | None = 0.1, exclude=None) -> np.ndarray:
    """kNN class votes of n queries from their similarities to a bank of M labelled samples.

    The k most similar bank samples of each query vote for their class with weight
    ``exp(sim / tau)`` (MoCo Colab / lightly ``knn_predict``), or, with ``tau=None``, one vote
    each plus ``1e-3`` per rank from the last, so that a tie goes to the class of the nearer
    neighbours (a plain majority vote).

    Args:
        sim: n x M similarities (cosine for features; any score where larger is nearer, e.g.
            minus a distance). ``-inf`` entries are never neighbours.
        bank_labels: M integer labels in ``0..num_classes-1``.
        num_classes: C (default ``max(bank_labels) + 1``).
        k: neighbours (default 200), clamped to M. Excluded or ``-inf`` neighbours vote 0.
        tau: vote temperature (default 0.1), or None for one vote per neighbour.
        exclude: n x M booleans, pairs that are never neighbours (the query itself, its group).

    Returns:
        n x C float64 votes (argmax: the prediction).
    """
    s = torch.as_tensor(sim)  # n x M
    labels = torch.as_tensor(to_numpy(bank_labels).astype(np.int64))  # M
    if exclude is not None:
        s = s.masked_fill(torch.as_tensor(exclude, dtype=torch.bool), float("-inf"))
    C = int(labels.max()) + 1 if num_classes is None else int(num_classes)
    votes = torch.zeros(s.shape[0], C, dtype=torch.float64)  # n x C
    if s.shape[0] == 0 or s.shape[1] == 0:
        return votes.numpy()
    kk = max(1, min(int(k), s.shape[1]))
    top, idx = s.topk(kk, dim=1)  # n x k, nearest first
    if tau is None:
        w = 1.0 + 1e-3 * torch.arange(kk, 0, -1, dtype=torch.float64).expand(s.shape[0], kk)  # n x k
    else:
        w = (top.double() / tau).exp()  # n x k
    w = torch.where(torch.isfinite(top), w, torch.zeros_like(w))
    return votes.scatter_add_(1, labels[idx], w).numpy()


def evaluate_knn(train_feats, train_labels, test_feats, test_labels, num_classes: int | None = None,
                 *, k: int = 200, tau: float = 0.1, chunk: int = 1024) -> dict[str, float]:
    """The kNN monitor: the train features are the bank, the test features the queries
    (cosine similarity of L2-normalised features, :func:`knn_predict`).

    Args:
        chunk: queries per matrix product (memory bound).

    Returns:
        :func:`classification_metrics` of the vote scores (acc1, acc5, mAP, ...) plus ``k``.
    """
    train_labels, test_labels = to_numpy(train_labels), to_numpy(test_labels)
    if num_classes is None:
        num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    q = torch.from_numpy(l2_normalize(test_feats))  # N x D
    bank = torch.from_numpy(l2_normalize(train_feats))  # M x D
    scores = [knn_predict(q[start:start + chunk] @ bank.T, train_labels, num_classes, k=k, tau=tau)
              for start in range(0, q.shape[0], chunk)]  # n x M similarities per chunk
    scores = np.concatenate(scores) if scores else np.zeros((0, num_classes))
    out = classification_metrics(scores, test_labels)
    out["k"] = int(min(k, len(train_labels)))
    return out


def loo_knn_accuracy(feats, labels, groups=None, *, k: int = 200, tau: float = 0.1) -> float:
    """Leave-one-group-out kNN top-1 accuracy (percent) of features within one split.

    Every sample is classified by the similarity-weighted vote (``exp(sim / tau)``, cosine) of
    its k nearest *other* samples, excluding samples of its own group (UCF101-style groups share
    a setting; neighbours from them would measure memory of the setting, not the action). A
    sample whose class has no sample outside its own group (a split with one group per class)
    only excludes itself, otherwise it could never be classified right.

    Args:
        feats: N x D features.
        labels: N integer labels.
        groups: N group ids (or None: only the sample itself is excluded; negative ids: none).
        k: neighbours (clamped to N - 1), default 200 as the kNN monitor.
        tau: vote temperature, default 0.1.

    Returns:
        accuracy in percent (NaN for fewer than 2 samples).
    """
    x = torch.from_numpy(l2_normalize(feats)).double()  # N x D
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)  # N
    n = len(y)
    if n < 2:
        return float("nan")
    excl = torch.eye(n, dtype=torch.bool)  # N x N
    if groups is not None:
        g = torch.as_tensor(np.asarray(groups))
        same_group = (g[:, None] == g[None, :]) & (g[:, None] >= 0)  # N x N
        same_class = y[:, None] == y[None, :]  # N x N
        has_other = (same_class & ~same_group).any(1)  # N: a same-class sample in another group
        excl |= same_group & has_other[:, None]
    votes = knn_predict(x @ x.T, y, int(y.max()) + 1, k=min(int(k), n - 1), tau=tau, exclude=excl)
    return float((torch.from_numpy(votes).argmax(1) == y).double().mean() * 100.0)


# ------------------------------------------------------------------------ linear probe
#: the inverse regularisation strengths :func:`select_probe_C` tries
PROBE_C_GRID = (0.1, 1.0, 10.0, 100.0, 1000.0)


def select_probe_C(train_feats, train_labels, groups=None, *, grid=PROBE_C_GRID, folds: int = 4,
                   max_iter: int = 1000, seed: int = 0) -> tuple[float, dict[float, float]]:
    """The linear probe's ``C``, chosen by k-fold cross-validation on the training set alone.

    On L2-normalised features ``C = 1`` is a strong penalty: measured on a SynthActions v2 world
    (768 training / 512 test videos, frozen teachers), the probes read 10-14 points higher at
    the cross-validated ``C`` (100-1000). Folds keep ``groups`` together (UCF101 groups share a
    setting, so a fold split across a group would reward memorising the group); without groups,
    or with fewer than two, folds are stratified by label. The largest mean fold accuracy wins;
    ties go to the smaller ``C`` (more regularisation). Returns ``(C, {C: mean fold acc %})``;
    ``(1.0, {})`` where no two folds can be made.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    x = l2_normalize(train_feats)
    y = to_numpy(train_labels).astype(np.int64)
    g = None if groups is None else np.asarray(groups)
    if g is not None and len(np.unique(g)) >= 2:
        splits = list(GroupKFold(min(folds, len(np.unique(g)))).split(x, y, g))
    else:
        counts = np.bincount(y)
        smallest = int(counts[counts > 0].min()) if len(y) else 0
        if smallest < 2:
            return 1.0, {}
        cv = StratifiedKFold(min(folds, smallest), shuffle=True, random_state=seed)
        splits = list(cv.split(x, y))
    scores: dict[float, float] = {}
    for C in grid:
        accs = []
        for tr, va in splits:
            if len(np.unique(y[tr])) < 2:
                accs.append(float((y[va] == y[tr][0]).mean()))
                continue
            clf = LogisticRegression(C=C, max_iter=max_iter, random_state=seed).fit(x[tr], y[tr])
            accs.append(float((clf.predict(x[va]) == y[va]).mean()))
        scores[float(C)] = 100.0 * float(np.mean(accs))
    best = max(scores.values())
    return min(C for C, v in scores.items() if v == best), scores


def linear_probe(train_feats, train_labels, test_feats, test_labels, num_classes: int | None = None,
                 *, C: float | str = 1.0, max_iter: int = 1000, seed: int = 0,
                 groups=None, return_scores: bool = False) -> dict[str, float]:
    """Linear classifier on frozen, L2-normalised features (sklearn LogisticRegression).

    Settings: lbfgs solver, multinomial loss, L2 penalty with inverse strength ``C`` (1.0),
    ``max_iter`` 1000, ``random_state=seed``; no standardisation besides the L2 normalisation.
    ``C="cv"`` chooses it on the training set (:func:`select_probe_C`, folds by ``groups``:
    one group id per training sample) and reports it as ``C`` in the result.

    Returns:
        :func:`classification_metrics` of the test probabilities (with ``return_scores`` also
        ``scores``: the N x C test probabilities).
    """
    from sklearn.linear_model import LogisticRegression

    train_labels = to_numpy(train_labels).astype(np.int64)
    test_labels = to_numpy(test_labels).astype(np.int64)
    if num_classes is None:
        num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    chosen = None
    if isinstance(C, str):
        if C != "cv":
            raise ValueError(f"linear_probe: C={C!r}: a number or 'cv'")
        C = chosen = select_probe_C(train_feats, train_labels, groups, max_iter=max_iter,
                                    seed=seed)[0]
    xtr, xte = l2_normalize(train_feats), l2_normalize(test_feats)
    scores = np.zeros((len(xte), num_classes))
    present = np.unique(train_labels)
    if len(present) == 1:  # a single class: it is the only prediction
        scores[:, present[0]] = 1.0
    else:
        clf = LogisticRegression(C=C, max_iter=max_iter, random_state=seed)
        clf.fit(xtr, train_labels)
        scores[:, clf.classes_] = clf.predict_proba(xte)  # classes absent in train keep 0
    out = classification_metrics(scores, test_labels)
    if chosen is not None:
        out["C"] = chosen
    if return_scores:
        out["scores"] = scores
    return out


def binomial_se(acc: float, n: int) -> float:
    """Binomial standard error, in percentage points, of an accuracy ``acc`` (%) measured on
    ``n`` test samples: ``100 sqrt(p (1 - p) / n)`` (the test set's own sampling noise: 5.1
    points at 30 % on 80 videos, 2.2 points at 50 % on 500). NaN for ``n <= 0`` or a NaN
    accuracy."""
    if n <= 0 or acc is None or not math.isfinite(acc):
        return float("nan")
    p = min(max(acc / 100.0, 0.0), 1.0)
    return 100.0 * math.sqrt(p * (1 - p) / n)


# -------------------------------------------------------------------------- silhouette
def cosine_distances(feats) -> np.ndarray:
    """N x N cosine distances ``1 - cos`` of the rows of ``feats`` (float64, clipped to [0, 2])."""
    z = l2_normalize(feats, dtype=np.float64)  # N x D
    return np.clip(1.0 - z @ z.T, 0.0, 2.0)


def silhouette(dist, labels) -> float:
    """Mean silhouette of a labelling from pairwise distances (sklearn's definition).

    For sample i with mean distance ``a`` to the other members of its class and ``b`` to the
    members of the nearest other class, ``s_i = (b - a) / max(a, b)``; a sample alone in its
    class scores 0. The diagonal of ``dist`` is taken as 0.

    Args:
        dist: N x N distances (cosine features: ``1 - cos``; an embedding: euclidean).
        labels: N class labels (any values).

    Returns:
        the mean over samples, or NaN with fewer than 2 classes or as many classes as samples.
    """
    d = np.array(dist, dtype=np.float64)  # N x N (a copy)
    classes, y = np.unique(np.asarray(labels), return_inverse=True)
    n = len(y)
    if not 2 <= len(classes) < n:
        return float("nan")
    np.fill_diagonal(d, 0.0)
    onehot = np.eye(len(classes))[y]  # N x C
    sums = d @ onehot  # N x C: summed distance of each sample to each class
    counts = onehot.sum(axis=0)  # C
    rows = np.arange(n)
    own = counts[y] - 1  # N: other members of the own class
    a = sums[rows, y] / np.maximum(own, 1)  # N
    mean_other = sums / counts  # N x C
    mean_other[rows, y] = np.inf
    b = mean_other.min(axis=1)  # N
    s = np.where(own > 0, (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0.0)  # N
    return float(s.mean())

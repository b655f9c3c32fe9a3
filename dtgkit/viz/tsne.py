"""Seeded t-SNE of student features (paper Fig. 4 uses t-SNE [25]) and separation scores.

openTSNE with a fixed ``random_state``, one thread and PCA initialisation: the same features
and seed give the same embedding, so a committed figure can be re-made exactly. Scores of an
embedding (silhouette, leave-one-out kNN accuracy) put a number beside a picture whose look
depends on perplexity and seed.
"""
from __future__ import annotations

import numpy as np

from dtgkit.metrics import knn_predict, silhouette

__all__ = ["embedding_scores", "top_classes", "tsne_embed"]


def tsne_embed(
    feats,
    *,
    seed: int = 0,
    perplexity: float = 30.0,
    metric: str = "cosine",
    n_iter: int = 500,
    normalize: bool = True,
) -> np.ndarray:
    """2-D t-SNE of ``feats`` with openTSNE, deterministic for a given seed.

    Args:
        feats: N x D features (N >= 4).
        seed: ``random_state`` of openTSNE (affinities, PCA init, optimisation).
        perplexity: t-SNE perplexity (default 30), clamped to ``(N - 1) / 3`` for small N.
        metric: neighbour metric (default ``"cosine"``: the student's features are compared by
            cosine similarity everywhere else in dtgkit).
        n_iter: optimisation iterations after the early exaggeration phase (default 500).
        normalize: L2-normalise the rows first (default True).

    Returns:
        N x 2 float64 embedding.

    Raises:
        ValueError: fewer than 4 samples or non-finite features.
    """
    from openTSNE import TSNE

    x = np.asarray(feats, dtype=np.float64)
    if x.ndim != 2 or len(x) < 4:
        raise ValueError(f"t-SNE needs an N x D array with N >= 4, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("t-SNE: features contain NaN or inf")
    if normalize:
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    perp = float(min(perplexity, max((len(x) - 1) / 3.0, 1.0)))
    tsne = TSNE(n_components=2, perplexity=perp, metric=metric, n_iter=n_iter,
                initialization="pca", random_state=seed, n_jobs=1,
                negative_gradient_method="bh", verbose=False)
    return np.asarray(tsne.fit(x), dtype=np.float64)


def embedding_scores(emb, labels, *, k: int = 10) -> dict[str, float]:
    """Class separation of a (2-D) embedding: euclidean silhouette and leave-one-out kNN
    (majority vote, :func:`dtgkit.metrics.knn_predict`).

    Args:
        emb: N x d embedding (e.g. from :func:`tsne_embed`).
        labels: N class labels.
        k: neighbours of the majority vote (clamped to N - 1; ties go to the nearer class).

    Returns:
        ``{"silhouette": float (NaN if undefined), "knn_acc": percent}``.
    """
    e = np.asarray(emb, dtype=np.float64)
    classes, yi = np.unique(np.asarray(labels), return_inverse=True)
    n = len(e)
    d2 = ((e[:, None, :] - e[None, :, :]) ** 2).sum(-1)  # N x N squared distances
    votes = knn_predict(-d2, yi, len(classes), k=max(1, min(k, n - 1)), tau=None,
                        exclude=np.eye(n, dtype=bool))  # N x C, leave one out, majority vote
    return {"silhouette": silhouette(np.sqrt(d2), yi),
            "knn_acc": float((votes.argmax(1) == yi).mean() * 100.0)}


def top_classes(labels, num: int = 10) -> np.ndarray:
    """The ``num`` most frequent labels, largest first (ties: smaller label first).

    Args:
        labels: N labels.
        num: how many classes (default 10: "the top10 classes", Fig. 4).

    Returns:
        up to ``num`` labels.
    """
    values, counts = np.unique(np.asarray(labels), return_counts=True)
    order = np.lexsort((values, -counts))
    return values[order[:num]]

"""Seeded t-SNE and the separation scores printed beside Figure 4."""
from __future__ import annotations

import numpy as np
import pytest

from dtgkit.viz.tsne import embedding_scores, top_classes, tsne_embed


def _clusters(n_per=15, classes=3, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), n_per)
    x = 0.3 * rng.standard_normal((len(y), dim)) + 3 * np.eye(dim)[y]
    return x, y


def test_same_seed_same_embedding_other_seed_differs():
    x, _ = _clusters()
    e1, e2 = tsne_embed(x, seed=3, n_iter=150), tsne_embed(x, seed=3, n_iter=150)
    assert e1.shape == (45, 2)
    np.testing.assert_array_equal(e1, e2)
    assert not np.allclose(e1, tsne_embed(x, seed=4, n_iter=150))


def test_separated_classes_score_high_and_small_sets_work():
    x, y = _clusters()
    emb = tsne_embed(x, seed=0, n_iter=200)
    sc = embedding_scores(emb, y)
    assert sc["knn_acc"] == 100.0 and sc["silhouette"] > 0.5
    small = tsne_embed(x[:6], seed=0, n_iter=100)  # perplexity clamped to (6 - 1) / 3
    assert small.shape == (6, 2) and np.isfinite(small).all()
    with pytest.raises(ValueError, match="N >= 4"):
        tsne_embed(x[:3])
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        tsne_embed(bad)


def test_embedding_scores_reference():
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(1)
    e, y = rng.standard_normal((30, 2)), np.arange(30) % 3
    sc = embedding_scores(e, y, k=1)
    d = ((e[:, None] - e[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert sc["knn_acc"] == pytest.approx(100 * np.mean(y[d.argmin(1)] == y))
    assert sc["silhouette"] == pytest.approx(silhouette_score(e, y))
    assert np.isnan(embedding_scores(e, np.zeros(30))["silhouette"])


def test_top_classes_largest_first_ties_by_label():
    labels = [5, 5, 5, 2, 2, 9, 9, 1, 0]
    np.testing.assert_array_equal(top_classes(labels, 3), [5, 2, 9])
    np.testing.assert_array_equal(top_classes(labels, 10), [5, 2, 9, 0, 1])

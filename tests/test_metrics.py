"""The metrics (dtgkit.metrics) against slow, obvious references (and sklearn)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score

from dtgkit import metrics as ev


def _rng(seed=0):
    return np.random.default_rng(seed)


# ------------------------------------------------------------------ slow references
def _topk_ref(scores, labels, k):
    right = 0
    for s, y in zip(scores, labels):
        ranked = sorted(range(len(s)), key=lambda c: -s[c])
        right += y in ranked[:k]
    return right / len(labels)


def _ap_ref(scores, targets):
    """AP as the mean over positives of the precision at the positive's score threshold."""
    pos = [i for i in range(len(scores)) if targets[i]]
    if not pos:
        return float("nan")
    total = 0.0
    for i in pos:
        above = [j for j in range(len(scores)) if scores[j] >= scores[i]]
        total += sum(targets[j] for j in above) / len(above)
    return total / len(pos)


def _knn_ref(q, bank, bank_labels, num_classes, k, tau):
    out = np.zeros((len(q), num_classes))
    qn = [x / np.linalg.norm(x) for x in q]
    bn = [x / np.linalg.norm(x) for x in bank]
    for i, x in enumerate(qn):
        sims = [(float(np.dot(x, b)), j) for j, b in enumerate(bn)]
        sims.sort(key=lambda t: -t[0])
        for s, j in sims[: min(k, len(bank))]:
            out[i, bank_labels[j]] += np.exp(s / tau)
    return out


# ------------------------------------------------------------------------ tests
def test_top_k_accuracy_matches_reference():
    rng = _rng(1)
    scores = rng.normal(size=(50, 7))
    labels = rng.integers(0, 7, size=50)
    got = ev.top_k_accuracy(scores, labels, topk=(1, 3, 5, 10))
    want = [_topk_ref(scores, labels, k) for k in (1, 3, 5, 10)]
    assert np.allclose(got, want)
    assert got[-1] == 1.0
    assert ev.top_k_accuracy(torch.tensor(scores), torch.tensor(labels), (1,))[0] == pytest.approx(want[0])


def test_average_precision_matches_sklearn_and_reference_with_ties():
    rng = _rng(2)
    for trial in range(20):
        n = int(rng.integers(2, 40))
        scores = np.round(rng.normal(size=n), 1)  # rounding creates ties
        targets = rng.random(n) < 0.3
        if not targets.any():
            assert np.isnan(ev.average_precision(scores, targets))
            continue
        got = ev.average_precision(scores, targets)
        assert got == pytest.approx(average_precision_score(targets, scores), abs=1e-12)
        assert got == pytest.approx(_ap_ref(scores, targets), abs=1e-12)


def test_mean_average_precision_drops_classes_without_positives():
    rng = _rng(3)
    scores = rng.random((30, 6))
    labels = rng.integers(0, 4, size=30)  # classes 4, 5 never occur -> NaN -> dropped
    onehot = np.eye(6)[labels]
    want = np.mean([average_precision_score(onehot[:, c], scores[:, c]) for c in range(4)
                    if onehot[:, c].any()])
    assert ev.mean_average_precision(scores, labels) == pytest.approx(want)
    perfect = np.eye(6)[labels] + 0.01 * rng.random((30, 6))
    assert ev.mean_average_precision(perfect, labels) == pytest.approx(1.0)


def test_mean_class_accuracy_is_mean_of_recalls():
    scores = np.array([[1, 0], [1, 0], [1, 0], [0, 1]], dtype=float)
    labels = np.array([0, 0, 0, 1])
    assert ev.mean_class_accuracy(scores, labels) == pytest.approx(1.0)
    labels = np.array([0, 1, 1, 1])  # class 0: 1/1, class 1: 1/3
    assert ev.mean_class_accuracy(scores, labels) == pytest.approx((1 + 1 / 3) / 2)


def test_classification_metrics_keys_and_percent():
    scores = np.eye(3)[[0, 1, 2, 0]]
    m = ev.classification_metrics(scores, [0, 1, 2, 0])
    assert m["acc1"] == m["acc5"] == m["mAP"] == m["mean_class_acc"] == pytest.approx(100.0)
    assert m["num_samples"] == 4


def test_video_level_scores_softmax_then_mean():
    rng = _rng(4)
    logits = rng.normal(size=(5, 3, 4))  # N x clips x C
    got = ev.video_level_scores(logits)
    want = np.stack([np.mean([np.exp(c) / np.exp(c).sum() for c in v], axis=0) for v in logits])
    assert np.allclose(got, want)
    assert np.allclose(got.sum(1), 1)
    # 2-D form with video ids, videos in order of first appearance
    rows = logits.reshape(15, 4)
    ids = np.repeat([7, 3, 9, 1, 5], 3)
    perm = rng.permutation(15)
    scores, uniq = ev.video_level_scores(rows[perm], ids[perm])
    firsts = list(dict.fromkeys(ids[perm]))
    assert list(uniq) == firsts
    for v, s in zip(uniq, scores):
        assert np.allclose(s, want[[7, 3, 9, 1, 5].index(v)])


def test_knn_predict_matches_reference_and_clamps_k():
    rng = _rng(5)
    bank = rng.normal(size=(40, 8))
    bank_labels = rng.integers(0, 5, size=40)
    q = rng.normal(size=(9, 8))
    for k in (1, 7, 200):
        sim = ev.l2_normalize(q) @ ev.l2_normalize(bank).T  # 9 x 40 cosine similarities
        got = ev.knn_predict(sim, bank_labels, 5, k=k, tau=0.1)
        want = _knn_ref(q, bank, bank_labels, 5, k, 0.1)
        assert np.allclose(got, want, rtol=1e-4)


def test_evaluate_knn_separable_clusters():
    rng = _rng(6)
    centres = rng.normal(size=(3, 16)) * 5
    tr_y = np.repeat(np.arange(3), 20)
    te_y = np.repeat(np.arange(3), 5)
    tr = centres[tr_y] + rng.normal(size=(60, 16))
    te = centres[te_y] + rng.normal(size=(15, 16))
    m = ev.evaluate_knn(tr, tr_y, te, te_y)
    assert m["acc1"] == pytest.approx(100.0)
    assert m["k"] == 60


def test_linear_probe_separable_and_missing_class():
    rng = _rng(7)
    centres = rng.normal(size=(4, 16)) * 5
    tr_y = np.repeat(np.arange(3), 15)  # class 3 never in train
    te_y = np.array([0, 1, 2, 3, 0, 1, 2])
    tr = centres[tr_y] + 0.5 * rng.normal(size=(45, 16))
    te = centres[te_y] + 0.5 * rng.normal(size=(7, 16))
    m = ev.linear_probe(tr, tr_y, te, te_y, num_classes=4)
    assert m["acc1"] == pytest.approx(100.0 * 6 / 7)
    assert m["num_samples"] == 7


def _loo_knn_reference(feats, labels, groups, k, tau):
    """Slow, obvious leave-one-group-out kNN: one sample at a time."""
    x = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    right = 0
    for i in range(len(x)):
        others = [j for j in range(len(x)) if labels[j] == labels[i] and groups[j] != groups[i]]
        cand = [j for j in range(len(x)) if j != i and (groups[j] != groups[i] or not others)]
        sims = sorted(((float(x[i] @ x[j]), j) for j in cand), reverse=True)[:k]
        votes = np.zeros(labels.max() + 1)
        for s, j in sims:
            votes[labels[j]] += math.exp(s / tau)
        right += int(votes.argmax() == labels[i])
    return 100.0 * right / len(x)


@pytest.mark.parametrize("k", [1, 3, 50])
def test_loo_knn_matches_reference(k):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 40)
    feats = rng.normal(size=(40, 8)) + 1.5 * np.eye(8)[labels]
    groups = rng.integers(0, 10, 40)
    got = ev.loo_knn_accuracy(feats, labels, groups, k=k, tau=0.1)
    assert got == pytest.approx(_loo_knn_reference(feats, labels, groups, k, 0.1))


def test_loo_knn_excludes_own_group():
    # sample 0's nearest neighbour is its group mate (same class); without it, a class-1 sample wins
    feats = np.array([[1.0, 0.0], [1.0, 0.01], [-1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.0, -1.0]])
    labels = np.array([0, 0, 0, 1, 1, 1])
    groups = np.array([0, 0, 2, 1, 3, 4])
    assert ev.loo_knn_accuracy(feats[:2], labels[:2], groups[:2], k=1) == 100.0  # one group: itself only
    with_groups = ev.loo_knn_accuracy(feats, labels, groups, k=1)
    without = ev.loo_knn_accuracy(feats, labels, None, k=1)
    assert with_groups < without


def test_knn_predict_exclusions_and_majority_vote():
    sim = np.array([[0.9, 0.8, 0.1, 0.7], [0.2, 0.3, 0.95, 0.1]])
    labels = np.array([0, 1, 1, 2])
    votes = ev.knn_predict(sim, labels, 3, k=1, tau=0.1)
    assert votes.argmax(1).tolist() == [0, 1]
    excl = np.array([[True, False, False, False], [False, False, True, False]])
    assert ev.knn_predict(sim, labels, 3, k=1, tau=0.1, exclude=excl).argmax(1).tolist() == [1, 1]
    # one vote each: two class-1 neighbours beat one nearer class-0 neighbour; ties go to the nearer
    maj = ev.knn_predict(np.array([[0.9, 0.8, 0.7]]), np.array([0, 1, 1]), 2, k=3, tau=None)
    assert maj.argmax(1).tolist() == [1]
    tie = ev.knn_predict(np.array([[0.9, 0.8]]), np.array([1, 0]), 2, k=2, tau=None)
    assert tie.argmax(1).tolist() == [1]
    # an excluded neighbour gets no vote, even when k reaches it
    assert ev.knn_predict(sim, labels, 3, k=4, exclude=np.ones_like(sim, bool)).sum() == 0


def test_silhouette_matches_sklearn():
    from sklearn.metrics import silhouette_score

    rng = _rng(7)
    x = rng.normal(size=(30, 5))
    y = rng.integers(0, 3, size=30)
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    assert ev.silhouette(d, y) == pytest.approx(silhouette_score(x, y))
    z = ev.l2_normalize(x, dtype=np.float64)
    assert ev.silhouette(1 - z @ z.T, y) == pytest.approx(silhouette_score(x, y, metric="cosine"))
    assert np.isnan(ev.silhouette(d, np.zeros(30)))


def test_probe_C_by_cross_validation_on_the_training_set_only():
    """Features sharing a large common direction (as a frozen network's do): after the L2
    normalisation the classes differ by little, C = 1 under-fits, the cross-validated C does
    not; folds keep groups together; the test set is never looked at."""
    rng = np.random.default_rng(0)
    n, d, k = 240, 64, 4
    y = np.arange(n) % k
    centres, common = rng.normal(size=(k, d)), rng.normal(size=d)
    x = 20 * common + centres[y] + rng.normal(size=(n, d))
    groups = np.arange(n) // 6  # 40 groups of 6
    tr = groups % 4 != 0
    C, cv = ev.select_probe_C(x[tr], y[tr], groups[tr])
    assert set(cv) == set(ev.PROBE_C_GRID) and C == max(cv, key=lambda c: (cv[c], -c))
    assert C > 1.0 and cv[C] > cv[1.0] + 20
    fixed = ev.linear_probe(x[tr], y[tr], x[~tr], y[~tr], k)
    chosen = ev.linear_probe(x[tr], y[tr], x[~tr], y[~tr], k, C="cv", groups=groups[tr])
    assert chosen["C"] == C and "C" not in fixed
    assert chosen["acc1"] > fixed["acc1"] + 20
    # the choice depends on the training set alone: other test labels, same C
    again = ev.linear_probe(x[tr], y[tr], x[~tr], (y[~tr] + 1) % k, k, C="cv", groups=groups[tr])
    assert again["C"] == C
    # without groups: stratified folds; too few samples per class: the default C
    assert ev.select_probe_C(x[tr], y[tr])[0] in ev.PROBE_C_GRID
    assert ev.select_probe_C(x[:4], y[:4]) == (1.0, {})
    with pytest.raises(ValueError, match="'cv'"):
        ev.linear_probe(x[tr], y[tr], x[~tr], y[~tr], k, C="auto")

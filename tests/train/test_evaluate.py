"""Evaluation metrics against slow, obvious references (and sklearn)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score

from dtgkit.train import evaluate as ev


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
        got = ev.knn_predict(q, bank, bank_labels, 5, k=k, tau=0.1, chunk=4)
        want = _knn_ref(q, bank, bank_labels, 5, k, 0.1)
        assert np.allclose(got, want, rtol=1e-4)


def test_knn_evaluate_separable_clusters():
    rng = _rng(6)
    centres = rng.normal(size=(3, 16)) * 5
    tr_y = np.repeat(np.arange(3), 20)
    te_y = np.repeat(np.arange(3), 5)
    tr = centres[tr_y] + rng.normal(size=(60, 16))
    te = centres[te_y] + rng.normal(size=(15, 16))
    m = ev.knn_evaluate(tr, tr_y, te, te_y)
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


class _Mean(torch.nn.Module):
    def forward(self, x):  # N x T x 3 x H x W -> N x 3
        return x.mean(dim=(1, 3, 4))


def test_extract_features_and_predict_scores(tmp_path):
    clips = torch.rand(6, 2, 2, 3, 4, 4)  # N x clips x T x 3 x H x W
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    batches = [(clips[:4], labels[:4], torch.arange(4)), (clips[4:], labels[4:], torch.arange(4, 6))]
    feats, y, vids = ev.extract_features(_Mean(), batches)
    assert feats.shape == (6, 3)
    assert np.allclose(feats, clips.mean(dim=(2, 4, 5)).mean(1).numpy(), atol=1e-6)
    assert list(y) == [0, 1, 2, 0, 1, 2] and list(vids) == list(range(6))
    scores, y2, v2 = ev.predict_scores(_Mean(), batches)
    assert list(y2) == [0, 1, 2, 0, 1, 2] and list(v2) == list(range(6))
    want = ev.video_level_scores(clips.mean(dim=(2, 4, 5)).numpy())
    assert np.allclose(scores, want)
    # one pass can also collect a sub-module's features: the same as extract_features gives
    clf = torch.nn.Sequential(_Mean(), torch.nn.Linear(3, 4))
    s3, y3, v3, f3 = ev.predict_scores(clf, batches, features=clf[0])
    want3, _, _ = ev.predict_scores(clf, batches)
    assert np.array_equal(s3, want3) and list(v3) == list(range(6)) and list(y3) == list(y)
    assert f3.dtype == np.float32 and np.array_equal(f3, ev.extract_features(clf[0], batches)[0])
    assert not clf[0]._forward_hooks  # the hook is removed again
    path = ev.save_features(tmp_path / "f" / "feats.npz", feats, y, vids, ["a", "b", "c"])
    back = ev.load_features(path)
    assert np.array_equal(back["feats"], feats) and list(back["class_names"]) == ["a", "b", "c"]
    with pytest.raises(FileNotFoundError):
        ev.load_features(tmp_path / "nope.npz")


# ------------------------------------------------------------ run-level data helpers
def test_multi_clip_indices_and_shapes(synth_root):
    from dtgkit.config import resolve_config
    from dtgkit.data.sampling import tsn_indices
    from dtgkit.train import data as TD

    cfg = resolve_config("ci-tiny", overrides=[f"data.root={synth_root}"])
    records, names = TD.load_split(cfg.data, "test")
    assert len(records) == 6 and names == ["Walk", "Run", "ThrowBall"]
    one = TD.eval_clip_dataset(cfg, records, num_clips=1)
    three = TD.eval_clip_dataset(cfg, records, num_clips=3)
    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 8, 9, 31, 100):
        want = np.asarray(tsn_indices(n, 2, train=False, rng=rng))
        assert np.array_equal(one.frame_indices(n, rng), want), n
        idx = three.frame_indices(n, rng).reshape(3, 2)  # clips x T
        seg = n / 2
        assert ((idx >= np.floor(np.arange(2) * seg)) & (idx < n)).all()
        assert (np.diff(idx, axis=0) >= 0).all()  # later clips sit later in each segment
    clip, label, index = three[0]
    assert tuple(clip.shape) == (3, 2, 3, 32, 32) and index == 0 and label == records[0].label


def test_subsample_and_groups():
    from dtgkit.data.datasets import VideoRecord
    from dtgkit.train import data as TD

    recs = [VideoRecord(f"/v{i}.mp4", i % 3, i, f"g{i // 3 + 1:02d}") for i in range(30)]
    half = TD.subsample_records(recs, 0.5, seed=0)
    assert len(half) == 15 and sorted(r.label for r in half) == sorted([0, 1, 2] * 5)
    assert TD.subsample_records(recs, 0.5, seed=0) == half and TD.subsample_records(recs, 1.0, 0) == recs
    g = TD.group_ids(recs + [VideoRecord("/x.mp4", 1, 30, None)])
    assert g[0] == 1 and g[3] == 2 + 0 and g[4] == 1002 and g[-1] == -1

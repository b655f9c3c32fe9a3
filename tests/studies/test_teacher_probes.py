"""Per-teacher probes, retrieval and similarity (dtgkit.viz.teachers): fast code against slow,
obvious references; the cache path on the committed SynthActions sample; the real ImageNet
teacher on a real photo."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from dtgkit.data.synth import CONFUSABLE_PAIRS, ConfusablePair, sample_root
from dtgkit.metrics import evaluate_knn, linear_probe
from dtgkit.models.teachers import available_teachers
from dtgkit.studies.teacher_probes import (
    class_similarity,
    load_teacher_features,
    nearest_neighbours,
    pair_separation,
    probe_table,
    real_photos,
    summarise_pairs,
    teacher_probes,
    top_k_predictions,
    video_thumbnails,
)
from dtgkit.viz.teachers import (
    plot_class_similarity,
    plot_neighbours,
    plot_pair_separation,
    plot_probes,
    plot_top_k_predictions,
)


def _toy(num_videos=40, num_classes=4, seed=0):
    """A good teacher (class centres + small noise) and a useless one (pure noise)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(num_videos) % num_classes
    centres = rng.normal(size=(num_classes, 16))
    feats = {"good": (centres[labels] + 0.3 * rng.normal(size=(num_videos, 16))).astype(np.float32),
             "noise": rng.normal(size=(num_videos, 8)).astype(np.float32)}
    train_mask = np.arange(num_videos) < num_videos // 2
    return feats, labels, train_mask


def _cos(x):
    x = np.asarray(x, np.float64)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    return x @ x.T


# ------------------------------------------------------------------------------ retrieval
def test_nearest_neighbours_matches_brute_force():
    feats, _, _ = _toy()
    x = feats["good"]
    sim = _cos(x)
    queries = [0, 5, 17]
    idx, sims = nearest_neighbours(x, queries, k=4)
    assert idx.shape == sims.shape == (3, 4)
    for q, row, srow in zip(queries, idx, sims):
        ref = sorted((j for j in range(len(x)) if j != q), key=lambda j: -sim[q, j])[:4]
        assert list(row) == ref
        np.testing.assert_allclose(srow, sim[q, ref], atol=1e-5)
        assert np.all(np.diff(srow) <= 1e-7)


def test_nearest_neighbours_bank_mask_and_clamp():
    feats, _, train_mask = _toy()
    idx, _ = nearest_neighbours(feats["good"], [30, 35], k=5, bank_mask=train_mask)
    assert train_mask[idx].all()
    idx, sims = nearest_neighbours(feats["good"], [0], k=100, bank_mask=train_mask)
    assert idx.shape == (1, 19)  # 20 train videos minus the query itself
    assert 0 not in idx and np.isfinite(sims).all()
    same = np.tile(np.eye(3, dtype=np.float32)[:1], (4, 1))  # 4 identical rows: ties
    idx, _ = nearest_neighbours(same, [2], k=3)
    assert list(idx[0]) == [0, 1, 3]  # ties keep the lower index first


# ----------------------------------------------------------------------------- similarity
def _class_similarity_loops(x, labels, c, center=False, groups=None):
    x = np.asarray(x, np.float64)
    if center:
        x = x - x.mean(0)
    sim = _cos(x)
    groups = np.arange(len(x)) if groups is None else groups
    out = np.full((c, c), np.nan)
    for a in range(c):
        for b in range(c):
            vals = [sim[i, j] for i in range(len(x)) for j in range(len(x))
                    if labels[i] == a and labels[j] == b and i != j and groups[i] != groups[j]]
            if vals:
                out[a, b] = np.mean(vals)
    return out


@pytest.mark.parametrize("center", [False, True])
def test_class_similarity_matches_loops(center):
    feats, labels, _ = _toy(num_videos=22, num_classes=4)
    labels = labels.copy()
    labels[-1] = 4  # a class with a single video: NaN on its diagonal
    got = class_similarity(feats["good"], labels, 6, center=center)
    ref = _class_similarity_loops(feats["good"], labels, 6, center=center)
    np.testing.assert_allclose(got, ref, atol=1e-6)
    assert np.isnan(got[4, 4]) and np.isnan(got[5]).all()  # class 5 has no video
    np.testing.assert_allclose(got[:5, :4], got[:4, :5].T, atol=1e-9)


def test_class_similarity_leaves_out_same_group_pairs():
    feats, labels, _ = _toy(num_videos=24, num_classes=3)
    groups = np.array([f"{y}:{i // 6}" for i, y in enumerate(labels)])  # 2+ videos per group
    got = class_similarity(feats["noise"], labels, 3, groups=groups)
    ref = _class_similarity_loops(feats["noise"], labels, 3, groups=groups)
    np.testing.assert_allclose(got, ref, atol=1e-6)


def test_class_similarity_shows_the_classes():
    feats, labels, _ = _toy()
    m = class_similarity(feats["good"], labels)
    off = m[~np.eye(4, dtype=bool)]
    assert np.diag(m).min() > off.max()


# ------------------------------------------------------------------------------ probes
def test_teacher_probes_use_the_evaluate_functions():
    feats, labels, train_mask = _toy()
    probes = teacher_probes(feats, labels, train_mask, k=5)
    assert list(probes) == ["good", "noise"]
    x, tr = feats["good"], train_mask
    knn = evaluate_knn(x[tr], labels[tr], x[~tr], labels[~tr], 4, k=5)
    lin = linear_probe(x[tr], labels[tr], x[~tr], labels[~tr], 4)
    assert probes["good"]["knn_acc"] == knn["acc1"]
    assert probes["good"]["linear_acc"] == lin["acc1"]
    assert probes["good"]["knn_acc"] == 100.0 and probes["good"]["num_test"] == 20
    assert probes["noise"]["knn_acc"] < 70.0
    table = probe_table(probes, {"offline": [0.9, 0.1], "real only": {"good": 1.0}})
    lines = table.splitlines()
    assert len(lines) == 4 and "offline" in lines[0] and "real only" in lines[0]
    assert lines[2].startswith("good") and "100.0%" in lines[2] and lines[2].endswith(" 1")
    assert lines[3].startswith("noise") and lines[3].endswith(" -")


# ------------------------------------------------------------------------ confusable pairs
def test_pair_separation_chance_for_identical_classes_and_perfect_for_distinct():
    rng = np.random.default_rng(1)
    names = ["A", "B", "C"]
    labels = np.repeat([0, 1, 2], 10)
    base = rng.normal(size=(30, 8))
    same_ab = base.copy()
    same_ab[10:20] = base[:10] + 1e-3 * rng.normal(size=(10, 8))  # B = A up to a whisper
    distinct = base + 10.0 * np.eye(8)[labels]  # each class along its own axis
    pairs = [ConfusablePair("A", "B", "motion", ""), ConfusablePair("A", "C", "appearance", ""),
             ConfusablePair("A", "Zzz", "motion", "")]  # absent class: left out
    rows = pair_separation({"t": distinct, "twin": same_ab}, labels, names, pairs)
    assert [(r["pair"], r["teacher"]) for r in rows] == [
        ("A/B", "t"), ("A/B", "twin"), ("A/C", "t"), ("A/C", "twin")]
    by = {(r["pair"], r["teacher"]): r for r in rows}
    assert by[("A/C", "t")]["nn1_acc"] == 100.0 and by[("A/C", "t")]["separation"] > 0.5
    assert by[("A/B", "twin")]["nn1_acc"] == 0.0  # each A's twin in B is its neighbour
    assert by[("A/B", "twin")]["num_videos"] == 20
    assert by[("A/B", "twin")]["chance"] == pytest.approx(100 * 9 / 19)
    # a random 1-NN scores chance on average
    accs = [pair_separation({"r": rng.normal(size=(30, 8))}, labels, names, pairs[:1])[0]["nn1_acc"]
            for _ in range(300)]
    assert np.mean(accs) == pytest.approx(100 * 9 / 19, abs=2.0)
    # separation against a slow reference
    sel = np.flatnonzero(labels < 2)
    sim = _cos(distinct[sel])
    y = labels[sel]
    intra = np.mean([sim[i, j] for i in range(20) for j in range(20) if i != j and y[i] == y[j]])
    inter = np.mean([sim[i, j] for i in range(20) for j in range(20) if y[i] != y[j]])
    assert by[("A/B", "t")]["separation"] == pytest.approx(intra - inter, abs=1e-5)
    # groups: each A video has a near-copy in its own group; leave-one-group-out ignores it
    x = rng.normal(size=(16, 8))
    x[1::2] = x[0::2] + 1e-3 * rng.normal(size=(8, 8))  # videos 2i, 2i+1 share a group
    y2 = np.repeat([0, 1], 8)
    g2 = np.arange(16) // 2
    pair = [ConfusablePair("A", "B", "motion", "")]
    [loo] = pair_separation({"r": x}, y2, names, pair)
    [logo] = pair_separation({"r": x}, y2, names, pair, groups=g2)
    assert loo["nn1_acc"] == 100.0 and loo["chance"] == pytest.approx(100 * 7 / 15)
    assert logo["nn1_acc"] < 100.0 and logo["chance"] == pytest.approx(100 * 6 / 14)
    summary = summarise_pairs(rows)
    assert summary["twin"]["motion"] == 0.0 and summary["t"]["appearance"] == 100.0


# ------------------------------------------------------------------------------ figures
def test_figures_are_returned():
    feats, labels, train_mask = _toy()
    names = ["Walk", "Run", "Drink", "Phone"]
    mats = {k: class_similarity(v, labels) for k, v in feats.items()}
    fig = plot_class_similarity(mats, names, CONFUSABLE_PAIRS)
    assert isinstance(fig, Figure)
    boxes = [p for p in fig.axes[0].patches]
    assert len(boxes) == 4  # Walk/Run and Drink/Phone, both cells each
    probes = teacher_probes(feats, labels, train_mask)
    assert isinstance(plot_probes(probes, {"uniform": [0.5, 0.5], "one": {"good": 1.0}},
                                  chance=25.0), Figure)
    rows = pair_separation(feats, labels, names, CONFUSABLE_PAIRS)
    assert isinstance(plot_pair_separation(rows), Figure)
    assert isinstance(plot_pair_separation(rows, key="separation"), Figure)
    thumbs = np.zeros((len(labels), 8, 8, 3), np.uint8)
    nb = {k: tuple(a[0] for a in nearest_neighbours(v, [3], k=3)) for k, v in feats.items()}
    fig = plot_neighbours(thumbs, labels, names, nb, 3)
    assert isinstance(fig, Figure) and len(fig.axes) == 2 * 4


# ----------------------------------------------------------------------------- teachers
def test_top_k_predictions_of_a_tiny_teacher():
    from dtgkit.models.teachers import create_teacher

    teacher = create_teacher("tiny#size=32")
    imgs = {"a": np.full((40, 60, 3), 200, np.uint8), "b": np.zeros((30, 30, 3), np.uint8)}
    preds = top_k_predictions(teacher, imgs, k=3)
    assert len(preds) == 2 and all(len(p) == 3 for p in preds)
    for p in preds:
        probs = [q for _, q in p]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
        assert all(name.startswith("class ") for name, _ in p)
    assert isinstance(plot_top_k_predictions(imgs, preds), Figure)


def test_imagenet_teacher_sees_the_cat():
    from dtgkit.models.teachers import create_teacher

    photos = real_photos(["chelsea"])
    assert photos["chelsea"].shape == (300, 451, 3)
    teacher = create_teacher("imagenet-efficientnet-lite0")
    [top5] = top_k_predictions(teacher, photos, k=5)
    assert top5[0][0] in {"tabby", "tiger cat", "Egyptian cat"}  # ImageNet names, offline


def _write_tiny_checkpoint(path, seed):
    from dtgkit.models.teachers import CHECKPOINT_FORMAT, build_arch

    torch.manual_seed(seed)
    model = build_arch("tiny", 10, dim=8)
    torch.save({"format": CHECKPOINT_FORMAT, "arch": "tiny", "num_classes": 10,
                "classes": [str(i) for i in range(10)], "state_dict": model.state_dict(),
                "meta": {"name": "toy", "arch_kw": {"dim": 8}, "size": 32}}, path)


def test_load_teacher_features_caches_then_reuses(tmp_path):
    from dtgkit.models.teachers import create_teacher
    from dtgkit.studies.guidance_space import video_guidance_features

    root = sample_root()
    ckpt = tmp_path / "toy.pt"
    _write_tiny_checkpoint(ckpt, 0)
    specs = ["tiny#dim=8", f"checkpoint:{ckpt}"]
    cache = tmp_path / "cache"
    out = load_teacher_features(root / "videos", root / "splits", specs, cache, num_segments=4,
                                size=48)
    assert out["cache"] == {s: "computed" for s in specs}
    v = len(out["labels"])
    assert out["feats"]["tiny#dim=8"].shape == (v, 8) and out["train_mask"].sum() == v // 2
    assert out["class_names"][:2] == ["Walk", "Run"]
    assert out["groups"][0] == "0:g02" and len(set(out["groups"])) == v  # one clip per group
    # the cache holds only every 4th frame (the segment centres of 32 frames are 4, 12, 20, 28)
    import json

    index = json.loads((cache / "tiny_dim_8.json").read_text())
    assert index["frame_stride"] == 4
    # cached features = the live teacher on the same (centre crop, 48 px) view
    live = video_guidance_features([create_teacher("tiny#dim=8")], out["records"][:6], 4,
                                   size=48)["tiny#dim=8"]
    np.testing.assert_allclose(out["feats"]["tiny#dim=8"][:6], live, rtol=2e-3, atol=2e-3)

    again = load_teacher_features(root / "videos", root / "splits", specs, cache, num_segments=4,
                                  size=48)
    assert again["cache"] == {s: "re-used" for s in specs}
    np.testing.assert_array_equal(again["feats"][specs[1]], out["feats"][specs[1]])
    _write_tiny_checkpoint(ckpt, 1)  # the checkpoint changes: its cache is stale
    third = load_teacher_features(root / "videos", root / "splits", specs, cache,
                                  num_segments=4, size=48)
    assert third["cache"] == {specs[0]: "re-used", specs[1]: "computed"}
    assert not np.allclose(third["feats"][specs[1]], out["feats"][specs[1]])

    thumbs = video_thumbnails(out["paths"][:3], size=24)
    assert thumbs.shape == (3, 24, 24, 3) and thumbs.dtype == np.uint8 and thumbs.max() > 0


def test_available_teachers_checks_files_only(tmp_path):
    ckpt = tmp_path / "t.pt"
    ckpt.write_bytes(b"")
    specs = ["tiny", "synth:no_such_teacher", f"checkpoint:{ckpt}", f"checkpoint:{tmp_path}/x.pt",
             "imagenet-efficientnet-lite0#size=112"]
    keep, missing = available_teachers(specs)
    assert keep == ["tiny", f"checkpoint:{ckpt}", "imagenet-efficientnet-lite0#size=112"]
    assert missing == ["synth:no_such_teacher", f"checkpoint:{tmp_path}/x.pt"]

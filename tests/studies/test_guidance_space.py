"""The fused guidance space: fast paths checked against slow, obvious references; the weights
widget driven without a browser (set a slider, check the numbers)."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from dtgkit.dtg import weighting as W
from dtgkit.dtg.fusion import similarity_weights
from dtgkit.metrics import evaluate_knn
from dtgkit.models.teachers import display_names, short_name
from dtgkit.studies.guidance_space import (
    GuidanceSpace,
    fuse_guidance,
    guidance_scores,
    run_mean_weights,
    scores_from_similarity,
    video_guidance_features,
)
from dtgkit.viz.guidance import plot_guidance_space, plot_teacher_scores
from dtgkit.widgets import (
    CUSTOM,
    rebalance_weights,
    teacher_weights_state,
    teacher_weights_widget,
    time_weight_update,
)


def _toy(num_videos=60, num_classes=5, dims=(48, 16, 8), noise=(0.6, 2.0, 6.0), seed=0):
    """Teachers of decreasing quality: class centres + noise of growing scale."""
    rng = np.random.default_rng(seed)
    labels = np.arange(num_videos) % num_classes
    feats = {}
    for i, (d, s) in enumerate(zip(dims, noise)):
        centres = rng.normal(size=(num_classes, d))
        feats[f"teacher{i}"] = (centres[labels] + s * rng.normal(size=(num_videos, d))
                                ).astype(np.float32)
    train_mask = np.arange(num_videos) < num_videos // 2
    return feats, labels, train_mask


def _cos(x):
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    return x @ x.T


# ------------------------------------------------------------------------------ the math
@pytest.mark.parametrize("weights", [[1, 1, 1], [0.7, 0.2, 0.1], [0, 1, 0], [0.5, 0, 0.5]])
def test_fused_cosine_is_the_weighted_sum_of_teacher_cosines(weights):
    feats, _, _ = _toy()
    z = fuse_guidance(feats, weights)
    w = np.asarray(weights, float) / np.sum(weights)
    assert z.shape == (60, 48 + 16 + 8)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-5)
    expected = sum(wk * _cos(f) for wk, f in zip(w, feats.values()))
    np.testing.assert_allclose(z @ z.T, expected, atol=1e-5)


def test_linear_scale_is_dtgnet_feature_fusion():
    feats, _, _ = _toy()
    w = np.array([0.6, 0.3, 0.1])
    z = fuse_guidance(feats, w, scale="linear")
    # DTGNet._forward_feature: normalize(concat_k(w_k * g_k / |g_k|))
    blocks = [wk * f / np.linalg.norm(f, axis=1, keepdims=True) for wk, f in
              zip(w, feats.values())]
    ref = np.concatenate(blocks, 1)
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    np.testing.assert_allclose(z, ref, atol=1e-6)
    np.testing.assert_allclose(similarity_weights(w, "linear"), w ** 2 / np.sum(w ** 2))
    with pytest.raises(ValueError, match="scale"):
        fuse_guidance(feats, w, scale="cubic")


def test_space_similarity_matches_fused_features():
    feats, labels, train = _toy()
    space = GuidanceSpace(feats, labels, train)
    for scale in ("sqrt", "linear"):
        space.scale = scale
        z = fuse_guidance(feats, [0.2, 0.5, 0.3], scale=scale)
        np.testing.assert_allclose(space.similarity([0.2, 0.5, 0.3]), z @ z.T, atol=1e-5)


def test_knn_matches_the_kNN_monitor_of_evaluate():
    feats, labels, train = _toy()
    z = fuse_guidance(feats, [0.4, 0.4, 0.2])
    for k in (3, 10, 200):
        got = guidance_scores(z, labels, train, k=k, tau=0.1)
        ref = evaluate_knn(z[train], labels[train], z[~train], labels[~train], k=k, tau=0.1)
        assert got["knn_acc"] == pytest.approx(ref["acc1"])
        assert got["num_queries"] == (~train).sum()


def test_leave_one_out_knn_against_a_loop():
    feats, labels, _ = _toy(num_videos=30, seed=3)
    z = fuse_guidance(feats, [1, 1, 1])
    got = guidance_scores(z, labels, None, k=5, tau=0.1)
    sim = z @ z.T
    knn_hits = nn_hits = 0
    for i in range(len(z)):
        s = np.delete(sim[i], i)
        lab = np.delete(labels, i)
        top = np.argsort(-s)[:5]
        votes = np.bincount(lab[top], weights=np.exp(s[top] / 0.1), minlength=5)
        knn_hits += votes.argmax() == labels[i]
        nn_hits += lab[s.argmax()] == labels[i]
    assert got["knn_acc"] == pytest.approx(100 * knn_hits / len(z))
    assert got["nn1_acc"] == pytest.approx(100 * nn_hits / len(z))


def test_silhouette_and_separation_against_references():
    from sklearn.metrics import silhouette_score

    feats, labels, train = _toy(num_videos=41)  # unequal class sizes
    labels = labels.copy()
    labels[-1] = 7  # a class of one video (silhouette 0 for it, as sklearn)
    z = fuse_guidance(feats, [0.5, 0.3, 0.2])
    got = guidance_scores(z, labels, train)
    assert got["silhouette"] == pytest.approx(silhouette_score(z, labels, metric="cosine"),
                                              abs=1e-5)
    sim = z @ z.T
    same = labels[:, None] == labels[None, :]
    off = ~np.eye(len(z), dtype=bool)
    assert got["intra_sim"] == pytest.approx(sim[same & off].mean(), abs=1e-5)
    assert got["inter_sim"] == pytest.approx(sim[~same].mean(), abs=1e-5)
    assert got["separation"] == pytest.approx(got["intra_sim"] - got["inter_sim"])


def test_pca_of_the_fused_space_matches_sklearn():
    from sklearn.decomposition import PCA

    feats, labels, train = _toy()
    w = [0.3, 0.3, 0.4]
    ref = PCA(2).fit_transform(fuse_guidance(feats, w).astype(np.float64))
    got = GuidanceSpace(feats, labels, train).evaluate(w)["pca"]
    np.testing.assert_allclose(np.abs(got), np.abs(ref), atol=1e-4)  # up to sign per axis


def test_pca_of_a_large_space_uses_lanczos_and_agrees():
    from sklearn.decomposition import PCA

    feats, labels, train = _toy(num_videos=320, dims=(24, 8), noise=(1.0, 1.0))
    got = GuidanceSpace(feats, labels, train).evaluate([0.5, 0.5])["pca"]
    ref = PCA(2).fit_transform(fuse_guidance(feats, [0.5, 0.5]).astype(np.float64))
    np.testing.assert_allclose(np.abs(got), np.abs(ref), atol=1e-3)


def test_better_teacher_scores_higher_and_offline_weights_follow():
    feats, labels, train = _toy()
    space = GuidanceSpace(feats, labels, train)
    single = space.teacher_scores()
    accs = [single[n]["knn_acc"] for n in space.names]
    assert accs[0] > accs[2]
    assert single["teacher0"]["silhouette"] > single["teacher2"]["silhouette"]
    np.testing.assert_allclose(W.offline([s['knn_acc'] for s in space.teacher_scores().values()]).numpy(), W.offline(accs).numpy())
    state = space.evaluate([1, 0, 0])
    assert state["knn_acc"] == single["teacher0"]["knn_acc"]
    np.testing.assert_allclose(state["weights"], [1, 0, 0])


def test_space_rejects_bad_input():
    feats, labels, _ = _toy()
    with pytest.raises(ValueError, match="length"):
        GuidanceSpace(feats, labels[:-1])
    with pytest.raises(ValueError, match="no teacher"):
        GuidanceSpace({}, labels)
    space = GuidanceSpace(feats, labels)
    with pytest.raises(ValueError, match="3 teachers"):
        space.similarity([0.5, 0.5])
    with pytest.raises(ValueError, match=">= 0"):
        space.evaluate([-1, 1, 1])


def test_scores_from_similarity_is_what_the_space_uses():
    feats, labels, train = _toy()
    space = GuidanceSpace(feats, labels, train, k=7)
    state = space.evaluate([0.2, 0.2, 0.6])
    ref = scores_from_similarity(state["similarity"], labels, train, k=7)
    for key, value in ref.items():
        assert state[key] == pytest.approx(value)


def test_run_mean_weights_from_rows_and_run_dir(tmp_path):
    rows = [{"kind": "train", "weight/a": 0.2, "weight/b": 0.8},
            {"kind": "train", "weight/a": 0.4, "weight/b": 0.6},
            {"kind": "epoch", "weight/a": 9.0}]
    got = run_mean_weights(rows)
    assert got == pytest.approx({"a": 0.3, "b": 0.7})
    import json

    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert run_mean_weights(tmp_path, ["b", "a"]) == pytest.approx({"b": 0.7, "a": 0.3})
    with pytest.raises(ValueError, match="c"):
        run_mean_weights(rows, ["a", "c"])


def test_short_names():
    assert short_name("imagenet-efficientnet-lite0#size=112") == "imagenet-lite0"
    assert short_name("checkpoint:/x/y/still_actions.pt") == "checkpoint:still_actions"
    assert short_name("synth:action_a") == "synth:action_a"
    assert short_name("tiny#seed=1#dim=16") == "tiny#seed=1#dim=16"
    assert len(short_name("torchvision:" + "x" * 80, 20)) == 20
    assert display_names(["tiny#size=64", "tiny#size=32"]) == ["tiny#size=64", "tiny#size=32"]
    assert display_names(["tiny", "synth:scenes#size=112"]) == ["tiny", "synth:scenes"]


# ------------------------------------------------------------------------------- figures
def test_figures_are_returned_and_updated_in_place():
    feats, labels, train = _toy()
    space = GuidanceSpace(feats, labels, train, class_names=list("ABCDE"))
    s1, s2 = space.evaluate([1, 1, 1]), space.evaluate([0, 0, 1])
    fig = plot_guidance_space(s1)
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    png1 = io.BytesIO()
    fig.savefig(png1, format="png")
    same = plot_guidance_space(s2, fig=fig)
    assert same is fig
    png2 = io.BytesIO()
    fig.savefig(png2, format="png")
    assert png1.getvalue() != png2.getvalue()
    fresh = io.BytesIO()
    plot_guidance_space(s2).savefig(fresh, format="png")
    assert fresh.getvalue() == png2.getvalue()  # an update draws exactly what a new figure does
    fig = plot_teacher_scores(space.teacher_scores(), {"uniform": W.uniform(3).numpy(),
                                                       "offline": W.offline([s['knn_acc'] for s in space.teacher_scores().values()]).numpy()})
    assert isinstance(fig, Figure) and len(fig.axes) == 2


def test_time_weight_update_reports_seconds():
    feats, labels, train = _toy(num_videos=20)
    t = time_weight_update(GuidanceSpace(feats, labels, train), repeats=2)
    assert t["total"] >= t["scores"] > 0 and t["num_videos"] == 20 and t["num_teachers"] == 3


# ----------------------------------------------------------------- features of real videos
def _sample_records():
    from dtgkit.data.splits import load_ucf101
    from dtgkit.data.synth import sample_root

    root = sample_root()
    train, classes = load_ucf101(root / "videos", root / "splits", 1, "train")
    test, _ = load_ucf101(root / "videos", root / "splits", 1, "test")
    return root, train[::2][:5], test[::2][:5], classes


def test_video_features_from_cache_match_live_teachers(tmp_path):
    from dtgkit.models.teacher_cache import CachedGuidance, cache_teacher_features
    from dtgkit.models.teachers import create_teacher

    root, train, test, _ = _sample_records()
    records = train + test
    rel = [Path(r.path).resolve().relative_to((root / "videos").resolve()).as_posix()
           for r in records]
    specs = ["tiny", "tiny#seed=1#dim=8"]
    cache_teacher_features(root / "videos", specs, tmp_path, videos=rel, dtype="float32",
                           progress=False)
    cached = video_guidance_features(CachedGuidance(tmp_path, specs), records, num_segments=4)
    assert list(cached) == specs
    assert cached["tiny"].shape == (len(records), 32)
    assert cached["tiny#seed=1#dim=8"].shape == (len(records), 8)
    live = video_guidance_features([create_teacher(s) for s in specs], records, num_segments=4)
    for spec in specs:
        np.testing.assert_allclose(cached[spec], live[spec], rtol=1e-4, atol=1e-5)
    by_dir = video_guidance_features(str(tmp_path), records, num_segments=4, teachers=["tiny"])
    np.testing.assert_array_equal(by_dir["tiny"], cached["tiny"])
    with pytest.raises(KeyError, match="not in the teacher cache"):
        video_guidance_features(CachedGuidance(tmp_path, specs), [root / "videos" / "x.mp4"])


# -------------------------------------------------------------------- the weights widget
def test_rebalance_keeps_the_sum_and_proportions():
    w = rebalance_weights([0.5, 0.3, 0.2], 0, 0.8)
    np.testing.assert_allclose(w, [0.8, 0.12, 0.08])
    w = rebalance_weights([1.0, 0.0, 0.0], 0, 0.4)  # the others were all zero: share equally
    np.testing.assert_allclose(w, [0.4, 0.3, 0.3])
    w = rebalance_weights([0.2, 0.8], 1, 1.7)  # clipped
    np.testing.assert_allclose(w, [0.0, 1.0])
    assert rebalance_weights([1.0], 0, 0.3).tolist() == [1.0]


def test_state_function_is_the_space_evaluation():
    feats, labels, train = _toy()
    space = GuidanceSpace(feats, labels, train)
    state = teacher_weights_state(space, [2, 1, 1])
    np.testing.assert_allclose(state["weights"], [0.5, 0.25, 0.25])
    assert state["knn_acc"] == space.evaluate([2, 1, 1])["knn_acc"]
    assert "kNN" in state["summary"] and "teacher0 0.50" in state["summary"]


def test_widget_sliders_sum_to_one_and_drive_the_scores():
    feats, labels, train = _toy()
    offline = W.offline([s['knn_acc'] for s in GuidanceSpace(feats, labels, train).teacher_scores().values()]).numpy()
    w = teacher_weights_widget(feats, labels, train_mask=train, class_names=list("ABCDE"),
                               presets={"offline": offline,
                                        "online1 (run mean)": {"teacher1": 0.5, "teacher2": 0.5}})
    assert len(w.sliders) == 3 and set(w.controls) == {"preset", *feats}
    assert [s.value for s in w.sliders] == pytest.approx([1 / 3] * 3)
    first = w.state
    assert first["timing"]["total"] > 0 and len(w.image.value) > 1000
    html0, png0 = w.scores_html.value, w.image.value

    w.sliders[2].value = 0.9  # the worst teacher takes most of the weight
    assert sum(s.value for s in w.sliders) == pytest.approx(1.0)
    np.testing.assert_allclose([s.value for s in w.sliders], [0.05, 0.05, 0.9])
    np.testing.assert_allclose(w.state["weights"], [0.05, 0.05, 0.9])
    assert w.controls["preset"].value == CUSTOM
    assert w.state["knn_acc"] < first["knn_acc"] or w.state["silhouette"] < first["silhouette"]
    assert w.scores_html.value != html0 and w.image.value != png0

    w.sliders[0].value = 1.0
    np.testing.assert_allclose([s.value for s in w.sliders], [1, 0, 0], atol=1e-12)
    w.sliders[0].value = 0.5  # the others were zero: the rest is shared equally
    np.testing.assert_allclose([s.value for s in w.sliders], [0.5, 0.25, 0.25])

    w.controls["preset"].value = "offline"
    np.testing.assert_allclose([s.value for s in w.sliders], offline, atol=1e-12)
    np.testing.assert_allclose(w.state["weights"], offline)
    w.controls["preset"].value = "online1 (run mean)"
    np.testing.assert_allclose(w.state["weights"], [0, 0.5, 0.5])
    w.controls["preset"].value = "uniform"
    assert w.state["knn_acc"] == pytest.approx(first["knn_acc"])
    w.set_weights([0, 3, 1])
    np.testing.assert_allclose([s.value for s in w.sliders], [0, 0.75, 0.25])
    assert w.controls["preset"].value == CUSTOM


def test_widget_with_a_space_one_teacher_and_bad_presets():
    feats, labels, train = _toy()
    space = GuidanceSpace({"teacher0": feats["teacher0"]}, labels, train)
    w = teacher_weights_widget(space, show_figure=False)
    assert w.sliders[0].disabled and w.sliders[0].value == 1.0
    assert len(w.children) == 2  # controls, scores: no figure
    with pytest.raises(ValueError, match="unknown teacher"):
        teacher_weights_widget(feats, labels, presets={"x": {"nobody": 1.0}})
    with pytest.raises(ValueError, match="2 weights for 3"):
        teacher_weights_widget(feats, labels, presets={"x": [0.5, 0.5]})


def test_leave_one_out_excludes_the_own_group():
    """Two near-identical clips per group: without groups the 1-NN is always the twin (100 %);
    with groups the twin is excluded and the score is the loop reference's."""
    rng = np.random.default_rng(3)
    base = rng.normal(size=(12, 6))  # 12 groups, random directions, labels unrelated
    x = np.repeat(base, 2, axis=0) + 0.01 * rng.normal(size=(24, 6))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    labels = np.repeat(rng.integers(0, 3, 12), 2)
    groups = np.repeat(np.arange(12), 2)
    sim = x @ x.T
    assert scores_from_similarity(sim, labels, k=1)["nn1_acc"] == 100.0
    got = scores_from_similarity(sim, labels, k=1, groups=groups)["nn1_acc"]
    right = 0
    for i in range(24):
        cand = [j for j in range(24) if groups[j] != groups[i]]
        right += labels[max(cand, key=lambda j: sim[i, j])] == labels[i]
    assert got == pytest.approx(100.0 * right / 24)
    assert got < 100.0

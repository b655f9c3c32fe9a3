"""Figure 2's toy: the metrics against obvious references, and what each loss does."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dtgkit.studies import geometry as G
from dtgkit.studies.frames import FrameData, load_frame_data
from dtgkit.studies.queue_dynamics import queue_run, queue_sweep


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _own_retrieval_manual(a, g):
    hits = 0
    for i in range(len(a)):
        sims = [float(np.dot(a[i], g[j])) for j in range(len(g))]
        hits += int(all(sims[i] >= s for s in sims))
    return hits / len(a)


def _silhouette_manual(x, y):
    n = len(x)
    s = []
    for i in range(n):
        d = {c: [1 - float(np.dot(x[i], x[j])) for j in range(n) if y[j] == c and j != i]
             for c in set(y.tolist())}
        if not d[y[i]]:
            s.append(0.0)
            continue
        a = np.mean(d[y[i]])
        b = min(np.mean(v) for c, v in d.items() if c != y[i] and v)
        s.append((b - a) / max(a, b))
    return float(np.mean(s))


def test_metrics_match_manual_references():
    rng = np.random.default_rng(0)
    a, g = _unit(rng.standard_normal((15, 4))), _unit(rng.standard_normal((15, 4)))
    y = np.arange(15) % 3
    y[0] = 7  # a class of one (silhouette 0 for it, as sklearn)
    m = G.geometry_metrics(a, g, y)
    assert m["own_retrieval"] == pytest.approx(_own_retrieval_manual(a, g))
    assert m["pos_sim"] == pytest.approx(np.mean(np.sum(a * g, 1)))
    off = ~np.eye(15, dtype=bool)
    assert m["anchor_sim"] == pytest.approx((a @ a.T)[off].mean())
    assert m["silhouette"] == pytest.approx(_silhouette_manual(a, y), abs=1e-9)
    from sklearn.metrics import silhouette_score

    assert m["silhouette"] == pytest.approx(silhouette_score(a, y, metric="cosine"), abs=1e-9)


def test_perfect_copy_of_the_guidance():
    p = G.toy_problem(seed=3)
    m = G.geometry_metrics(p.guidance, p.guidance, p.labels)
    assert m["own_retrieval"] == 1.0 and m["pos_sim"] == pytest.approx(1.0)
    assert m["l1"] == pytest.approx(0.0, abs=1e-7)
    assert m["anchor_sim"] == pytest.approx(m["guidance_sim"])


def test_toy_problem_is_seeded_and_shaped():
    p1, p2 = G.toy_problem(10, 2, 3, seed=1, num_test=5), G.toy_problem(10, 2, 3, seed=1, num_test=5)
    np.testing.assert_array_equal(p1.guidance, p2.guidance)
    np.testing.assert_array_equal(p1.init, p2.init)
    assert p1.inputs.shape == (10, 6) and p1.guidance.shape == (10, 3) and p1.init.shape == (6, 3)
    np.testing.assert_allclose(np.linalg.norm(p1.guidance, axis=1), 1.0, rtol=1e-6)
    assert p1.test is not None and p1.test.num_samples == 5
    assert not np.array_equal(G.toy_problem(10, 2, 3, seed=2).guidance, p1.guidance)
    free = G.toy_problem(8, student="free")
    np.testing.assert_array_equal(free.inputs, np.eye(8))
    with pytest.raises(ValueError, match="student"):
        G.toy_problem(student="mlp")


def _collapsed_free_problem(seed=0):
    """Free anchors all starting near one point: the state DTG's negatives must undo."""
    p = G.toy_problem(12, 3, 3, student="free", seed=seed)
    rng = np.random.default_rng(seed)
    init = _unit(np.array([1.0, 0.2, 0.1]) + 0.05 * rng.standard_normal((12, 3)))
    return G.GeometryProblem(p.inputs, p.guidance, p.labels, init, name="collapsed")


def test_dtg_raises_own_retrieval_and_spreads_anchors():
    p = _collapsed_free_problem()
    tr = G.fit_geometry(p, "dtg", steps=150, lr=0.05, tau=0.1)
    m0, m1 = {k: v[0] for k, v in tr.metrics.items()}, tr.final()
    assert m1["own_retrieval"] > m0["own_retrieval"] + 0.4
    assert m1["anchor_sim"] < m0["anchor_sim"] - 0.5  # spread out from the collapsed start
    assert m1["loss"] < m0["loss"]


def test_one_dtg_step_pushes_anchors_apart():
    p = _collapsed_free_problem(1)
    tr = G.fit_geometry(p, "dtg", steps=1, lr=0.02, tau=0.1, optimizer="sgd")
    assert tr.metrics["anchor_sim"][1] < tr.metrics["anchor_sim"][0]
    assert tr.metrics["loss"][1] < tr.metrics["loss"][0]


def test_distinit_l1_reduces_the_anchor_guidance_distance():
    p = G.toy_problem(12, 3, 3, seed=0, num_test=10)
    tr = G.fit_geometry(p, "distinit", steps=100)
    l1 = tr.metrics["l1"]
    assert l1[-1] < 0.5 * l1[0]
    assert tr.metrics["loss"][-1] == pytest.approx(l1[-1], rel=1e-5)  # the loss *is* the L1
    assert tr.metrics["pos_sim"][-1] > tr.metrics["pos_sim"][0]
    assert tr.test_metrics["l1"][-1] < tr.test_metrics["l1"][0]


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_fit_matches_torch_optim(optimizer):
    p = G.toy_problem(10, 2, 2, seed=4)
    x, g = torch.from_numpy(p.inputs), torch.from_numpy(p.guidance)
    w = torch.from_numpy(p.init.copy()).requires_grad_(True)
    opt = torch.optim.Adam([w], lr=0.05) if optimizer == "adam" else \
        torch.optim.SGD([w], lr=0.05, momentum=0.9)
    for _ in range(15):
        loss = G._loss("dtg", F.normalize(x @ w, dim=1), g, 0.2)
        opt.zero_grad()
        loss.backward()
        opt.step()
    tr = G.fit_geometry(p, "dtg", steps=15, lr=0.05, tau=0.2, optimizer=optimizer,
                        schedule="constant")
    np.testing.assert_allclose(tr.weight, w.detach().numpy(), atol=1e-5)


def test_side_by_side_shares_the_start_and_records():
    p = G.toy_problem(seed=2)
    traces = G.fit_side_by_side(p, steps=20, record_every=5)
    assert set(traces) == {"distinit", "dtg"}
    np.testing.assert_array_equal(traces["dtg"].steps, [0, 5, 10, 15, 20])
    np.testing.assert_array_equal(traces["dtg"].anchors[0], traces["distinit"].anchors[0])
    assert traces["dtg"].anchors.shape == (5, 12, 2)
    assert traces["dtg"].at(12) == 2
    table = G.summary_table(traces, guidance=p)
    assert table.splitlines()[1].startswith("init") and "guidance" in table
    with pytest.raises(ValueError, match="method"):
        G.fit_geometry(p, "moco")


def _fake_frame_data(v=12, f=8, d_in=12, d=6, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(v) % 3
    guid = rng.standard_normal((v, f, d)) + 2 * np.eye(d)[labels][:, None, :]
    return FrameData(rng.random((v, f, d_in)).astype(np.float32), guid.astype(np.float32),
                       labels, np.arange(v), np.arange(v) < v * 2 // 3, np.arange(f), "fake",
                       ["a", "b", "c"], [f"v{i}" for i in range(v)])


def test_frame_problem_from_frame_data():
    data = _fake_frame_data()
    p = G.frame_problem(data, num_segments=3, input_dim=5)
    assert p.inputs.shape == (8, 5) and p.guidance.shape == (8, 6)
    assert p.test is not None and p.test.inputs.shape == (4, 5)
    np.testing.assert_array_equal(p.labels, data.labels[:8])
    p2 = G.frame_problem(data, num_segments=3, input_dim=5)
    np.testing.assert_array_equal(p.guidance, p2.guidance)  # seeded view draws
    sub = data.subset(data.labels == 0)
    assert sub.student_frames.shape[0] == 4 and sub.paths == ["v0", "v3", "v6", "v9"]


def test_load_frame_data_on_the_committed_sample(tmp_path):
    from dtgkit.data.synth import sample_root

    root = sample_root()
    data = load_frame_data(root / "videos", root / "splits", tmp_path / "cache",
                             teacher="tiny", frame_stride=8, thumb_size=8)
    assert data.student_frames.shape == (32, 4, 3 * 8 * 8)
    assert data.guidance_frames.shape[:2] == (32, 4)
    assert data.train_mask.sum() == 16 and len(data.class_names) == 16
    np.testing.assert_array_equal(data.frame_indices, [0, 8, 16, 24])
    assert 0.0 <= data.student_frames.min() and data.student_frames.max() <= 1.0
    again = load_frame_data(root / "videos", root / "splits", tmp_path / "cache",
                              teacher="tiny", frame_stride=8, thumb_size=8)  # cache re-used
    np.testing.assert_array_equal(again.guidance_frames, data.guidance_frames)


def test_queue_run_records_fill_wrap_and_ages():
    data = _fake_frame_data()
    run = queue_run(data, K=6, batch_size=4, steps=7, num_segments=3, snapshot_every=3,
                    feat_dim=8, hidden=16)
    assert len(run.history) == 7
    np.testing.assert_array_equal(run.series("ptr"), [(4 * s) % 6 for s in range(1, 8)])
    np.testing.assert_allclose(run.series("queue_fill"), [4 / 6] + [1.0] * 6)
    assert [s["step"] for s in run.snapshots] == [1, 3, 6, 7]
    assert len(run.snapshots[0]["neg"]) == 0  # nothing real in the queue before step 1
    last = run.snapshots[-1]
    assert last["filled"] == 6 and last["ages"].min() >= 1 and last["ages"].max() <= 2
    assert last["pos"].shape == (4,) and len(last["neg"]) + len(last["neg_own"]) == 4 * 6
    assert {"own_retrieval", "knn_acc", "knn_test_acc"} <= set(run.final)
    assert np.isfinite(run.series("loss")).all()
    # a queue larger than the data set holds the anchors' own earlier copies
    big = queue_run(data, K=64, batch_size=4, steps=6, num_segments=3, feat_dim=8, hidden=16)
    assert big.history[-1]["own_in_queue"] > 0


def test_queue_sweep_rows():
    rows = queue_sweep(_fake_frame_data(), [4, 8], [0.1], steps=3, batch_size=4,
                       num_segments=3, feat_dim=8, hidden=16)
    assert [(r["K"], r["tau"]) for r in rows] == [(4, 0.1), (8, 0.1)]
    assert all(0 <= r["final_acc"] <= 1 for r in rows)

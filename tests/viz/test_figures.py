"""Figures 2-4 on small inputs, and `dtgkit figures` on a fake run directory."""
from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.figure import Figure

from dtgkit.studies import geometry as G
from dtgkit.studies.guidance_space import teacher_weight_series
from dtgkit.viz import figures as FG


@pytest.fixture(scope="module")
def toy_fit():
    p = G.toy_problem(8, 2, 2, seed=0, num_test=6)
    return p, G.fit_side_by_side(p, steps=10, record_every=5)


def test_plot_geometry_panels(toy_fit):
    p, traces = toy_fit
    fig = FG.plot_geometry(p, traces)
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith("A1 distinit step 0") and titles[3].startswith("B2 dtg step 10")
    assert "retrieval" in titles[1]
    mid = FG.plot_geometry(p, traces, step=5)
    assert "step 5" in mid.axes[1].get_title()
    FG.plot_geometry(p, traces, fig=fig)  # redraw in place (widgets)
    assert len(fig.axes) == 4


def test_plot_geometry_3d_and_curves():
    p = G.toy_problem(6, 2, 3, seed=1, num_test=4)
    traces = G.fit_side_by_side(p, steps=4)
    fig = FG.plot_geometry(p, traces)
    assert len(fig.axes) == 4 and fig.axes[0].name == "3d"
    curves = FG.plot_geometry_curves(traces)
    assert len(curves.axes) == 4
    assert len(curves.axes[0].get_lines()) == 4  # 2 methods x (train, test)
    assert curves.axes[0].get_title() == "instance retrieval top-1"


def test_figure2_of_the_toy():
    toy = G.toy_problem(seed=0)
    fig = FG.figure2(toy, G.fit_side_by_side(toy, steps=5))
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    assert "toy 2-D" in fig.get_suptitle()


def _write_metrics(run_dir, names=("imagenet", "places", "bu101"), rows=6, extra=()):
    run_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    lines = []
    for i in range(rows):
        w = rng.dirichlet(np.ones(len(names)))
        row = {"kind": "train", "stage": "pretrain", "step": 10 * (i + 1), "epoch": i // 2 + 1,
               "lr": 0.1, "loss": 5.0 - i, **{f"weight/{n}": float(x) for n, x in zip(names, w)}}
        lines.append(json.dumps(row))
        lines.append(json.dumps({"kind": "epoch", "step": 10 * (i + 1), "loss": 1.0}))
    lines += list(extra)
    (run_dir / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    (run_dir / "config.yaml").write_text("dtg:\n  method: dtg\n  weighting: online1\n")


def test_figure3_one_line_per_teacher(tmp_path):
    _write_metrics(tmp_path / "run")
    xs, series = teacher_weight_series(tmp_path / "run")
    np.testing.assert_array_equal(xs, [10, 20, 30, 40, 50, 60])
    assert list(series) == ["imagenet", "places", "bu101"]
    fig = FG.figure3(tmp_path / "run")
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 4  # 3 teachers + the uniform 1/M reference
    assert "online1" in ax.get_title()
    assert len(ax.get_legend().get_texts()) == 4
    rows = [{"step": 1, "weight/a": 0.7, "weight/b": 0.3}]  # Trainer.history rows work too
    assert len(FG.figure3(rows, x="step").axes[0].get_lines()) == 3


def test_figure3_errors_name_the_problem(tmp_path):
    _write_metrics(tmp_path / "bad", extra=["{not json"])
    with pytest.raises(ValueError, match=r"metrics.jsonl:13"):
        FG.figure3(tmp_path / "bad")
    with pytest.raises(ValueError, match="weight/<teacher>"):
        FG.figure3([{"kind": "train", "step": 1, "loss": 1.0}])
    with pytest.raises(FileNotFoundError):
        FG.figure3(tmp_path / "missing")


def _write_features(path, shift, classes=12, n_per=(9, 8, 8, 7, 7, 6, 6, 5, 5, 5, 4, 3), seed=0):
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.full(n, c) for c, n in zip(range(classes), n_per)])
    feats = rng.standard_normal((len(labels), 16)) + shift * np.eye(16)[labels]
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, feats=feats.astype(np.float32), labels=labels, video_ids=np.arange(len(labels)),
             class_names=np.array([f"class{c}" for c in range(classes)]))
    return path


def test_figure4_two_panels_with_scores(tmp_path):
    a = _write_features(tmp_path / "a.npz", 4.0)
    b = _write_features(tmp_path / "b.npz", 0.5, seed=1)
    fig = FG.figure4(a, b, seed=0)
    assert len(fig.axes) == 2
    assert all(len(ax.collections) == 10 for ax in fig.axes)  # the 10 largest classes
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()][:2] == ["class0", "class1"]
    s = fig.scores
    assert s["supervised DTG-Net"]["knn_acc"] > s["without DTG-Net"]["knn_acc"]
    assert "silhouette" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="'labels'"):
        FG.figure4({"feats": np.zeros((5, 2))}, b)


def _fake_runs(root):
    _write_metrics(root / "cpu-demo-pretrain")
    for name, method, shift in (("cpu-demo-joint-dtg", "dtg", 4.0),
                                ("cpu-demo-joint-none", "none", 1.0)):
        d = root / name
        _write_features(d / "features_test.npz", shift)
        (d / "results.json").write_text(json.dumps({"stage": "joint", "method": method}))
    return root


def test_cli_writes_what_the_run_has(tmp_path, capsys):
    from dtgkit.cli import main

    root = _fake_runs(tmp_path / "runs")
    assert main(["figures", str(root), "--out", str(tmp_path / "figs")]) == 0
    out = capsys.readouterr().out
    for name in ("figure2_dtg_vs_distinit.png", "figure3_teacher_weights.png", "figure4_tsne.png"):
        assert (tmp_path / "figs" / name).stat().st_size > 10_000
        assert name in out
    assert "skipped" not in out


def test_cli_says_what_it_skipped(tmp_path, capsys):
    from dtgkit.cli import main

    run = tmp_path / "single"
    _write_metrics(run, names=("imagenet",))
    assert main(["figures", str(run)]) == 0
    out = capsys.readouterr().out
    assert (run / "figures" / "figure2_dtg_vs_distinit.png").exists()
    assert "skipped figure3" in out and "one teacher only" in out
    assert "skipped figure4" in out and "features_test.npz" in out
    assert main(["figures", str(tmp_path / "nope")]) == 1
    assert "run directory not found" in capsys.readouterr().err


def test_find_inputs_with_explicit_feature_files(tmp_path):
    a = _write_features(tmp_path / "x" / "a.npz", 2.0)
    found = FG.find_figure_inputs(tmp_path, dtg_features=str(a), baseline_features=str(a))
    assert found["fig4"] == (a, a)
    with pytest.raises(ValueError, match="both"):
        FG.find_figure_inputs(tmp_path, dtg_features=str(a))

"""`dtgkit bench` smoke checks at tiny sizes: the suites run and report ratios (no timing asserts)."""
from __future__ import annotations

import json

import pytest

from dtgkit.bench import bench_cache_build, bench_loader, bench_queue, bench_step, format_table
from dtgkit.cli import main


def test_loader_suite_reports_both_backends(tmp_path):
    from dtgkit.data.synth import sample_root

    files = sorted(str(p) for p in (sample_root() / "videos").rglob("*.mp4"))[:2]
    rows = bench_loader(files, workers=(0,), num_segments=4, size=32, clips=4, batch_size=2)
    assert {r["backend"] for r in rows} == {"decord", "pyav"}
    for r in rows:
        assert r["raw_clips_per_s"] > 0 and r["loader_clips_per_s"] > 0 and r["loader_vs_raw"] > 0


def test_queue_and_step_suites_at_tiny_size():
    q = bench_queue(K=64, dim=8, batch=4, repeats=1)[0]
    assert q["queue_step_vs_matmul"] > 0
    s = bench_step(quick=True, K=16, repeats=1)[0]
    assert s["student"] == "tiny" and s["cached_vs_supervised"] > 0
    assert "queue_step_ms" in format_table([q])


def test_preset_step_times_the_whole_data_path_against_the_student(tmp_path):
    """--preset: a preset's DTG step (loader, clip cache, teacher feature cache, teachers)
    against its student alone; the caches are built once, outside the timing."""
    from dtgkit.bench import bench_preset_step, check_goals

    cc, tc = tmp_path / "cc", tmp_path / "tc"
    (row,) = bench_preset_step("ci-tiny", teachers=["tiny", "tiny#seed=1"], steps=2, warmup=1,
                               cache_dir=tmp_path, overrides=[f"data.clip_cache={cc}",
                                                              "dtg.use_cache=true",
                                                              f"dtg.cache_dir={tc}"])
    assert (row["student"], row["teachers"], row["clip_cache"], row["teacher_cache"]) == \
        ("tiny", 2, True, True)
    assert row["dtg_ms"] > 0 and row["dtg_vs_student"] == pytest.approx(row["dtg_ms"] / row["student_ms"])
    assert (cc / "frames.npy").is_file() and len(list(tc.glob("*.npy"))) == 2
    assert row["sample_ms"] > 0 and row["sample_both_views_ms"] > 0
    assert row["sample_saving"] == pytest.approx(row["sample_both_views_ms"] / row["sample_ms"])
    assert check_goals("step", [row]) == []  # the 1.2x goal is the lab preset's
    assert [c["met"] for c in check_goals("step", [{**row, "preset": "lab"}])] == \
        [row["dtg_vs_student"] <= 1.2]


def test_cache_suite_times_build_and_forward_on_the_same_frames():
    row = bench_cache_build(quick=True, size=32, batch_size=64, num_workers=0, repeats=2)[0]
    assert row["frames"] > row["batch"] and row["videos"] > 1
    assert row["cache_frames_per_s"] > 0 and row["forward_frames_per_s"] > 0
    assert abs(row["cache_vs_forward"] - row["cache_frames_per_s"] / row["forward_frames_per_s"]) < 1e-9


def test_cli_writes_json(tmp_path):
    out = tmp_path / "b.json"
    assert main(["bench", "queue", "--quick", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["suites"]["queue"][0]["K"] == 4096 and data["machine"]["cpus"]


def test_loader_suite_reports_an_unusable_optional_backend(monkeypatch):
    import dtgkit.data.video as V
    from dtgkit.data.synth import sample_root

    class Broken(V.VideoReader):
        def __init__(self, path, verify="tail"):
            raise ImportError("torchcodec is not usable here (no FFmpeg)")

    monkeypatch.setattr(V, "TorchCodecReader", Broken)
    files = sorted(str(p) for p in (sample_root() / "videos").rglob("*.mp4"))[:1]
    rows = bench_loader(files, backends=("torchcodec",), workers=(0,), num_segments=2, size=16,
                        clips=2, batch_size=1)
    assert rows == [{"backend": "torchcodec", "workers": None,
                     "skipped": "torchcodec is not usable here (no FFmpeg)"}]
    assert "skipped" in format_table([{"backend": "decord", "workers": 0}, *rows])


def test_goals_are_printed_beside_the_ratio_and_misses_marked():
    from dtgkit.bench import GOALS, check_goals, format_goals

    rows = [{"backend": "decord", "workers": 0, "loader_vs_raw": 0.97},
            {"backend": "decord", "workers": 2, "loader_vs_raw": 1.2},
            {"backend": "pyav", "workers": 0, "loader_vs_raw": 0.5},  # no goal for PyAV
            {"backend": "torchcodec", "workers": None, "skipped": "not installed"}]
    checked = check_goals("loader", rows)
    assert [(c["where"]["workers"], c["met"]) for c in checked] == [(0, True), (2, False)]
    text = format_goals(checked)
    assert "loader_vs_raw (backend=decord, workers=0) >= 0.95: 0.97  met" in text
    assert "loader_vs_raw (backend=decord, workers=2) >= 1.6: 1.2  MISSED" in text
    queue = check_goals("queue", [{"queue_step_vs_matmul": 1.6}])
    assert queue[0]["goal"] == 1.5 and not queue[0]["met"]
    assert {g.suite for g in GOALS} <= {"loader", "queue", "teachers", "cache", "step"}

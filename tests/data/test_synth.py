"""SynthActions: real files in UCF101 layout, deterministic, with the promised class structure."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path

import av
import decord
import numpy as np
import pytest
from PIL import Image

from dtgkit.data import synth

TINY = {
    "classes": 3,
    "videos_per_class": 2,
    "frames": 8,
    "size": 64,
    "seed": 3,
    "stills_per_class": 3,
    "clips_per_group": 1,
    "test_groups": 1,
    "still_sizes": (40, 32, 32),
}


def _decode_av(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("synth") / "tiny"
    summary = synth.generate_synth_actions(root, progress=False, workers=1, **TINY)
    return root, summary


def test_videos_decode_with_decord_and_pyav(tiny):
    root, summary = tiny
    paths = sorted((root / "videos").glob("*/*.mp4"))
    assert len(paths) == 3 * 2 and summary["train"] + summary["test"] == 6
    for path in paths:
        vr = decord.VideoReader(str(path))
        assert len(vr) == 8
        assert vr[0].asnumpy().shape == (64, 64, 3)
        frames = _decode_av(path)
        assert frames.shape == (8, 64, 64, 3) and frames.dtype == np.uint8
        assert frames.std() > 5  # a picture, not a blank
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            assert s.codec_context.name in ("h264", "mpeg4") and s.average_rate == 25


def test_split_files_follow_ucf101(tiny):
    root, _ = tiny
    splits = root / "splits"
    ind = [line.split() for line in (splits / "classInd.txt").read_text().splitlines()]
    assert ind == [["1", "Walk"], ["2", "Run"], ["3", "Clap"]]
    label = {name: int(i) for i, name in ind}
    train = [line.split() for line in (splits / "trainlist01.txt").read_text().splitlines()]
    test = (splits / "testlist01.txt").read_text().splitlines()
    assert len(train) == 3 and len(test) == 3
    for rel, lab in train:
        cls, fname = rel.split("/")
        assert fname.startswith(f"v_{cls}_g") and fname.endswith("_c01.mp4")
        assert int(lab) == label[cls] and (root / "videos" / rel).is_file()
        assert "_g02_" in fname  # the first group is test, like UCF101 split 1
    for rel in test:
        assert len(rel.split()) == 1 and "_g01_" in rel and (root / "videos" / rel).is_file()


def test_stills_are_imagefolders(tiny):
    root, _ = tiny
    st = root / "stills"
    for kind, classes, size in (
        ("action_a", ["Clap", "Gait"], 40),  # Walk and Run share a still label
        ("action_b", ["Clap"], 32),  # arm actions only
        ("scenes", sorted(synth.SCENES), 32),
    ):
        for split, n in (("train", 2), ("test", 1)):
            folders = sorted(p.name for p in (st / kind / split).iterdir())
            assert folders == classes, (kind, split)
            for c in classes:
                files = sorted((st / kind / split / c).glob("*.png"))
                assert len(files) == n
                assert Image.open(files[0]).size == (size, size)
    meta = json.loads((root / synth.META_NAME).read_text())
    assert meta["params"]["seed"] == 3 and meta["counts"]["train"] == 3
    assert [c["name"] for c in meta["classes"]] == ["Walk", "Run", "Clap"]
    assert [(p["a"], p["b"]) for p in meta["confusable_pairs"]] == [("Walk", "Run")]
    assert meta["stills"]["action_a"]["members"] == {"Gait": ["Walk", "Run"], "Clap": ["Clap"]}


def test_a_pair_is_filmed_in_the_same_settings(tiny):
    root, _ = tiny
    assert synth.setting_source("Run", ["Walk", "Run", "Clap"]) == "Walk"
    assert synth.setting_source("Clap", ["Walk", "Run", "Clap"]) == "Clap"
    walk = _decode_av(root / "videos/Walk/v_Walk_g01_c01.mp4").astype(float)
    run = _decode_av(root / "videos/Run/v_Run_g01_c01.mp4").astype(float)
    clap = _decode_av(root / "videos/Clap/v_Clap_g01_c01.mp4").astype(float)
    # the same actor in the same scene: the same colours, frame for frame nearly the same
    # picture (the legs move at another rate); another class has its own setting
    assert np.abs(walk.mean((0, 1, 2)) - run.mean((0, 1, 2))).max() < 2
    assert np.abs(walk - run).mean() < 0.5 * np.abs(walk - clap).mean()


def _digests(root: Path) -> dict[str, str]:
    """sha256 of every file a SynthActions run wrote, by relative path."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes_and_pixels(tiny, tmp_path):
    root, _ = tiny
    other = tmp_path / "again"
    synth.generate_synth_actions(other, progress=False, workers=2, **TINY)  # order-independent
    assert _digests(other) == _digests(root)  # every video, still and split file, byte for byte
    a = _decode_av(root / "videos/Run/v_Run_g01_c01.mp4")
    other_seed = tmp_path / "seed4"
    synth.generate_synth_actions(
        other_seed, progress=False, workers=1, **{**TINY, "seed": 4, "stills_per_class": 0}
    )
    assert (
        np.abs(a.astype(int) - _decode_av(other_seed / "videos/Run/v_Run_g01_c01.mp4")).mean() > 5
    )


_TWICE = """
import hashlib, json, os, sys
from pathlib import Path
import numpy as np
from dtgkit.data import synth

def digests(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(root).rglob("*")) if p.is_file()}

out, kw = Path(sys.argv[1]), json.loads(sys.argv[2])
synth.generate_synth_actions(out / "first", progress=False, workers=1, **kw)
# what else a session does in between: multi-threaded torch maths, threaded decoding
import av, torch
x = torch.randn(256, 256)
for _ in range(5):
    x = torch.tanh(x @ x / 16)
for path in sorted((out / "first" / "videos").rglob("*.mp4")):
    with av.open(str(path)) as c:
        [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
synth.generate_synth_actions(out / "second", progress=False, workers=1, **kw)
synth.generate_synth_actions(out / "forked", progress=False, workers=2, **kw)
print(json.dumps({"threads": torch.get_num_threads(),
                  **{k: digests(out / k) for k in ("first", "second", "forked")}}))
"""


def test_same_process_twice_default_threads(tiny, tmp_path):
    """Issue 11: generating twice in one process, with the libraries' default thread counts
    (``make test`` sets OMP_NUM_THREADS=1, so a child process runs without it) and other work in
    between, writes the same bytes as the first call, a forked worker and this process."""
    import subprocess
    import sys

    root, _ = tiny
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    done = subprocess.run(
        [sys.executable, "-c", _TWICE, str(tmp_path), json.dumps(TINY)],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    want = _digests(root)
    assert got["first"] == want  # another process, default threads: the same bytes
    assert got["second"] == want  # the same process, after other work
    assert got["forked"] == want  # forked workers


def test_rgb_to_yuv420p_matches_the_bt601_formula():
    """The integer conversion against BT.601 limited range written out per pixel in floats."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (2, 6, 8, 3), dtype=np.uint8)
    rgb[0, :2, :2] = 0  # black and white blocks hit both ends of the range
    rgb[0, 2:4, :2] = 255
    yuv = synth.rgb_to_yuv420p(rgb)
    assert yuv.shape == (2, 9, 8) and yuv.dtype == np.uint8
    flat = yuv.reshape(2, -1)
    Y, U, V = yuv[:, :6], flat[:, 48:60].reshape(2, 3, 4), flat[:, 60:].reshape(2, 3, 4)
    for t in range(2):
        for i in range(6):
            for j in range(8):
                r, g, b = (float(c) for c in rgb[t, i, j])
                assert abs(Y[t, i, j] - (16 + (65.738 * r + 129.057 * g + 25.064 * b) / 256)) <= 1
        for i in range(3):
            for j in range(4):
                r, g, b = rgb[t, 2 * i:2 * i + 2, 2 * j:2 * j + 2].reshape(4, 3).mean(0)
                assert abs(U[t, i, j] - (128 + (-37.945 * r - 74.494 * g + 112.439 * b) / 256)) <= 1
                assert abs(V[t, i, j] - (128 + (112.439 * r - 94.154 * g - 18.285 * b) / 256)) <= 1
    assert Y[0, 0, 0] == 16 and Y[0, 2, 0] == 235 and U[0, 0, 0] == V[0, 0, 0] == 128


def test_ensure_synth_uses_cache(tiny, capsys):
    root, _ = tiny
    before = (root / "videos/Walk/v_Walk_g01_c01.mp4").stat().st_mtime_ns
    summary = synth.ensure_synth(root, progress=False, **TINY)
    assert summary["cached"] and "cached" in capsys.readouterr().err
    assert (root / "videos/Walk/v_Walk_g01_c01.mp4").stat().st_mtime_ns == before


def test_ensure_synth_regenerates_on_other_params(tmp_path, capsys):
    kw = {**TINY, "classes": 1, "videos_per_class": 1, "test_groups": 0, "stills_per_class": 0}
    synth.ensure_synth(tmp_path, progress=False, **kw)
    out = synth.ensure_synth(tmp_path, progress=False, **{**kw, "frames": 6})
    assert not out["cached"] and "differ" in capsys.readouterr().err
    assert len(decord.VideoReader(str(tmp_path / "videos/Walk/v_Walk_g01_c01.mp4"))) == 6


def test_cli_writes_the_layout(tmp_path):
    parser = argparse.ArgumentParser()
    synth.add_cli(parser.add_subparsers())
    args = parser.parse_args(
        [
            "synth",
            str(tmp_path),
            "--classes",
            "2",
            "--videos-per-class",
            "2",
            "--frames",
            "4",
            "--size",
            "32",
            "--stills-per-class",
            "0",
            "--clips-per-group",
            "1",
            "--no-progress",
            "--workers",
            "1",
        ]
    )
    assert args.func(args) == 0
    assert len((tmp_path / "splits/trainlist01.txt").read_text().splitlines()) == 2
    assert not (tmp_path / "stills").exists()  # --stills-per-class 0: no empty folders


def test_bad_input_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="even"):
        synth.generate_synth_actions(tmp_path / "odd", size=63, progress=False)
    with pytest.raises(ValueError, match="unknown SynthActions parameter"):
        synth.generate_synth_actions(tmp_path / "x", nosie=0.1, progress=False)
    foreign = tmp_path / "foreign"
    (foreign / "videos").mkdir(parents=True)
    (foreign / "videos" / "mine.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not written by"):
        synth.generate_synth_actions(foreign, **TINY, progress=False)
    assert (foreign / "videos" / "mine.txt").exists()


def test_no_training_videos_is_refused_naming_the_flags(tmp_path, capsys):
    """Issue 11: `dtgkit synth ROOT --classes 3 --videos-per-class 4` made one group per class,
    all of it test, and pretrain failed far away. Now: refused before anything is written
    (since issue 13 the default group holds 2 clips: 2 videos per class make one group)."""
    from dtgkit.cli import main

    assert main(["synth", str(tmp_path / "s"), "--classes", "3", "--videos-per-class", "2"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "no training videos" in err and "--videos-per-class to 4" in err
    assert "--clips-per-group" in err and not (tmp_path / "s").exists()


@pytest.fixture(scope="module")
def own_style(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "own"
    synth.generate_synth_actions(root, progress=False, workers=1, **TINY, still_style="own")
    return root


def _pngs(root: Path, kind: str) -> dict[str, bytes]:
    d = root / "stills" / kind
    return {str(f.relative_to(d)): f.read_bytes() for f in sorted(d.rglob("*.png"))}


def test_both_still_styles_generate_the_same_sets(tiny, own_style):
    """still_style changes how the action stills are drawn, not which stills there are; the
    scene stills do not depend on it."""
    root, _ = tiny
    assert synth.SynthParams().still_style == "video"
    for kind in ("action_a", "action_b"):
        video, own = _pngs(root, kind), _pngs(own_style, kind)
        assert video.keys() == own.keys() and len(video) > 0
        assert all(video[k] != own[k] for k in video)  # every action still is drawn anew
    assert _pngs(root, "scenes") == _pngs(own_style, "scenes")
    meta = json.loads((own_style / synth.META_NAME).read_text())
    assert meta["params"]["still_style"] == "own"


def test_video_style_still_is_a_frame_drawn_like_the_videos(tmp_path):
    """A "video" still is one frame of a clip rendered like the world's videos (same actor
    colours, scene, blur, camera; no backdrop, no outline), at a moment of action."""
    from dtgkit.data.synth.render import class_by_name, draw_setting, plan_clip, render_frames

    kw = {**TINY, "classes": 1, "stills_per_class": 3, "still_sizes": (64, 64, 32)}
    synth.generate_synth_actions(tmp_path, progress=False, workers=1, **kw)
    p = synth.SynthParams(**kw)
    files = sorted((tmp_path / "stills/action_a/train/Gait").glob("*.png"))
    assert len(files) == 2
    for j, f in enumerate(files):
        img = np.asarray(Image.open(f))
        assert img.shape == (p.size, p.size, 3)  # a frame of a video of the world's size
        # the recipe: the video style's setting, plan and renderer, on the still's own stream
        rng = np.random.default_rng([p.seed, synth.world.RNG_STREAMS["action_a"],
                                     synth._label_id("action_a", "Gait"), j,
                                     synth._VIDEO_STILL_KEY])
        cls = class_by_name("Walk")
        st = draw_setting(cls, rng, p.scene_bias, "video")
        plan = plan_clip(cls, st, rng, 32, p.size, p.speed_range, p.jitter, "video",
                               shutter=p.shutter)
        pick = np.flatnonzero(plan["active"])
        frame = np.array([int(rng.choice(pick)) if len(pick) else 16])
        np.testing.assert_array_equal(img, render_frames(plan, st, frame, p.noise, rng)[0])
        assert not plan["outline"]


def test_bad_still_style_is_one_clear_line(tmp_path, capsys):
    from dtgkit.cli import main

    assert main(["synth", str(tmp_path / "s"), "--classes", "1", "--videos-per-class", "2",
                 "--clips-per-group", "1", "--still-style", "cartoon"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "still_style='cartoon'" in err and "'video'" in err and "'own'" in err
    assert not (tmp_path / "s").exists()
    with pytest.raises(ValueError, match="still_style"):
        synth.generate_synth_actions(tmp_path / "t", still_style="Video", progress=False)


def test_class_table_has_the_promised_structure():
    names = [c.name for c in synth.CLASSES]
    assert len(names) == len(set(names)) >= 16 and all("_" not in n for n in names)
    default = synth.select_classes(synth.SynthParams().classes)
    assert len(default) == synth.DEFAULT_CLASSES
    assert not any(c.reverse for c in default)  # time-reversed twins only beyond the default
    pairs = synth.pairs_within([c.name for c in default])
    kinds = [p.kind for p in pairs]
    assert kinds.count("motion") >= 2 and kinds.count("appearance") >= 2 and "scene" in kinds
    by = {c.name: c for c in synth.CLASSES}
    for p in synth.CONFUSABLE_PAIRS:
        a, b = by[p.a], by[p.b]
        assert a.motion == b.motion
        if p.kind == "motion":  # same look, other order or rate of frames
            assert a.obj == b.obj and a.scene == b.scene
            assert (a.reverse != b.reverse) != (a.rate != b.rate)
            assert a.still_a == b.still_a and a.still_b == b.still_b  # a still cannot tell
        elif p.kind == "appearance":  # same motion and place, other object
            assert a.obj != b.obj and a.scene == b.scene and a.rate == b.rate
            assert a.still_a == b.still_a
        else:  # same motion, always another place
            assert p.kind == "scene" and a.scene != b.scene and a.scene_bias == b.scene_bias == 1
            assert a.still_a == b.still_a
    for kind in ("action_a", "action_b"):  # every still label is a pose a frame can show
        labels = synth.still_labels(kind, [c.name for c in default])
        assert labels and all(len({by[m].motion for m in ms}) == 1 for ms in labels.values())
    assert len(synth.SCENES) >= 6
    for c in synth.CLASSES:  # the documented table lists every class
        assert f" {c.name} " in synth.__doc__


def _motion_energy(v: np.ndarray) -> float:
    return float(np.abs(np.diff(v.astype(np.float32), axis=0)).mean())


@pytest.mark.parametrize(
    "a, b", [("ThrowBall", "CatchBall"), ("SitDown", "StandUp"), ("SpinLeft", "SpinRight")]
)
def test_time_reversed_pairs_share_frames_not_order(a, b):
    kw = {"frames": 24, "size": 64, "seed": 7, "noise": 0.0, "jitter": 0.0, "animate_scene": False}
    va = synth.render_clip(a, **kw)
    vb = synth.render_clip(b, **kw)
    np.testing.assert_array_equal(va, vb[::-1])  # the same frames ...
    assert np.abs(va.astype(np.float32) - vb).mean() > 0.5  # ... in another order
    # with the animated scene and noise on, single frames still match as a set
    kw = {"frames": 24, "size": 64, "seed": 7, "scene": "Night"}
    va = synth.render_clip(a, **kw).astype(np.float32)
    vb = synth.render_clip(b, **kw).astype(np.float32)
    in_order = np.abs(va - vb).mean()
    assert np.abs(va.mean(0) - vb.mean(0)).mean() < 0.3 * in_order


@pytest.mark.parametrize("slow, fast", [("Walk", "Run"), ("Clap", "Applaud")])
def test_speed_pairs_differ_in_rate_and_blur_only(slow, fast):
    kw = {"frames": 32, "size": 64, "scene": "Sky", "noise": 0.0, "jitter": 0.0,
          "animate_scene": False}
    a = [synth.render_clip(slow, seed=s, **kw) for s in range(3)]
    b = [synth.render_clip(fast, seed=s, **kw) for s in range(3)]
    assert np.mean([_motion_energy(v) for v in b]) > 1.5 * np.mean([_motion_energy(v) for v in a])

    def fg(v):  # fraction of non-background pixels per frame: same figure and amplitude
        return float(
            (np.abs(v.astype(int) - np.median(v, axis=(1, 2), keepdims=True)).sum(-1) > 60).mean()
        )

    assert abs(np.mean([fg(v) for v in a]) - np.mean([fg(v) for v in b])) < 0.3 * np.mean(
        [fg(v) for v in a])

    # the rate shows in a frame only as blur: the shutter changes the fast class's frames more
    sharp = {**kw, "shutter": 0.0}
    blur = {}
    for name, clips in ((slow, a), (fast, b)):
        flat = [synth.render_clip(name, seed=s, **sharp) for s in range(3)]
        blur[name] = np.mean([np.abs(v.astype(int) - w).mean() for v, w in zip(clips, flat)])
    assert blur[fast] > 2 * blur[slow]


def test_appearance_pairs_differ_in_the_object_only():
    kw = {
        "frames": 24,
        "size": 64,
        "seed": 5,
        "scene": "Sky",
        "noise": 0.0,
        "jitter": 0.0,
        "animate_scene": False,
    }
    cup = synth.render_clip("Drink", **kw).astype(int)
    phone = synth.render_clip("Phone", **kw).astype(int)
    changed = (np.abs(cup - phone).sum(-1) > 30).mean()
    assert 0 < changed < 0.02  # a few pixels around the object, same actor and motion
    assert _motion_energy(cup) == pytest.approx(_motion_energy(phone), rel=0.2)


def test_scene_pair_differs_in_the_place_only():
    kw = {"frames": 16, "size": 64, "seed": 2, "noise": 0.0, "jitter": 0.0}
    ski, surf = synth.render_clip("Ski", **kw), synth.render_clip("Surf", **kw)
    assert np.abs(ski.astype(int) - surf).mean() > 10  # snow vs beach
    same = synth.render_clip("Surf", scene="Snow", **kw)
    np.testing.assert_array_equal(ski, same)  # the actor and its motion are the same


def test_committed_sample_matches_its_params():
    root = synth.sample_root()
    assert root.is_absolute() and root.name == "synth" and root.parent.name == "data_samples"
    meta = synth.load_meta(root)
    assert meta is not None, f"{root} lacks {synth.META_NAME}; see its README.md to regenerate"
    want = synth._meta_params(synth.SynthParams(**synth.SAMPLE_PARAMS))
    assert meta["params"] == want and meta["version"] == synth.SYNTH_VERSION
    first = (root / "splits/testlist01.txt").read_text().splitlines()[0]
    assert len(decord.VideoReader(str(root / "videos" / first))) == want["frames"]

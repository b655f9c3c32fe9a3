"""Clip cache: decoded once, read like a video, the same test clips as decoding."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dtgkit.config import get_preset
from dtgkit.data.clip_cache import ClipCacheReader, ensure_clip_cache, resize_square
from dtgkit.data.synth import sample_root
from dtgkit.data.video import VideoDecodeError, open_video
from dtgkit.train import data as TD


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    c = get_preset("ci-tiny")
    c.data.root = str(sample_root())
    c.data.size, c.data.num_segments = 32, 4
    c.data.clip_cache = str(tmp_path_factory.mktemp("cc") / "clip_cache")
    return c


def test_cache_holds_every_video_of_both_splits_and_is_reused(cfg, capsys):
    assert TD.clip_cache_dir(cfg) == cfg.data.clip_cache
    index = json.loads((Path(cfg.data.clip_cache) / "index.json").read_text())
    train, _ = TD.load_split(cfg.data, "train")
    test, _ = TD.load_split(cfg.data, "test")
    assert len(index["videos"]) == len(train) + len(test) and not index["skips"]
    assert index["size"] == round(32 * 8 / 7)
    mtime = (Path(cfg.data.clip_cache) / "frames.npy").stat().st_mtime_ns
    root = TD.video_root(cfg.data)
    ensure_clip_cache(cfg.data.clip_cache, root, [r.path for r in train], index["size"],
                      progress=False)
    assert "re-using" in capsys.readouterr().out
    assert (Path(cfg.data.clip_cache) / "frames.npy").stat().st_mtime_ns == mtime


def test_reader_gives_the_resized_frames_of_the_video(cfg):
    TD.clip_cache_dir(cfg)
    path = TD.load_split(cfg.data, "test")[0][0].path  # a real H.264 file of the sample
    with open_video(path) as video, ClipCacheReader(path, cfg.data.clip_cache) as cached:
        assert isinstance(cached, ClipCacheReader) and cached.num_frames == video.num_frames
        idx = np.array([0, 5, 5, 31, 40])  # repeats; past the end clamps to the last frame
        want = resize_square(video.get_frames(np.minimum(idx, video.num_frames - 1)), 37)
        np.testing.assert_array_equal(cached.get_frames(idx), want)


def test_test_clips_are_the_same_pixels_as_decoding(cfg):
    records, _ = TD.load_split(cfg.data, "test")
    cached = TD.eval_clip_dataset(cfg, records[:4])
    plain_cfg = cfg.copy()
    plain_cfg.data.clip_cache = ""
    plain = TD.eval_clip_dataset(plain_cfg, records[:4])
    for i in range(4):
        a, b = cached[i][0], plain[i][0]  # 1 x T x 3 x 32 x 32
        assert a.shape == b.shape
        assert torch.equal(a, b)


def test_pairs_and_training_clips_read_from_the_cache(cfg):
    records, _ = TD.load_split(cfg.data, "train")
    pairs = TD.pair_dataset(cfg, records[:3])
    anchor, guidance, index, label = pairs[1]
    assert anchor.shape == guidance.shape == (4, 3, 32, 32) and index == 1
    assert label == records[1].label
    clip, label, _ = TD.train_clip_dataset(cfg, records[:3])[2]
    assert clip.shape == (4, 3, 32, 32) and label == records[2].label
    assert pairs.clip_cache == cfg.data.clip_cache


def test_pairs_with_cached_guidance_read_the_same_anchor_and_no_guidance_pixels(cfg):
    records, _ = TD.load_split(cfg.data, "train")
    both = TD.pair_dataset(cfg, records[:3])
    lean = TD.pair_dataset(cfg, records[:3], cached_guidance=True)
    for i in range(3):
        anchor, guidance, index, label, g_idx = lean[i]
        assert torch.equal(both[i][0], anchor) and guidance.numel() == 0
        assert g_idx.shape == (4,) and int(g_idx.max()) < 32
        assert index == i and label == records[i].label
        assert torch.equal(g_idx, torch.from_numpy(both.guidance_indices(i)))


def test_a_rebuilt_cache_is_reopened(cfg, tmp_path):
    """More videos asked for: the cache is rebuilt with the old ones kept, and readers in this
    process see the new index."""
    root = TD.video_root(cfg.data)
    train, _ = TD.load_split(cfg.data, "train")
    out = tmp_path / "cc"
    ensure_clip_cache(out, root, [train[0].path], 24, progress=False)
    with pytest.raises(VideoDecodeError):
        ClipCacheReader(train[1].path, out)
    ensure_clip_cache(out, root, [train[1].path], 24, progress=False)
    for r in train[:2]:
        with ClipCacheReader(r.path, out) as reader:
            assert reader.get_frames(np.array([0])).shape == (1, 24, 24, 3)


def test_a_video_outside_the_cache_is_a_decode_error(cfg, tmp_path):
    TD.clip_cache_dir(cfg)
    with pytest.raises(VideoDecodeError, match="not in the clip cache"):
        ClipCacheReader(str(tmp_path / "other.mp4"), cfg.data.clip_cache)


def _build_while_locked(lock: Path, build, said: list[str]) -> object:
    """Run ``build()`` in a thread while this thread holds ``lock``: it must wait (and say so)
    until the lock is let go, then finish. Returns what ``build`` returned."""
    import threading
    import time

    from dtgkit.files import exclusive_lock

    out: dict = {}
    with exclusive_lock(lock):
        t = threading.Thread(target=lambda: out.setdefault("r", build()))
        t.start()
        for _ in range(100):  # until the builder reports that it waits
            if any("waiting for another process" in m for m in said):
                break
            time.sleep(0.05)
        assert any("waiting for another process" in m and str(lock) in m for m in said), said
        assert t.is_alive() and "r" not in out
    t.join(timeout=120)
    assert not t.is_alive()
    return out["r"]


def test_two_builders_of_one_clip_cache_take_turns(cfg, tmp_path):
    """A second process (here a thread with its own lock descriptor) starting the same cache
    waits for the first, then re-uses what it finished instead of decoding again."""
    from dtgkit.data.clip_cache import LOCK_NAME

    root = TD.video_root(cfg.data)
    train, _ = TD.load_split(cfg.data, "train")
    out, said = tmp_path / "cc", []
    out.mkdir()
    r = _build_while_locked(out / LOCK_NAME, lambda: ensure_clip_cache(
        out, root, [train[0].path], 24, progress=False, say=said.append), said)
    assert r == out and any("decoding 1 videos" in m for m in said)
    with ClipCacheReader(train[0].path, out) as reader:
        assert reader.get_frames(np.array([0])).shape == (1, 24, 24, 3)


def test_a_teacher_cache_being_built_elsewhere_is_waited_for(cfg, tmp_path):
    from dtgkit.models.teacher_cache import LOCK_NAME, cache_holds, cache_teacher_features
    from dtgkit.models.teachers import create_teacher

    root = Path(TD.video_root(cfg.data)).resolve()
    train, _ = TD.load_split(cfg.data, "train")
    rel = [Path(r.path).resolve().relative_to(root).as_posix() for r in train[:2]]
    out, said = tmp_path / "tc", []
    out.mkdir()
    info = _build_while_locked(out / LOCK_NAME, lambda: cache_teacher_features(
        root, ["tiny"], out, videos=rel, size=32, progress=False, say=said.append), said)
    assert info["computed"] == 2 and cache_holds(out, create_teacher("tiny"), rel, 1)


def test_a_rebuild_forgets_videos_that_are_gone(cfg, tmp_path):
    """A cache rebuilt for more videos keeps the ones it held, but not a video deleted since
    (the world was regenerated with other names): it is dropped, not recorded as a skip."""
    import shutil

    train, _ = TD.load_split(cfg.data, "train")
    root = tmp_path / "videos"
    for r in train[:3]:
        (root / Path(r.path).parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(r.path, root / Path(r.path).parent.name / Path(r.path).name)
    keys = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.mp4"))
    out = tmp_path / "cc"
    ensure_clip_cache(out, root, keys[:2], 24, progress=False)
    (root / keys[0]).unlink()
    said: list[str] = []
    ensure_clip_cache(out, root, keys[2:], 24, progress=False, say=said.append)
    index = json.loads((out / "index.json").read_text())
    assert sorted(index["videos"]) == keys[1:] and index["skips"] == {}
    assert any("decoding 2 videos" in m for m in said)

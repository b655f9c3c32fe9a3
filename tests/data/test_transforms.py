"""Clip transforms: shapes, ranges, one crop/flip per clip, independent calls, test-time path."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from skimage import data as skdata
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as TF

from dtgkit.data.transforms import ClipTransform, clip_transform, to_clip_tensor


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return skdata.chelsea()  # 300 x 451 x 3 uint8, a real photo


def _brightness_clip(photo: np.ndarray, num_frames: int, step: int) -> np.ndarray:
    # frame t = photo darkened then lifted by t * step: same content, known per-frame offset
    base = (photo.astype(np.int16) // 2).clip(0, 255 - step * num_frames)
    return np.stack([base + t * step for t in range(num_frames)]).astype(np.uint8)  # T x H x W x 3


def test_to_clip_tensor_layout_and_values(photo):
    frames = np.stack([photo, photo[::-1]])  # 2 x H x W x 3
    clip = to_clip_tensor(frames)
    assert clip.shape == (2, 3, 300, 451) and clip.dtype == torch.float32
    assert torch.allclose(clip[1, 0], torch.from_numpy(photo[::-1, :, 0].copy()).float() / 255)
    assert torch.equal(to_clip_tensor(torch.from_numpy(frames)), clip)


@pytest.mark.parametrize("train", [True, False])
def test_output_shape_dtype_range(photo, train):
    frames = np.stack([photo] * 4)
    clip = clip_transform(112, train)(frames)
    assert type(clip) is torch.Tensor  # a plain tensor, not a tv_tensors subclass
    assert clip.shape == (4, 3, 112, 112) and clip.dtype == torch.float32
    assert 0.0 <= float(clip.min()) and float(clip.max()) <= 1.0
    assert clip.is_contiguous()


def test_identical_frames_stay_identical(photo):
    torch.manual_seed(0)
    transform = clip_transform(64, train=True)
    for _ in range(5):
        clip = transform(np.stack([photo] * 6))
        assert all(torch.equal(clip[0], clip[t]) for t in range(1, 6))


def test_same_crop_and_flip_on_every_frame(photo):
    # Resizing is linear, so frame t - frame 0 stays the constant t * step / 255 only if every
    # frame got the same crop and the same flip.
    step = 10
    frames = _brightness_clip(photo, 5, step)
    torch.manual_seed(1)
    transform = clip_transform(64, train=True, scale=(0.05, 0.3))
    for _ in range(8):
        clip = transform(frames)  # 5 x 3 x 64 x 64
        for t in range(1, 5):
            diff = clip[t] - clip[0]
            assert torch.allclose(diff, torch.full_like(diff, t * step / 255), atol=2.5 / 255)


def test_calls_are_independent(photo):
    torch.manual_seed(0)
    transform = clip_transform(64, train=True)
    frames = np.stack([photo] * 2)
    outs = [transform(frames) for _ in range(4)]
    assert all(not torch.equal(outs[0], o) for o in outs[1:])
    torch.manual_seed(0)
    assert torch.equal(transform(frames), outs[0])  # randomness is torch's global generator


def test_flip_only_when_asked(photo):
    frames = np.stack([photo] * 2)
    full = {"scale": (1.0, 1.0), "ratio": (451 / 300, 451 / 300)}  # crop = whole frame
    no_flip = clip_transform(48, True, flip=False, **full)
    ref = no_flip(frames)
    torch.manual_seed(0)
    assert all(torch.equal(no_flip(frames), ref) for _ in range(6))
    with_flip = clip_transform(48, True, **full)
    seen = {torch.equal(with_flip(frames), ref) for _ in range(12)}
    assert seen == {True, False}  # flipped sometimes, never anything else


def test_test_mode_is_resize_short_side_then_centre_crop(photo):
    frames = np.stack([photo, photo])
    transform = clip_transform(112, train=False)
    assert transform.resize == 128 and clip_transform(224, False).resize == 256
    clip = transform(frames)
    image = torch.from_numpy(photo).permute(2, 0, 1)  # 3 x H x W
    ref = TF.center_crop(TF.resize(image, 128, antialias=True), [112, 112]).float() / 255
    assert torch.allclose(clip[0], ref, atol=1e-6) and torch.equal(clip[0], clip[1])
    torch.manual_seed(5)
    assert torch.equal(transform(frames), clip)  # deterministic


def test_non_square_size_and_bad_input(photo):
    assert clip_transform((96, 128), True)(np.stack([photo])).shape == (1, 3, 96, 128)
    with pytest.raises(ValueError, match="resize"):
        clip_transform(112, False, resize=100)
    with pytest.raises(ValueError, match="T x H x W x 3"):
        clip_transform(32, True)(photo)  # a single H x W x 3 image


def test_picklable_for_workers():
    transform = clip_transform(32, True, scale=(0.5, 1.0))
    clone = pickle.loads(pickle.dumps(transform))
    assert isinstance(clone, ClipTransform) and repr(clone) == repr(transform)
    assert "scale=(0.5, 1.0)" in repr(transform)


@pytest.mark.parametrize("flip", [True, False])
def test_train_path_gives_the_pixels_of_the_v2_pipeline(photo, flip):
    """The direct train path (crop view -> one uint8 resize -> flip -> float) draws the same
    random numbers as ``v2.Compose`` and gives bit-identical clips, for frames from a numpy
    buffer (channels-last views, as decoders give them) and from a torch tensor."""
    frames = _brightness_clip(photo, 4, 9)  # 4 x 300 x 451 x 3
    transform = clip_transform(112, train=True, flip=flip)
    for seed in range(12):
        torch.manual_seed(seed)
        fast = transform(frames)
        after_fast = torch.rand(1)  # the generator advanced by the same draws
        torch.manual_seed(seed)
        ref = transform.pipeline(tv_tensors.Video(torch.from_numpy(frames).permute(0, 3, 1, 2)))
        assert torch.rand(1) == after_fast
        assert torch.equal(fast, ref.as_subclass(torch.Tensor)), f"seed {seed}"
        assert fast.is_contiguous() and fast.dtype == torch.float32

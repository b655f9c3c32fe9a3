"""Clip transforms: decoded uint8 frames -> float clips for the student and the teachers.

A clip is augmented as one ``T x 3 x H x W`` tensor with ``torchvision.transforms.v2``, which
draws one set of random parameters per call: every frame of a clip gets the same crop and the
same flip (the paper, Sec. 3.1: "random cropping the T images of a sparse image sequence").
Two views of a pair are two separate calls, so they are augmented independently.

Speed (``dtgkit bench loader``): the training transform crops the decoded uint8 frames before
its one resize per clip (a view of decord's ``T x H x W x 3`` buffer, which is channels-last, so
torch's uint8 antialiased resize runs on it without a copy), flips the 112 px result, and turns
it into a contiguous float clip in one conversion. It calls the v2 functionals directly with
the parameters ``v2.RandomResizedCrop`` / ``v2.RandomHorizontalFlip`` draw, in their order:
the same random numbers and the same pixels as the ``v2.Compose`` pipeline (a test checks it),
without its per-call dispatch, which costs more than the resize on a 112 px clip.

Outputs are float32 in [0, 1] and are NOT normalised: every network (student or teacher)
applies its own mean / std inside its forward (see the shared contracts).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

# MoCo-v2's crop range; the paper only says "random cropping". Aspect ratio as torchvision.
DEFAULT_SCALE: tuple[float, float] = (0.2, 1.0)
DEFAULT_RATIO: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0)
# Test-time short side = size * 8/7 (TSN / mmaction2: resize to 256, centre crop 224; 128 -> 112).
TEST_RESIZE_RATIO = 8.0 / 7.0
FLIP_P = 0.5  # horizontal flip probability in training


def _as_video(frames: np.ndarray | torch.Tensor) -> tv_tensors.Video:
    """uint8 frames T x H x W x 3 (numpy or torch) -> tv_tensors.Video T x 3 x H x W."""
    clip = (
        torch.from_numpy(np.ascontiguousarray(frames)) if isinstance(frames, np.ndarray) else frames
    )
    if clip.ndim != 4 or clip.shape[-1] != 3:
        raise ValueError(f"expected frames T x H x W x 3, got shape {tuple(clip.shape)}")
    return tv_tensors.Video(clip.permute(0, 3, 1, 2))  # T x 3 x H x W


def to_clip_tensor(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Converts decoded frames to a float clip without resizing or augmenting.

    Args:
        frames: uint8 RGB frames, T x H x W x 3 (numpy array or tensor).

    Returns:
        float32 tensor T x 3 x H x W in [0, 1].
    """
    clip = _as_video(frames).as_subclass(torch.Tensor)  # T x 3 x H x W uint8
    return clip.to(torch.float32).div_(255.0).contiguous()


class ClipTransform:
    """Frames -> clip, with the same random crop and flip on every frame of the clip.

    Build it with :func:`clip_transform`. Picklable, so it works in DataLoader workers started
    with either fork or spawn. Randomness comes from torch's global CPU generator;
    :class:`dtgkit.data.datasets.ClipDataset` seeds it per sample, which makes the crops
    reproducible and independent of the number of workers.
    """

    def __init__(
        self,
        size: int | tuple[int, int],
        train: bool,
        *,
        scale: tuple[float, float] = DEFAULT_SCALE,
        ratio: tuple[float, float] = DEFAULT_RATIO,
        flip: bool = True,
        resize: int | None = None,
    ) -> None:
        self.size = size
        self.train = bool(train)
        self.scale = tuple(scale)
        self.ratio = tuple(ratio)
        self.flip = bool(flip)
        min_side = min(size) if isinstance(size, Sequence) else int(size)
        self.resize = int(resize) if resize is not None else round(min_side * TEST_RESIZE_RATIO)
        if self.resize < min_side:
            raise ValueError(f"resize ({self.resize}) must be >= the crop size ({size})")
        if self.train:
            self._crop = v2.RandomResizedCrop(size, scale=self.scale, ratio=self.ratio,
                                              antialias=True)
            ops: list[v2.Transform] = [self._crop]
            if self.flip:
                ops.append(v2.RandomHorizontalFlip(p=FLIP_P))
        else:
            ops = [v2.Resize(self.resize, antialias=True), v2.CenterCrop(size)]
        ops.append(v2.ToDtype(torch.float32, scale=True))
        #: the same transform as one v2 pipeline (the reference of the direct train path)
        self.pipeline = v2.Compose(ops)

    def __call__(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Applies the transform.

        Args:
            frames: uint8 RGB frames, T x H x W x 3 (numpy array or tensor).

        Returns:
            float32 tensor T x 3 x S x S in [0, 1] (S x S is ``size``).
        """
        if not self.train:
            clip = self.pipeline(_as_video(frames))  # T x 3 x S x S float32
            return clip.as_subclass(torch.Tensor).contiguous()
        video = _as_video(frames).as_subclass(torch.Tensor)  # T x 3 x H x W uint8, a view
        box = self._crop.make_params([video])  # the draws of v2.RandomResizedCrop
        clip = TF.resized_crop(video, **box, size=self._crop.size,
                               antialias=True)  # T x 3 x S x S uint8: crop (a view), one resize
        if self.flip and torch.rand(1) < FLIP_P:  # v2.RandomHorizontalFlip's draw
            clip = clip.flip(-1)
        # ToDtype(scale=True) is .to(float32).mul_(1 / 255); one pass to a contiguous layout
        return clip.to(torch.float32, memory_format=torch.contiguous_format).mul_(1.0 / 255)

    def __repr__(self) -> str:
        if self.train:
            ratio = f"({self.ratio[0]:.3f}, {self.ratio[1]:.3f})"
            extra = f"scale={self.scale}, ratio={ratio}, flip={self.flip}"
        else:
            extra = f"resize={self.resize}"
        return f"ClipTransform(size={self.size}, train={self.train}, {extra})"


def clip_transform(
    size: int | tuple[int, int],
    train: bool,
    *,
    scale: tuple[float, float] = DEFAULT_SCALE,
    ratio: tuple[float, float] = DEFAULT_RATIO,
    flip: bool = True,
    resize: int | None = None,
) -> ClipTransform:
    """Standard clip transform for training or testing.

    Train: one ``RandomResizedCrop(size, scale, ratio)`` and (if ``flip``) one random horizontal
    flip shared by all frames of the clip. Test: resize the short side to ``resize``, then a
    centre crop of ``size``. Both end in float32 [0, 1]; no normalisation.

    Args:
        size: output side S (or (H, W)).
        train: random crop + flip when True, resize + centre crop when False.
        scale: area range of the random crop, relative to the frame; default (0.2, 1.0) as in
            MoCo v2 (the paper does not give it).
        ratio: aspect-ratio range of the random crop; default (3/4, 4/3).
        flip: random horizontal flip (p = 0.5) in training.
        resize: test-time short side; default ``round(S * 8 / 7)`` (256 for 224, 128 for 112).

    Returns:
        A callable: uint8 frames T x H x W x 3 -> float32 clip T x 3 x S x S.
    """
    return ClipTransform(size, train, scale=scale, ratio=ratio, flip=flip, resize=resize)

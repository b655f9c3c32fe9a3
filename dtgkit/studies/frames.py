"""Per-frame data of a split for the small studies (Figure 2 on real features, queue dynamics):
what a student sees of each frame (pixel thumbnails) and a real teacher's feature of each frame,
read from a teacher feature cache.

:func:`torch_threads` runs the studies' small matrix products on one thread (faster than two
busy ones, and independent of the machine's thread count).
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from dtgkit.data.splits import load_ucf101
from dtgkit.data.video import open_video
from dtgkit.models.teacher_cache import CachedGuidance, cache_teacher_features, center_crop_resize

__all__ = ["FrameData", "load_frame_data", "torch_threads"]


@contextlib.contextmanager
def torch_threads(n: int = 1) -> Iterator[None]:
    """Run torch and numpy's BLAS on ``n`` threads inside the block, then restore them.

    The fits here multiply matrices of a few dozen rows: thread start-up and spinning cost
    more than they save (measured on 2 busy cores: 1 thread is 7-13x faster than 2).
    """
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(n):
            yield
    finally:
        torch.set_num_threads(old)


@dataclass
class FrameData:
    """Per-frame student inputs and teacher features of V videos (for the demos on real data).

    Attributes:
        student_frames: V x F x D_in float32, what the student sees of each frame (a
            flattened ``thumb_size`` RGB thumbnail).
        guidance_frames: V x F x D float32, the teacher's per-frame features (unnormalised).
        labels: V int64; video_ids: V int64 (0..V-1); train_mask: V bool.
        frame_indices: F int, the video frames the F rows come from.
        teacher: the teacher spec; class_names: list of names; paths: V video paths.
    """

    student_frames: np.ndarray
    guidance_frames: np.ndarray
    labels: np.ndarray
    video_ids: np.ndarray
    train_mask: np.ndarray
    frame_indices: np.ndarray
    teacher: str
    class_names: list[str]
    paths: list[str]

    @property
    def num_frames(self) -> int:
        return self.student_frames.shape[1]

    def subset(self, mask: np.ndarray) -> FrameData:
        """The videos where ``mask`` is True."""
        m = np.asarray(mask, dtype=bool)
        return replace(self, student_frames=self.student_frames[m],
                       guidance_frames=self.guidance_frames[m], labels=self.labels[m],
                       video_ids=self.video_ids[m], train_mask=self.train_mask[m],
                       paths=[p for p, keep in zip(self.paths, m) if keep])


def _thumbnails(path: str, indices: np.ndarray, size: int, backend: str) -> np.ndarray:
    with open_video(path, backend=backend) as reader:
        frames = reader.get_frames(indices)  # F x H x W x 3 uint8
    thumbs = center_crop_resize(frames, size)  # F x 3 x s x s in [0, 1]
    return thumbs.flatten(1).numpy().astype(np.float32)  # F x 3*s*s


def load_frame_data(
    video_root: str | os.PathLike,
    split_dir: str | os.PathLike,
    cache_dir: str | os.PathLike,
    *,
    teacher: str = "imagenet-efficientnet-lite0#size=112",
    frame_stride: int = 2,
    thumb_size: int = 16,
    split: int = 1,
    backend: str = "decord",
    progress: bool = False,
) -> FrameData:
    """Per-frame thumbnails and teacher features of a UCF101-layout split (train + test).

    The teacher features come from a teacher cache (:func:`dtgkit.models.teacher_cache.
    cache_teacher_features` into ``cache_dir``; an existing complete cache is re-used, so only
    the first call pays for the teacher). Every ``frame_stride``-th frame is used; all videos
    are cut to the shortest one's frame count.

    Args:
        video_root: the ``videos/`` folder; split_dir: ``classInd.txt``, ``trainlist0N.txt`` ...
        cache_dir: where the teacher cache lives (created).
        teacher: teacher spec (default the real ImageNet EfficientNet-Lite0 at 112 px).
        frame_stride: use frames 0, s, 2s, ... (the cache stores only those).
        thumb_size: side of the student's RGB thumbnails (D_in = 3 * thumb_size**2).
        split: split number.
        backend: ``open_video`` backend.
        progress: tqdm bars while caching.

    Returns:
        :class:`FrameData` (train videos first).
    """
    root = Path(video_root).resolve()
    train, class_names = load_ucf101(root, split_dir, split, "train")
    test, _ = load_ucf101(root, split_dir, split, "test")
    records = list(train) + list(test)
    keys = [Path(r.path).resolve().relative_to(root).as_posix() for r in records]
    with torch_threads(1):  # small batches on a busy CPU: one thread is several times faster
        info = cache_teacher_features(root, [teacher], cache_dir, videos=keys,
                                      frame_stride=frame_stride, progress=progress)
    if info["skips"]:
        raise ValueError(f"videos could not be decoded: {info['skips']}")
    cache = CachedGuidance(cache_dir, [teacher], root=root)
    index = cache.index[0]
    num_frames = min(int(index["videos"][k][1]) for k in keys)
    frame_idx = np.arange(0, num_frames, frame_stride)  # F
    guid = np.stack([np.asarray(cache.arrays[0][cache.rows(0, k, frame_idx)], np.float32)
                     for k in keys])  # V x F x D
    thumbs = np.stack([_thumbnails(r.path, frame_idx, thumb_size, backend)
                       for r in records])  # V x F x D_in
    return FrameData(thumbs, guid, np.array([r.label for r in records], dtype=np.int64),
                     np.arange(len(records), dtype=np.int64),
                     np.arange(len(records)) < len(train), frame_idx, teacher,
                     list(class_names), [r.path for r in records])

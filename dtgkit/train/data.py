"""Datasets and loaders of a run, built from :class:`~dtgkit.config.DataConfig`.

* ``data.dataset``: ``synth`` (SynthActions in UCF101 layout: ``root/videos`` + ``root/splits``;
  an empty ``root`` means the committed sample, :func:`dtgkit.data.synth.sample_root`),
  ``ucf101`` / ``hmdb51`` (videos under ``root``, official split files in ``split_dir``,
  default ``root/splits``), ``list`` (``train_list`` / ``test_list``, paths relative to
  ``root``), ``folders`` (``root/train/<class>/*`` and ``root/test/<class>/*``, or ``root/<class>``
  for training only).
* ``data.fraction`` < 1 keeps that fraction of the training videos of every class (seeded by
  ``run.seed``; the data-efficiency study).
* :class:`MultiClipDataset` gives ``test_clips`` clips per video for video-level testing.
* ``data.clip_cache`` (a folder; empty = off, the default): every video of both splits is
  decoded once, at the test-time resize of ``data.size``, into a memory-mapped uint8 clip cache
  (:mod:`dtgkit.data.clip_cache`, built by the first dataset that needs it, re-used after), and
  every dataset reads its frames from there (:func:`clip_cache_dir`).
"""
from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from dtgkit.config import Config, DataConfig
from dtgkit.data.datasets import (
    ClipDataset,
    PairDataset,
    VideoRecord,
    load_records,
    load_ucf101,
    read_skip_log,
)
from dtgkit.data.synth import sample_root
from dtgkit.data.transforms import clip_transform

__all__ = [
    "MultiClipDataset",
    "clip_cache_dir",
    "data_report",
    "eval_clip_dataset",
    "eval_loader",
    "group_ids",
    "load_split",
    "pair_dataset",
    "subsample_records",
    "train_clip_dataset",
    "video_root",
]


def _split_dir(d: DataConfig, root: Path) -> Path:
    return Path(d.split_dir).expanduser() if d.split_dir else root / "splits"


def load_split(d: DataConfig, subset: str) -> tuple[list[VideoRecord], list[str] | None]:
    """Records and class names of the training or test subset described by ``d``.

    Raises:
        FileNotFoundError / ValueError: naming the missing folder, file or config key.
    """
    kind = d.dataset
    if kind == "synth":
        root = Path(d.root).expanduser() if d.root else sample_root()
        if not (root / "videos").is_dir():
            raise FileNotFoundError(f"data.root={str(root)!r} holds no SynthActions videos/ folder; "
                                    f"make one with `dtgkit synth {root}`")
        return load_ucf101(root / "videos", _split_dir(d, root), d.split, subset)
    root = Path(d.root).expanduser()
    if not d.root:
        raise ValueError(f"data.root is empty: set it to the {kind} video folder")
    if kind in ("ucf101", "hmdb51"):
        return load_records(kind, root, _split_dir(d, root), split=d.split, subset=subset)
    if kind == "list":
        lst = d.train_list if subset == "train" else d.test_list
        if not lst:
            raise ValueError(f"data.{subset}_list is empty: dataset 'list' needs one")
        return load_records("list", root, lst)
    if kind == "folders":
        sub = root / subset
        if sub.is_dir():
            return load_records("folders", sub)
        if subset == "train":
            return load_records("folders", root)
        raise FileNotFoundError(f"no test folder {sub} (dataset 'folders' expects root/train and root/test)")
    raise ValueError(f"data.dataset={kind!r} is not one of synth, ucf101, hmdb51, list, folders")


def num_classes_of(records: list[VideoRecord], class_names: list[str] | None) -> int:
    """C: the class list's length, else the largest label + 1."""
    if class_names:
        return len(class_names)
    labels = [r.label for r in records if r.label >= 0]
    if not labels:
        raise ValueError("the training split carries no labels")
    return max(labels) + 1


def subsample_records(records: list[VideoRecord], fraction: float, seed: int) -> list[VideoRecord]:
    """Keep ``ceil(fraction * n_c)`` random videos of each class c (order kept)."""
    if fraction >= 1.0:
        return list(records)
    rng = np.random.default_rng([int(seed), 7])
    by_class: dict[int, list[int]] = {}
    for i, r in enumerate(records):
        by_class.setdefault(r.label, []).append(i)
    keep: list[int] = []
    for _, idx in sorted(by_class.items()):
        n = max(1, math.ceil(fraction * len(idx)))
        keep += list(rng.choice(idx, size=n, replace=False))
    return [records[i] for i in sorted(keep)]


def group_ids(records: list[VideoRecord]) -> torch.Tensor:
    """Integer group of each record (UCF101 ``g08`` -> 8 plus 1000 x label so that groups of
    different classes differ; -1 when unknown), long (len,)."""
    out = []
    for r in records:
        m = re.search(r"(\d+)", r.group or "")
        out.append(int(m.group(1)) + 1000 * max(r.label, 0) if m else -1)
    return torch.tensor(out, dtype=torch.long)


class MultiClipDataset(ClipDataset):
    """``num_clips`` evenly shifted TSN clips per video, stacked: ``num_clips x T x 3 x H x W``.

    Clip c of a video of N frames takes, in each of the T segments of length N / T, the frame at
    ``(c + 0.5) / num_clips`` of the segment; with one clip this is TSN's test sampling (segment
    centres). Deterministic; scores are averaged over clips by
    :func:`dtgkit.train.evaluate.predict_scores`.
    """

    def __init__(self, records, num_segments: int, num_clips: int = 1, **kw) -> None:
        super().__init__(records, num_segments, train=False, **kw)
        if num_clips < 1:
            raise ValueError(f"num_clips must be >= 1, got {num_clips}")
        self.num_clips = int(num_clips)

    def frame_indices(self, num_frames: int, rng: np.random.Generator) -> np.ndarray:
        if self.sampling != "tsn":
            return super().frame_indices(num_frames, rng)
        avg = num_frames / self.num_segments
        shifts = (np.arange(self.num_clips) + 0.5) / self.num_clips  # num_clips
        idx = np.arange(self.num_segments)[None, :] * avg + avg * shifts[:, None]  # clips x T
        return np.minimum(idx.astype(np.int64), num_frames - 1).reshape(-1)

    def _load(self, index: int):
        clip, label, idx = super()._load(index)  # (clips * T) x 3 x H x W
        if self.sampling == "tsn":
            clip = clip.view(self.num_clips, self.num_segments, *clip.shape[1:])  # clips x T x 3 x H x W
        else:
            clip = clip.unsqueeze(0)  # 1 x T x 3 x H x W
        return clip, label, idx


def video_root(d: DataConfig) -> Path:
    """The folder cache keys (clip cache, teacher feature cache) are relative to: ``root/videos``
    of a SynthActions set (the committed sample when ``root`` is empty), else ``root``."""
    if d.dataset == "synth":
        return (Path(d.root).expanduser() if d.root else sample_root()) / "videos"
    return Path(d.root).expanduser()


def clip_cache_dir(cfg: Config) -> str | None:
    """``data.clip_cache`` once it holds every video of both splits at the test-time resize of
    ``data.size`` (built here on first use: on the main process, the others wait), or None when
    the option is off."""
    d = cfg.data
    if not d.clip_cache:
        return None
    from dtgkit.data.clip_cache import cache_key, cache_matches, ensure_clip_cache
    from dtgkit.train import distributed as D

    records, _ = load_split(d, "train")
    try:
        records = records + load_split(d, "test")[0]
    except (FileNotFoundError, ValueError):  # a training-only data set
        pass
    root, paths = video_root(d), [r.path for r in records]
    size = clip_transform(d.size, False).resize
    if not cache_matches(d.clip_cache, root, size, [cache_key(p, root) for p in paths]):
        if D.is_main_process():
            ensure_clip_cache(d.clip_cache, root, paths, size, backend=d.backend,
                              workers=max(0, d.num_workers), progress=cfg.run.progress,
                              say=lambda msg: print(msg, file=sys.stderr, flush=True))
        D.barrier()
    return d.clip_cache


def pair_dataset(cfg: Config, records: list[VideoRecord], *, cached_guidance: bool = False,
                 log_dir: str | Path | None = None) -> PairDataset:
    """The two-view training set of self-supervised / supervised DTG (random crops, flips).
    ``cached_guidance``: the guidance features come from a teacher feature cache, so each sample
    carries the guidance view's frame indices instead of its pixels (which are then neither read
    from a clip cache nor augmented; :class:`~dtgkit.data.datasets.PairDataset`'s
    ``return_indices`` / ``guidance_pixels``). ``log_dir``: where every process logs skipped and
    short videos (:func:`data_report`)."""
    d = cfg.data
    return PairDataset(records, d.num_segments, d.pair_mode,
                       transform_anchor=clip_transform(d.size, True),
                       transform_guidance=clip_transform(d.size, True), backend=d.backend,
                       seed=cfg.run.seed, train=True, return_indices=cached_guidance,
                       guidance_pixels=not cached_guidance, skip_log_dir=log_dir,
                       clip_cache=clip_cache_dir(cfg))


def train_clip_dataset(cfg: Config, records: list[VideoRecord], *,
                       log_dir: str | Path | None = None) -> ClipDataset:
    """One augmented TSN clip per video (fine-tuning, plain supervised training)."""
    d = cfg.data
    return ClipDataset(records, d.num_segments, train=True, transform=clip_transform(d.size, True),
                       backend=d.backend, seed=cfg.run.seed, skip_log_dir=log_dir,
                       clip_cache=clip_cache_dir(cfg))


def eval_clip_dataset(cfg: Config, records: list[VideoRecord], num_clips: int = 1, *,
                      log_dir: str | Path | None = None) -> MultiClipDataset:
    """Deterministic test-time clips (resize + centre crop), ``num_clips`` per video."""
    d = cfg.data
    return MultiClipDataset(records, d.num_segments, num_clips, transform=clip_transform(d.size, False),
                            backend=d.backend, seed=cfg.run.seed, skip_log_dir=log_dir,
                       clip_cache=clip_cache_dir(cfg))


def data_report(log_dir: str | Path) -> dict[str, dict[str, str]]:
    """What a run's datasets logged under ``log_dir`` (every process, every stage):
    ``{"skipped_videos": {path: reason}, "short_videos": {path: reason}}`` (results.json)."""
    return {"skipped_videos": read_skip_log(log_dir, "skips"),
            "short_videos": read_skip_log(log_dir, "short")}


def eval_loader(cfg: Config, dataset, batch_size: int | None = None) -> DataLoader:
    """A sequential loader for feature extraction / testing."""
    pin = torch.cuda.is_available() and cfg.run.device != "cpu"
    return DataLoader(dataset, batch_size=batch_size or cfg.pretrain.batch_size, shuffle=False,
                      num_workers=cfg.data.num_workers, pin_memory=pin)

"""Video datasets: the clip / pair datasets that feed the networks.

Their input is a list of :class:`~dtgkit.data.splits.VideoRecord` from the split-file readers
of :mod:`dtgkit.data.splits` (UCF101, HMDB51, mmaction2 lists, class folders; re-exported
here).

Datasets decode frames with :func:`dtgkit.data.video.open_video`, pick frame indices with
:mod:`dtgkit.data.sampling` and augment with a clip transform (:mod:`dtgkit.data.transforms`):

* :class:`ClipDataset` -> ``(clip T x 3 x H x W, label, index)`` (fine-tuning, evaluation).
* :class:`PairDataset` -> ``(anchor, guidance, index, label)`` -- the two views of one video
  that form DTG-Net's positive pair (paper Sec. 3.1); ``label`` is -1 for unlabeled records.

Randomness: every sample draws from generators derived from ``(seed, epoch, index)``, so a
sample is the same whatever the number of DataLoader workers; call ``set_epoch`` each epoch.
Undecodable videos are skipped (see :class:`VideoDatasetBase`).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from dtgkit.data.clip_cache import ClipCacheReader
from dtgkit.data.sampling import PAIR_MODES, dense_indices, tsn_indices, two_view_indices
from dtgkit.data.splits import (  # re-exported: the records the datasets read
    MISSING_POLICIES,
    VideoRecord,
    load_class_folders,
    load_hmdb51,
    load_list_file,
    load_records,
    load_ucf101,
    parse_group,
    read_class_index,
)
from dtgkit.data.transforms import to_clip_tensor
from dtgkit.data.video import VideoDecodeError, VideoReader, open_video

logger = logging.getLogger(__name__)

__all__ = [
    "MISSING_POLICIES", "ClipDataset", "PairDataset", "VideoDatasetBase", "VideoRecord",
    "load_class_folders", "load_hmdb51", "load_list_file", "load_records", "load_ucf101",
    "parse_group", "read_class_index", "read_skip_log",
]

#: videos a dataset keeps open per process (see :class:`VideoDatasetBase`); an open decord
#: reader holds ~1.5 MiB for a 112 px video, ~5 MiB at 640 x 272, ~24 MiB at 1280 x 720
OPEN_READERS = 16

# --------------------------------------------------------------------------- datasets


class _BadVideo(Exception):
    """A video that opened but cannot give the requested frames."""


def read_skip_log(log_dir: str | Path, kind: str = "skips") -> dict[str, str]:
    """What datasets of every process logged under ``log_dir``: path -> reason, for
    ``kind="skips"`` (undecodable videos, skipped) or ``kind="short"`` (videos holding fewer
    frames than they declare, used with the frames they have)."""
    report: dict[str, str] = {}
    for log in sorted(Path(log_dir).glob(f"{kind}-*.tsv")):
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            fields = line.split("\t")
            if len(fields) == 4:
                report[fields[2]] = fields[3]
    return report


class VideoDatasetBase(Dataset):
    """Shared machinery of :class:`ClipDataset` and :class:`PairDataset`.

    Randomness: sample ``index`` of epoch ``e`` uses ``SeedSequence([seed, e, index])``: one
    child for frame indices (numpy), one for the augmentation (torch's CPU generator, seeded
    for the call and restored afterwards). Results do not depend on worker count or order.
    The epoch lives in shared memory, so ``set_epoch`` reaches persistent workers too.

    Bad videos: when decoding raises :class:`~dtgkit.data.video.VideoDecodeError` (or an
    OSError), the dataset records ``.skips[path] = reason``, warns once per file per process
    and returns the next index instead (so the returned index and label are those of the video
    actually loaded). After ``max_retries`` consecutive failures it raises RuntimeError.
    Short videos (fewer frames than the container declares: a truncated file; or fewer that
    decode than it has packets) are used with the frames they have, and recorded in
    ``.short[path] = reason`` with one warning per file per process.
    ``.skips`` and ``.short`` live in the process that decoded: with DataLoader workers the
    main process's copies stay empty. Give ``skip_log_dir`` to have every process append to
    ``skip_log_dir/skips-<pid>.tsv`` and ``short-<pid>.tsv``; :meth:`skip_report` and
    :meth:`short_report` merge them.

    Open videos: each process (the main one, or a DataLoader worker) keeps its last
    ``open_readers`` readers open (least recently used closed first), so a video met again is
    read by seeking in it, not by opening it again (decord re-reads the container's index and
    decodes a frame on every open). It pays off when videos come back to the same worker
    (small sets, several clips per video, persistent workers across epochs); on a large
    shuffled set it rarely hits and costs nothing. The readers never cross a process boundary
    (a forked worker starts with none; pickling drops them). ``open_readers=0`` opens per item.
    """

    def __init__(
        self,
        records: Sequence[VideoRecord],
        *,
        backend: str = "decord",
        seed: int = 0,
        max_retries: int = 50,
        skip_log_dir: str | Path | None = None,
        reader_options: dict | None = None,
        open_readers: int = OPEN_READERS,
        clip_cache: str | os.PathLike | None = None,
    ) -> None:
        if len(records) == 0:
            raise ValueError("the dataset has no records")
        if int(seed) < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.records = list(records)
        self.backend = backend
        self.reader_options = dict(reader_options or {})
        self.clip_cache = os.fspath(clip_cache) if clip_cache else None
        self.seed = int(seed)
        self.max_retries = int(max_retries)
        self.skip_log_dir = Path(skip_log_dir) if skip_log_dir is not None else None
        self.skips: dict[str, str] = {}
        self.short: dict[str, str] = {}
        self._warned: set[str] = set()
        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()
        self.open_readers = max(0, int(open_readers))
        self._readers: OrderedDict[int, VideoReader] = OrderedDict()  # record index -> reader
        self._readers_pid = os.getpid()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_readers"] = OrderedDict()  # open files stay in the process that opened them
        return state

    def close_readers(self) -> None:
        """Close the videos this process keeps open (they reopen on demand)."""
        while self._readers:
            self._readers.popitem()[1].close()

    @contextmanager
    def _reader(self, index: int) -> Iterator[VideoReader]:
        """The open reader of record ``index``: this process's kept one, or a new one, kept
        afterwards (LRU of ``open_readers``); a reader that raised is closed, not kept."""
        if self._readers_pid != os.getpid():  # a forked worker: the parent's readers stay its
            self._readers, self._readers_pid = OrderedDict(), os.getpid()
        reader = self._readers.pop(index, None) or self._open(index)
        try:
            yield reader
        except BaseException:
            reader.close()
            raise
        self._note_short(index, reader)  # a read may have found an undecodable tail
        if self.open_readers == 0:
            reader.close()
            return
        self._readers[index] = reader  # most recently used last
        while len(self._readers) > self.open_readers:
            self._readers.popitem(last=False)[1].close()

    def __len__(self) -> int:
        return len(self.records)

    def _describe(self) -> str:
        return ""

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({len(self)} videos, {self._describe()}"
            f"backend={self.backend!r}, seed={self.seed}, epoch={self.epoch})"
        )

    @property
    def labels(self) -> np.ndarray:
        """Labels of all records, int64 (len,); -1 where unlabeled."""
        return np.array([r.label for r in self.records], dtype=np.int64)

    @property
    def epoch(self) -> int:
        return int(self._epoch)

    def set_epoch(self, epoch: int) -> None:
        """Selects the epoch whose random draws ``__getitem__`` uses."""
        self._epoch.fill_(int(epoch))

    def _seeds(self, index: int, epoch: int | None = None) -> tuple[np.random.Generator, int]:
        """(numpy generator for frame indices, torch seed for augmentation) of one sample."""
        ss = np.random.SeedSequence([self.seed, self.epoch if epoch is None else int(epoch), index])
        idx_ss, aug_ss = ss.spawn(2)
        return np.random.default_rng(idx_ss), int(aug_ss.generate_state(1, np.uint64)[0])

    @staticmethod
    def _augment(
        jobs: Sequence[tuple[Callable | None, np.ndarray]], torch_seed: int
    ) -> list[torch.Tensor]:
        """Applies each (transform, frames) in order under a seeded, then restored, CPU RNG,
        on one intra-op thread (then restored).

        One clip's ops are small (a crop, one resize, a conversion of ~1 MB): spread over
        several threads each op pays the threads' wake-up, and on a busy machine waits for a
        descheduled one. Measured with a 0-worker loader (T 8, 112 px) on the shared 2-core
        machine: 25-50 % faster on one thread; the augmentation's small ops took 83 ms per clip
        on two threads against 4.5 ms on one. DataLoader workers already run on one thread; the
        pixels do not depend on the thread count (elementwise ops and a resize whose outputs
        are computed independently; tested).
        """
        state = torch.get_rng_state()
        threads = torch.get_num_threads()
        torch.default_generator.manual_seed(torch_seed)  # CPU only: CUDA RNG untouched
        if threads > 1:
            torch.set_num_threads(1)
        try:
            return [(t or to_clip_tensor)(frames) for t, frames in jobs]
        finally:
            torch.set_rng_state(state)
            if threads > 1:
                torch.set_num_threads(threads)

    @staticmethod
    def _read_frames(reader, indices: np.ndarray) -> np.ndarray:
        """Frames at ``indices`` (repeats allowed), uint8 len(indices) x H x W x 3."""
        unique, inverse = np.unique(indices, return_inverse=True)
        frames = reader.get_frames(unique)  # U x H x W x 3
        if frames.ndim != 4 or len(frames) != len(unique):
            raise _BadVideo(f"asked for {len(unique)} frames, got shape {tuple(frames.shape)}")
        if len(unique) == len(indices) and (unique == indices).all():
            return frames  # sorted, no repeats (TSN on a long enough video): no copy
        return frames[inverse.reshape(-1)]

    def _num_frames(self, reader) -> int:
        if reader.num_frames < 1:
            raise _BadVideo("the video reports no frames")
        return int(reader.num_frames)

    def _open(self, index: int):
        path = self.records[index].path
        if self.clip_cache:  # frames decoded once, at the cache's size
            reader = ClipCacheReader(path, self.clip_cache)
        else:
            reader = open_video(path, backend=self.backend, **self.reader_options)
        self._note_short(index, reader)
        return reader

    def _note_short(self, index: int, reader: VideoReader) -> None:
        """Record a short video once, whether found on open or while reading."""
        short = reader.short_reason
        if short and reader.path not in self.short:
            self._record_short(index, short)

    def _load(self, index: int) -> tuple:
        raise NotImplementedError

    def __getitem__(self, index: int) -> tuple:
        n, index = len(self), int(index)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {n} records")
        index %= n
        last = ""
        attempts = min(self.max_retries, n)
        for step in range(attempts):
            i = (index + step) % n
            try:
                return self._load(i)
            except (VideoDecodeError, OSError, _BadVideo) as err:
                last = f"{type(err).__name__}: {err}"
                self._record_skip(i, last)
        raise RuntimeError(
            f"{attempts} consecutive videos failed to decode, starting at index {index} "
            f"({self.records[index].path}); last: {last}. Check them with `dtgkit check-videos`."
        )

    def _record_skip(self, index: int, reason: str) -> None:
        path = self.records[index].path
        reason = " ".join(reason.split())  # one line, no tabs
        self.skips[path] = reason
        if path not in self._warned:
            self._warned.add(path)
            warnings.warn(
                f"skipping undecodable video {path}: {reason}", RuntimeWarning, stacklevel=3
            )
        logger.debug("skip %s (index %d, epoch %d): %s", path, index, self.epoch, reason)
        self._log("skips", index, path, reason)

    def _log(self, kind: str, index: int, path: str, reason: str) -> None:
        """Append a line to ``skip_log_dir/<kind>-<pid>.tsv`` (made when first needed)."""
        if self.skip_log_dir is None:
            return
        try:
            self.skip_log_dir.mkdir(parents=True, exist_ok=True)
            with open(self.skip_log_dir / f"{kind}-{os.getpid()}.tsv", "a", encoding="utf-8") as log:
                log.write(f"{self.epoch}\t{index}\t{path}\t{reason}\n")
        except OSError as err:  # a full disk must not turn a good video into a skipped one
            warnings.warn(f"cannot log to {self.skip_log_dir}: {err}", RuntimeWarning, stacklevel=3)

    def _record_short(self, index: int, reason: str) -> None:
        path = self.records[index].path
        self.short[path] = reason = " ".join(reason.split())
        warnings.warn(f"short video {path}: {reason}; using the frames it has", RuntimeWarning,
                      stacklevel=3)
        self._log("short", index, path, reason)

    def skip_report(self) -> dict[str, str]:
        """Skipped videos, path -> reason: this process's ``.skips`` plus the skip log, if any."""
        report = dict(self.skips)
        if self.skip_log_dir is not None:
            report.update(read_skip_log(self.skip_log_dir))
        return report

    def short_report(self) -> dict[str, str]:
        """Short videos (used with the frames they have), path -> reason: this process's
        ``.short`` plus the log, if any."""
        report = dict(self.short)
        if self.skip_log_dir is not None:
            report.update(read_skip_log(self.skip_log_dir, "short"))
        return report


class ClipDataset(VideoDatasetBase):
    """One clip per video: TSN segments or dense clips (fine-tuning, evaluation, features).

    Args:
        records: the videos (from a reader above).
        num_segments: T for TSN sampling; number of dense clips for ``sampling="dense"``.
        train: random frame offsets when True, segment centres when False (mmaction2
            ``SampleFrames``). Only the frame sampling: the transform has its own train flag.
        transform: uint8 T x H x W x 3 -> float T x 3 x S x S, e.g.
            ``clip_transform(112, train=True)``; None converts without resizing.
        backend: video reader, "decord", "pyav", "frames" (folders of extracted frames) or
            "auto" (frames for folders, else decord with a PyAV fallback).
        sampling: "tsn" (one frame per segment) or "dense" (``num_segments`` clips of
            ``clip_len`` frames, ``frame_interval`` apart, concatenated in time: use
            ``num_segments=1`` for a 3D network).
        clip_len: frames per dense clip.
        frame_interval: step between frames of a dense clip.
        seed: base seed of the per-sample generators.
        max_retries: consecutive undecodable videos tolerated before raising.
        skip_log_dir: folder for per-process skip logs (see :class:`VideoDatasetBase`).
        reader_options: extra keyword arguments of :func:`~dtgkit.data.video.open_video`
            (``verify``, frame-folder ``template`` ...).
        open_readers: videos kept open per process (see :class:`VideoDatasetBase`).
        clip_cache: a clip cache folder (:mod:`dtgkit.data.clip_cache`): frames are read from
            it instead of decoding the videos (``backend`` and ``reader_options`` unused).

    ``__getitem__`` returns ``(clip, label, index)``: clip float32 T x 3 x H x W in [0, 1]
    (T = num_segments, or num_segments * clip_len for dense), label int (-1 if unlabeled).
    """

    def __init__(
        self,
        records: Sequence[VideoRecord],
        num_segments: int,
        *,
        train: bool,
        transform: Callable | None = None,
        backend: str = "decord",
        sampling: str = "tsn",
        clip_len: int = 1,
        frame_interval: int = 1,
        seed: int = 0,
        max_retries: int = 50,
        skip_log_dir: str | Path | None = None,
        reader_options: dict | None = None,
        open_readers: int = OPEN_READERS,
        clip_cache: str | os.PathLike | None = None,
    ) -> None:
        super().__init__(
            records,
            backend=backend,
            seed=seed,
            max_retries=max_retries,
            skip_log_dir=skip_log_dir,
            reader_options=reader_options,
            open_readers=open_readers,
            clip_cache=clip_cache,
        )
        if sampling not in ("tsn", "dense"):
            raise ValueError(f"sampling must be 'tsn' or 'dense', got {sampling!r}")
        if num_segments < 1 or clip_len < 1 or frame_interval < 1:
            raise ValueError("num_segments, clip_len and frame_interval must be >= 1")
        self.num_segments = int(num_segments)
        self.train = bool(train)
        self.transform = transform
        self.sampling = sampling
        self.clip_len = int(clip_len)
        self.frame_interval = int(frame_interval)

    def _describe(self) -> str:
        dense = (
            f", clip_len={self.clip_len}, frame_interval={self.frame_interval}"
            if self.sampling == "dense"
            else ""
        )
        return (
            f"num_segments={self.num_segments}, train={self.train}, "
            f"sampling={self.sampling!r}{dense}, "
        )

    def frame_indices(self, num_frames: int, rng: np.random.Generator) -> np.ndarray:
        """Frame indices of one sample, int64 (T,)."""
        if self.sampling == "tsn":
            return np.asarray(tsn_indices(num_frames, self.num_segments, train=self.train, rng=rng))
        clips = dense_indices(
            num_frames,
            self.clip_len,
            self.frame_interval,
            self.num_segments,
            train=self.train,
            rng=rng,
        )  # num_segments x clip_len
        return np.asarray(clips).reshape(-1)

    def sample_indices(self, index: int, epoch: int | None = None) -> np.ndarray:
        """The frame indices ``__getitem__(index)`` uses in ``epoch`` (default: current).

        Opens the video to read its frame count. Returns int64 (T,).
        """
        rng, _ = self._seeds(index, epoch)
        with self._reader(index) as reader:
            return self.frame_indices(self._num_frames(reader), rng)

    def _load(self, index: int) -> tuple[torch.Tensor, int, int]:
        record = self.records[index]
        rng, torch_seed = self._seeds(index)
        with self._reader(index) as reader:
            indices = self.frame_indices(self._num_frames(reader), rng)
            frames = self._read_frames(reader, indices)  # T x H x W x 3 uint8
        (clip,) = self._augment([(self.transform, frames)], torch_seed)  # T x 3 x S x S
        return clip, record.label, index


class PairDataset(VideoDatasetBase):
    """Two views of one video: DTG-Net's positive pair ``(v_anchor, v_guidance)`` (Sec. 3.1).

    The anchor view goes to the student, the guidance view to the frozen teachers. Frame
    indices come from :func:`dtgkit.data.sampling.two_view_indices` (``mode``: two sequences
    with or without temporal overlap, two images, image + sequence; an image view is one frame
    repeated T times). The union of both views' frames is decoded once; each view is then
    augmented independently.

    Args:
        records: the videos.
        num_segments: T, frames per view.
        mode: one of ``PAIR_MODES``.
        transform_anchor: transform of the anchor view (e.g. ``clip_transform(112, True)``);
            None converts without resizing.
        transform_guidance: transform of the guidance view; None uses ``transform_anchor``
            (with its own random draw).
        backend: video reader, as in :class:`ClipDataset`.
        seed: base seed of the per-sample generators.
        train: random frame positions (True) or deterministic ones (False).
        return_indices: also return the guidance frame indices, for teachers whose per-frame
            features are cached (they index frames as decoded by ``backend``).
        guidance_pixels: False when the guidance view's features come from a teacher feature
            cache (with ``return_indices``): its frames are drawn as always but not augmented,
            and its item is an empty tensor; the anchor view is the same tensor either way (it
            is augmented first, from the same seed). From a clip cache (whose frame count is
            exact) they are not read either; from a video file they still are, so that a tail
            that does not decode clamps the guidance indices as it always did.
        max_retries, skip_log_dir, reader_options, open_readers, clip_cache: see
            :class:`ClipDataset`.

    ``__getitem__`` returns ``(anchor T x 3 x H x W, guidance T x 3 x H x W, index, label)``,
    label -1 for unlabeled records, plus ``guidance_idx`` int64 (T,) when ``return_indices``.
    """

    def __init__(
        self,
        records: Sequence[VideoRecord],
        num_segments: int,
        mode: str = "seq_seq_overlap",
        *,
        transform_anchor: Callable | None = None,
        transform_guidance: Callable | None = None,
        backend: str = "decord",
        seed: int = 0,
        train: bool = True,
        return_indices: bool = False,
        guidance_pixels: bool = True,
        max_retries: int = 50,
        skip_log_dir: str | Path | None = None,
        reader_options: dict | None = None,
        open_readers: int = OPEN_READERS,
        clip_cache: str | os.PathLike | None = None,
    ) -> None:
        super().__init__(
            records,
            backend=backend,
            seed=seed,
            max_retries=max_retries,
            skip_log_dir=skip_log_dir,
            reader_options=reader_options,
            open_readers=open_readers,
            clip_cache=clip_cache,
        )
        if mode not in PAIR_MODES:
            raise ValueError(f"mode must be one of {PAIR_MODES}, got {mode!r}")
        if num_segments < 1:
            raise ValueError("num_segments must be >= 1")
        self.num_segments = int(num_segments)
        self.mode = mode
        self.transform_anchor = transform_anchor
        self.transform_guidance = (
            transform_guidance if transform_guidance is not None else transform_anchor
        )
        self.train = bool(train)
        self.return_indices = bool(return_indices)
        self.guidance_pixels = bool(guidance_pixels)

    def _describe(self) -> str:
        return f"num_segments={self.num_segments}, mode={self.mode!r}, train={self.train}, "

    def frame_indices(
        self, num_frames: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """(anchor_idx, guidance_idx) of one sample, each int64 (T,)."""
        a_idx, g_idx = two_view_indices(
            num_frames, self.num_segments, self.mode, rng=rng, train=self.train
        )
        return np.asarray(a_idx, dtype=np.int64), np.asarray(g_idx, dtype=np.int64)

    def sample_indices(self, index: int, epoch: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The (anchor_idx, guidance_idx) ``__getitem__(index)`` uses in ``epoch``.

        ``epoch`` defaults to the current one. Opens the video to read its frame count.
        """
        rng, _ = self._seeds(index, epoch)
        with self._reader(index) as reader:
            return self.frame_indices(self._num_frames(reader), rng)

    def guidance_indices(self, index: int, epoch: int | None = None) -> np.ndarray:
        """The guidance view's frame indices of sample ``index``, int64 (T,) (cached teachers)."""
        return self.sample_indices(index, epoch)[1]

    def _load(self, index: int) -> tuple:
        record = self.records[index]
        rng, torch_seed = self._seeds(index)
        with self._reader(index) as reader:
            a_idx, g_idx = self.frame_indices(self._num_frames(reader), rng)
            lean = not self.guidance_pixels and self.clip_cache
            frames = self._read_frames(reader, a_idx if lean else np.concatenate([a_idx, g_idx]))
            # a reader that found an undecodable tail clamps to its last good frame: say so
            g_idx = np.minimum(g_idx, reader.num_frames - 1)
        t = len(a_idx)
        jobs = [(self.transform_anchor, frames[:t])]
        if self.guidance_pixels:
            jobs.append((self.transform_guidance, frames[t:]))
        anchor, *rest = self._augment(jobs, torch_seed)  # T x 3 x S x S each
        guidance = rest[0] if rest else torch.empty(0)
        if self.return_indices:
            return anchor, guidance, index, record.label, torch.from_numpy(g_idx)
        return anchor, guidance, index, record.label

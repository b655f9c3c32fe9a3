"""Video datasets: split-file readers and the clip / pair datasets that feed the networks.

Readers turn a split description into a list of :class:`VideoRecord` plus the class names:

* :func:`load_ucf101` -- official ``ucfTrainTestlist`` (``classInd.txt``, ``trainlist0k.txt``,
  ``testlist0k.txt``). Labels come from the class directory of each line via ``classInd.txt``
  (as in mmaction2); a trainlist's own label column is cross-checked.
* :func:`load_hmdb51` -- official ``testTrainMulti_7030_splits`` (``<class>_test_splitk.txt``,
  ``name.avi 1|2|0`` = train | test | unused).
* :func:`load_list_file` -- ``relative/path [label]`` per line (mmaction2 ``VideoDataset``
  lists: Kinetics-400, Mini-Kinetics-200, custom data).
* :func:`load_class_folders` -- ``root/<class>/<video>`` (ImageFolder-style).

Listed files are found on disk even when their capitalisation differs from the list (real
UCF101 has such names) or when all videos sit in one flat folder.

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
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from torch.utils.data import Dataset

from dtgkit.data.sampling import PAIR_MODES, dense_indices, tsn_indices, two_view_indices
from dtgkit.data.transforms import to_clip_tensor
from dtgkit.data.video import VIDEO_EXTENSIONS, VideoDecodeError, open_video

logger = logging.getLogger(__name__)

MISSING_POLICIES = ("error", "skip")
_GROUP_RE = re.compile(r"_(g\d+)_c\d+", re.IGNORECASE)  # UCF101: v_<Class>_g08_c01


@dataclass(frozen=True)
class VideoRecord:
    """One video of a split.

    Attributes:
        path: absolute path of the file (or frame folder) on disk, as found there.
        label: 0-based class index; -1 when the split carries no labels.
        video_id: position of the record in the returned list (0 .. len-1).
        group: UCF101 group id such as ``"g08"`` (clips of one group share actor and setting);
            None when the name has none.
        name: the entry as written in the split file (e.g. ``"YoYo/v_YoYo_g08_c01.avi"``);
            a stable key for caches.
    """

    path: str
    label: int
    video_id: int
    group: str | None = None
    name: str = ""


def parse_group(name: str) -> str | None:
    """UCF101 group id (``"g08"``) of a file name such as ``v_YoYo_g08_c01.avi``, else None."""
    match = _GROUP_RE.search(PurePosixPath(name).name)
    return match.group(1).lower() if match else None


# --------------------------------------------------------------------------- split-file reading


def _read_lines(path: Path) -> list[tuple[int, str]]:
    """Non-blank lines of a text file as (1-based line number, stripped text)."""
    if not path.is_file():
        raise FileNotFoundError(f"split file not found: {path}")
    # surrogateescape keeps odd bytes in names round-tripping to the file system
    text = path.read_text(encoding="utf-8", errors="surrogateescape").lstrip("\ufeff")
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _check_options(subset: str, missing: str) -> None:
    if subset not in ("train", "test"):
        raise ValueError(f"subset must be 'train' or 'test', got {subset!r}")
    if missing not in MISSING_POLICIES:
        raise ValueError(f"missing must be one of {MISSING_POLICIES}, got {missing!r}")


class _PathFinder:
    """Finds listed videos under a root, tolerating capitalisation and flat layouts.

    Real UCF101 lists ``HandstandPushups/v_HandStandPushups_g01_c01.avi`` and copies of it
    differ in which letters are capitals; on a case-sensitive file system an exact join fails.
    Each path component is therefore matched case-insensitively (directory listings cached),
    and ``root/<file>`` is tried when ``root/<class>/<file>`` is absent.
    """

    def __init__(self, root: str | Path, ext: str | None = None) -> None:
        self.root = Path(root).expanduser()
        self.ext = ext
        self._listings: dict[Path, dict[str, str]] = {}

    def _listing(self, folder: Path) -> dict[str, str]:
        if folder not in self._listings:
            try:
                names = os.listdir(folder)
            except OSError:
                names = []
            self._listings[folder] = {name.lower(): name for name in sorted(names, reverse=True)}
        return self._listings[folder]

    def _walk(self, parts: Sequence[str]) -> Path | None:
        current = self.root
        for part in parts:
            real = self._listing(current).get(part.lower())
            if real is None:
                return None
            current = current / real
        return current

    def find(self, rel: str) -> Path | None:
        rel_path = PurePosixPath(rel.replace("\\", "/"))
        if self.ext is not None:
            rel_path = rel_path.with_suffix(self.ext)
        exact = self.root / rel_path
        if exact.exists():
            return exact
        found = self._walk(rel_path.parts)
        if found is None and len(rel_path.parts) > 1:
            found = self._walk(rel_path.parts[-1:])  # flat layout: root/<file>
        return found


def _build_records(
    entries: Sequence[tuple[Path, int, str, int]],
    video_root: str | Path,
    missing: str,
    ext: str | None,
    what: str,
) -> list[VideoRecord]:
    """Resolves (split file, line, name, label) entries to records; handles missing videos."""
    if not entries:
        raise ValueError(f"no videos listed for {what}")
    finder = _PathFinder(video_root, ext)
    if not finder.root.is_dir():
        raise FileNotFoundError(f"video folder not found: {finder.root} (videos of {what})")
    records: list[VideoRecord] = []
    absent: list[str] = []
    for source, lineno, name, label in entries:
        found = finder.find(name)
        if found is None:
            absent.append(f"{source}:{lineno}: {finder.root / name}")
            continue
        records.append(
            VideoRecord(os.path.abspath(found), label, len(records), parse_group(name), name)
        )
    if absent:
        message = (
            f"{len(absent)} of {len(entries)} videos listed for {what} are missing under "
            f"{finder.root}; first: " + "; ".join(absent[:3])
        )
        if missing == "error":
            raise FileNotFoundError(message + " (pass missing='skip' to drop them)")
        warnings.warn(message + " (skipped)", stacklevel=3)
    if not records:
        raise ValueError(
            f"none of the {len(entries)} videos listed for {what} exist under {finder.root}"
        )
    return records


def read_class_index(path: str | Path) -> list[str]:
    """Class names of a UCF101 ``classInd.txt`` (``1 ApplyEyeMakeup`` per line), by index.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: a malformed line, a repeated name, or indices that are not 1..C.
    """
    path = Path(path)
    by_index: dict[int, str] = {}
    for lineno, line in _read_lines(path):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise ValueError(f"{path}:{lineno}: expected '<index> <ClassName>', got {line!r}")
        index, name = int(parts[0]), parts[1]
        if index in by_index or name in by_index.values():
            raise ValueError(f"{path}:{lineno}: class index or name repeated: {line!r}")
        by_index[index] = name
    if sorted(by_index) != list(range(1, len(by_index) + 1)):
        raise ValueError(
            f"{path}: class indices must be 1..{len(by_index)}, got {sorted(by_index)}"
        )
    return [by_index[i] for i in range(1, len(by_index) + 1)]


def load_ucf101(
    video_root: str | Path,
    split_dir: str | Path,
    split: int = 1,
    subset: str = "train",
    *,
    missing: str = "error",
    ext: str | None = None,
) -> tuple[list[VideoRecord], list[str]]:
    """Reads an official UCF101 split (``ucfTrainTestlist/``).

    Args:
        video_root: folder holding ``<Class>/<video>.avi`` (or all videos flat).
        split_dir: folder with ``classInd.txt``, ``trainlist0{1,2,3}.txt`` and
            ``testlist0{1,2,3}.txt``.
        split: 1, 2 or 3.
        subset: "train" or "test".
        missing: "error" raises FileNotFoundError when listed videos are absent; "skip" drops
            them with a warning that counts them.
        ext: replace each listed extension, e.g. ".mp4" for re-encoded copies, "" for folders
            of extracted frames.

    Returns:
        (records, class_names); labels index ``class_names`` (classInd order, 0-based).

    Raises:
        FileNotFoundError: a split file or (with missing="error") videos are missing.
        ValueError: a malformed line, an unknown class, a trainlist label that contradicts the
            class directory, or an empty subset; messages name the file and line.
    """
    _check_options(subset, missing)
    split_dir = Path(split_dir).expanduser()
    class_names = read_class_index(split_dir / "classInd.txt")
    by_name = {name: i for i, name in enumerate(class_names)}
    by_lower = {name.lower(): i for i, name in enumerate(class_names)}
    list_file = split_dir / f"{subset}list{int(split):02d}.txt"
    entries = []
    for lineno, line in _read_lines(list_file):
        parts = line.rsplit(None, 1)
        if len(parts) == 2 and not parts[1].isdigit():
            parts = [line]  # no label column; the name itself contains a space
        name = parts[0].replace("\\", "/")
        if subset == "train" and len(parts) != 2:
            raise ValueError(
                f"{list_file}:{lineno}: expected '<Class>/<video> <label>', got {line!r}"
            )
        if name.count("/") != 1 or name.endswith("/"):
            raise ValueError(f"{list_file}:{lineno}: expected '<Class>/<video>', got {line!r}")
        folder = name.split("/")[0]
        label = by_name.get(folder, by_lower.get(folder.lower()))
        if label is None:
            raise ValueError(
                f"{list_file}:{lineno}: class {folder!r} is not in {split_dir / 'classInd.txt'}"
            )
        if len(parts) == 2 and int(parts[1]) != label + 1:
            raise ValueError(
                f"{list_file}:{lineno}: label {parts[1]} contradicts class {folder!r}, which is "
                f"{label + 1} in classInd.txt"
            )
        entries.append((list_file, lineno, name, label))
    return _build_records(entries, video_root, missing, ext, str(list_file)), class_names


def load_hmdb51(
    video_root: str | Path,
    split_dir: str | Path,
    split: int = 1,
    subset: str = "train",
    *,
    missing: str = "error",
    ext: str | None = None,
) -> tuple[list[VideoRecord], list[str]]:
    """Reads an official HMDB51 split (``testTrainMulti_7030_splits/``).

    Each ``<class>_test_split{split}.txt`` holds ``<video>.avi <id>`` lines with id 1 = train,
    2 = test, 0 = unused (trailing spaces are common); videos live in
    ``<video_root>/<class>/<video>.avi``.

    Args:
        video_root: folder holding ``<class>/<video>.avi`` (or all videos flat).
        split_dir: folder with the ``*_test_split{1,2,3}.txt`` files.
        split: 1, 2 or 3.
        subset: "train" (id 1) or "test" (id 2).
        missing: "error" or "skip", as in :func:`load_ucf101`.
        ext: replace each listed extension, as in :func:`load_ucf101`.

    Returns:
        (records, class_names); class names sorted, labels index them.

    Raises:
        FileNotFoundError: no split file for ``split`` or (missing="error") absent videos.
        ValueError: a malformed line (file and line named) or an empty subset.
    """
    _check_options(subset, missing)
    split_dir = Path(split_dir).expanduser()
    suffix = f"_test_split{int(split)}.txt"
    files = (
        sorted(p for p in split_dir.glob(f"*{suffix}") if p.is_file()) if split_dir.is_dir() else []
    )
    if not files:
        raise FileNotFoundError(f"no HMDB51 split files '*{suffix}' in {split_dir}")
    class_names = [p.name[: -len(suffix)] for p in files]
    wanted = 1 if subset == "train" else 2
    entries = []
    for label, (name, path) in enumerate(zip(class_names, files)):
        for lineno, line in _read_lines(path):
            parts = line.rsplit(None, 1)
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise ValueError(f"{path}:{lineno}: expected '<video>.avi 0|1|2', got {line!r}")
            if int(parts[1]) == wanted:
                entries.append((path, lineno, f"{name}/{parts[0]}", label))
    what = f"HMDB51 split {split} {subset} ({split_dir}/*{suffix})"
    return _build_records(entries, video_root, missing, ext, what), class_names


def load_list_file(
    video_root: str | Path,
    list_file: str | Path,
    *,
    label_map: str | Path | None = None,
    missing: str = "error",
    ext: str | None = None,
) -> tuple[list[VideoRecord], list[str] | None]:
    """Reads a generic list: ``relative/path [label]`` per line (mmaction2 ``VideoDataset``).

    Serves Kinetics-400, Mini-Kinetics-200 and custom data. Lines without a label give
    unlabeled records (label -1); a file must be all labeled or all unlabeled.

    Args:
        video_root: folder the listed paths are relative to (absolute paths are kept).
        list_file: the list.
        label_map: optional file with one class name per line, line k naming label k - 1
            (mmaction2 ``label_map_k400.txt``); labels are checked against it.
        missing: "error" or "skip", as in :func:`load_ucf101`.
        ext: replace each listed extension, as in :func:`load_ucf101`.

    Returns:
        (records, class_names); class_names is None without a label map.

    Raises:
        FileNotFoundError, ValueError: as for :func:`load_ucf101`, naming file and line.
    """
    if missing not in MISSING_POLICIES:
        raise ValueError(f"missing must be one of {MISSING_POLICIES}, got {missing!r}")
    list_file = Path(list_file).expanduser()
    class_names = [line for _, line in _read_lines(Path(label_map))] if label_map else None
    entries = []
    labeled: bool | None = None
    for lineno, line in _read_lines(list_file):
        parts = line.rsplit(None, 1)
        has_label = len(parts) == 2
        if has_label and not parts[1].lstrip("-").isdigit():
            raise ValueError(
                f"{list_file}:{lineno}: expected '<path> <label>' with an integer label "
                f"(one label per line), got {line!r}"
            )
        if labeled is not None and has_label != labeled:
            raise ValueError(f"{list_file}:{lineno}: some lines carry a label and some do not")
        labeled = has_label
        label = int(parts[1]) if has_label else -1
        if has_label and (label < 0 or (class_names is not None and label >= len(class_names))):
            bound = (
                f" (label map {label_map} has {len(class_names)} classes)" if class_names else ""
            )
            raise ValueError(f"{list_file}:{lineno}: label {label} out of range{bound}")
        entries.append((list_file, lineno, parts[0], label))
    return _build_records(entries, video_root, missing, ext, str(list_file)), class_names


def load_class_folders(
    root: str | Path, extensions: Sequence[str] = VIDEO_EXTENSIONS
) -> tuple[list[VideoRecord], list[str]]:
    """Reads ``root/<class>/**/<video>`` (one folder per class, names sorted).

    Args:
        root: the folder of class folders.
        extensions: file endings counted as videos (case-insensitive).

    Returns:
        (records, class_names); labels index the sorted class folder names.

    Raises:
        FileNotFoundError: ``root`` is not a folder.
        ValueError: no class folders or no videos in them.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"video folder not found: {root}")
    class_names = sorted(
        p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    if not class_names:
        raise ValueError(f"{root} holds no class folders (expected root/<class>/<video>)")
    exts = tuple(e.lower() for e in extensions)
    records: list[VideoRecord] = []
    for label, name in enumerate(class_names):
        for dirpath, dirnames, filenames in os.walk(root / name, followlinks=True):
            dirnames.sort()
            for fname in sorted(filenames):
                if fname.lower().endswith(exts) and not fname.startswith("."):
                    path = Path(dirpath) / fname
                    rel = path.relative_to(root).as_posix()
                    records.append(
                        VideoRecord(
                            os.path.abspath(path), label, len(records), parse_group(fname), rel
                        )
                    )
    if not records:
        raise ValueError(f"no videos ({', '.join(exts)}) in the class folders of {root}")
    return records, class_names


def load_records(
    kind: str,
    video_root: str | Path,
    split_path: str | Path | None = None,
    *,
    split: int = 1,
    subset: str = "train",
    missing: str = "error",
) -> tuple[list[VideoRecord], list[str] | None]:
    """One entry point for configs: ``kind`` is "ucf101", "hmdb51", "list" or "folders".

    ``split_path`` is the split folder (ucf101, hmdb51) or the list file (list); unused for
    "folders". See the individual readers for the rest.
    """
    if kind in ("ucf101", "hmdb51"):
        if split_path is None:
            raise ValueError(f"dataset kind {kind!r} needs a split folder")
        reader = load_ucf101 if kind == "ucf101" else load_hmdb51
        return reader(video_root, split_path, split, subset, missing=missing)
    if kind == "list":
        if split_path is None:
            raise ValueError("dataset kind 'list' needs a list file")
        return load_list_file(video_root, split_path, missing=missing)
    if kind == "folders":
        return load_class_folders(video_root)
    raise ValueError(f"unknown dataset kind {kind!r}; expected ucf101, hmdb51, list or folders")


# --------------------------------------------------------------------------- datasets


class _BadVideo(Exception):
    """A video that opened but cannot give the requested frames."""


def read_skip_log(log_dir: str | Path) -> dict[str, str]:
    """Skips that datasets of every process logged under ``log_dir``: path -> reason."""
    report: dict[str, str] = {}
    for log in sorted(Path(log_dir).glob("skips-*.tsv")):
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
    ``.skips`` lives in the process that decoded: with DataLoader workers the main process's
    copy stays empty. Give ``skip_log_dir`` to have every process append its skips to
    ``skip_log_dir/skips-<pid>.tsv``; :meth:`skip_report` merges them.
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
    ) -> None:
        if len(records) == 0:
            raise ValueError("the dataset has no records")
        if int(seed) < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.records = list(records)
        self.backend = backend
        self.reader_options = dict(reader_options or {})
        self.seed = int(seed)
        self.max_retries = int(max_retries)
        self.skip_log_dir = Path(skip_log_dir) if skip_log_dir is not None else None
        if self.skip_log_dir is not None:
            self.skip_log_dir.mkdir(parents=True, exist_ok=True)
        self.skips: dict[str, str] = {}
        self._warned: set[str] = set()
        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()

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
        """Applies each (transform, frames) in order under a seeded, then restored, CPU RNG."""
        state = torch.get_rng_state()
        torch.default_generator.manual_seed(torch_seed)  # CPU only: CUDA RNG untouched
        try:
            return [(t or to_clip_tensor)(frames) for t, frames in jobs]
        finally:
            torch.set_rng_state(state)

    @staticmethod
    def _read_frames(reader, indices: np.ndarray) -> np.ndarray:
        """Frames at ``indices`` (repeats allowed), uint8 len(indices) x H x W x 3."""
        unique, inverse = np.unique(indices, return_inverse=True)
        frames = reader.get_frames(unique)  # U x H x W x 3
        if frames.ndim != 4 or len(frames) != len(unique):
            raise _BadVideo(f"asked for {len(unique)} frames, got shape {tuple(frames.shape)}")
        return frames[inverse.reshape(-1)]

    def _num_frames(self, reader) -> int:
        if reader.num_frames < 1:
            raise _BadVideo("the video reports no frames")
        return int(reader.num_frames)

    def _open(self, index: int):
        return open_video(self.records[index].path, backend=self.backend, **self.reader_options)

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
        if self.skip_log_dir is not None:
            with open(self.skip_log_dir / f"skips-{os.getpid()}.tsv", "a", encoding="utf-8") as log:
                log.write(f"{self.epoch}\t{index}\t{path}\t{reason}\n")

    def skip_report(self) -> dict[str, str]:
        """Skipped videos, path -> reason: this process's ``.skips`` plus the skip log, if any."""
        report = dict(self.skips)
        if self.skip_log_dir is not None:
            report.update(read_skip_log(self.skip_log_dir))
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
    ) -> None:
        super().__init__(
            records,
            backend=backend,
            seed=seed,
            max_retries=max_retries,
            skip_log_dir=skip_log_dir,
            reader_options=reader_options,
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
        with self._open(index) as reader:
            return self.frame_indices(self._num_frames(reader), rng)

    def _load(self, index: int) -> tuple[torch.Tensor, int, int]:
        record = self.records[index]
        rng, torch_seed = self._seeds(index)
        with self._open(index) as reader:
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
        max_retries, skip_log_dir, reader_options: see :class:`ClipDataset`.

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
        max_retries: int = 50,
        skip_log_dir: str | Path | None = None,
        reader_options: dict | None = None,
    ) -> None:
        super().__init__(
            records,
            backend=backend,
            seed=seed,
            max_retries=max_retries,
            skip_log_dir=skip_log_dir,
            reader_options=reader_options,
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
        with self._open(index) as reader:
            return self.frame_indices(self._num_frames(reader), rng)

    def guidance_indices(self, index: int, epoch: int | None = None) -> np.ndarray:
        """The guidance view's frame indices of sample ``index``, int64 (T,) (cached teachers)."""
        return self.sample_indices(index, epoch)[1]

    def _load(self, index: int) -> tuple:
        record = self.records[index]
        rng, torch_seed = self._seeds(index)
        with self._open(index) as reader:
            a_idx, g_idx = self.frame_indices(self._num_frames(reader), rng)
            frames = self._read_frames(reader, np.concatenate([a_idx, g_idx]))  # 2T x H x W x 3
            # a reader that found an undecodable tail clamps to its last good frame: say so
            g_idx = np.minimum(g_idx, reader.num_frames - 1)
        t = len(a_idx)
        anchor, guidance = self._augment(
            [(self.transform_anchor, frames[:t]), (self.transform_guidance, frames[t:])], torch_seed
        )  # T x 3 x S x S each
        if self.return_indices:
            return anchor, guidance, index, record.label, torch.from_numpy(g_idx)
        return anchor, guidance, index, record.label

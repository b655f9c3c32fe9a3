"""Split files -> video records: the readers of the official split formats.

Readers turn a split description into a list of :class:`VideoRecord` plus the class names:

* :func:`load_ucf101` -- official ``ucfTrainTestlist`` (``classInd.txt``, ``trainlist0k.txt``,
  ``testlist0k.txt``). Labels come from the class directory of each line via ``classInd.txt``
  (as in mmaction2); a trainlist's own label column is cross-checked.
* :func:`load_hmdb51` -- official ``testTrainMulti_7030_splits`` (``<class>_test_splitk.txt``,
  ``name.avi 1|2|0`` = train | test | unused).
* :func:`load_list_file` -- ``relative/path [label]`` per line (mmaction2 ``VideoDataset``
  lists: Kinetics-400, Mini-Kinetics-200, custom data).
* :func:`load_class_folders` -- ``root/<class>/<video>`` (ImageFolder-style).
* :func:`load_records` -- one of the above, by name.

Listed files are found on disk even when their capitalisation differs from the list (real
UCF101 has such names) or when all videos sit in one flat folder. A malformed line raises
``ValueError`` naming the file and the line. The datasets that decode the records live in
:mod:`dtgkit.data.datasets`.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from dtgkit.data.video import VIDEO_EXTENSIONS

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

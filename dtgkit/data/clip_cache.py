"""Clip cache: every video decoded once into one memory-mapped uint8 array at the lab resolution.

A CPU lab spends more on decoding and resizing than a small student spends on a step. The
clip cache pays that once per data set: each video is decoded, its frames resized (short side
to ``size``, antialiased) and centre-cropped to ``size x size``, and stored as rows of one
``uint8`` array. Datasets then read frames from it exactly as from a video
(:class:`ClipCacheReader` is a :class:`~dtgkit.data.video.VideoReader`; the datasets of
:mod:`dtgkit.data.datasets` take ``clip_cache=DIR``, runs set ``data.clip_cache``): TSN
sampling, the two views of a pair and the augmentation are unchanged, drawn per sample as
before.

Layout of a cache folder::

    DIR/frames.npy   uint8 array, rows = all frames of all videos, each size x size x 3
    DIR/index.json   {"format", "root", "size", "backend", "videos": {rel/path.mp4: [start, n]},
                      "skips": {rel/path: reason}}

``frames.npy`` is opened with ``mmap_mode="r"``: pages are read on demand and shared by the
DataLoader workers. A cache is written under temporary names and renamed when complete, so a
folder holds a finished cache or none; it is re-used when root and size match and it
holds every video asked for, else rebuilt.

**What it trades away.** With ``size = round(S * 8 / 7)`` for clips of S px (what
``dtgkit.train.data`` uses), test clips are the same pixels as from the video (the test
transform resizes the short side to that size and centre-crops S). Training crops are cut from
the ``size``-px frames instead of the full-resolution ones: a small random crop is upsampled
from fewer pixels. Frames outside the centre square of a non-square video are not stored.
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dtgkit.data.video import VideoDecodeError, VideoReader, open_video
from dtgkit.files import exclusive_lock, write_text_atomic

__all__ = ["CACHE_FORMAT", "ClipCacheReader", "cache_key", "cache_matches",
           "ensure_clip_cache", "open_clip_cache", "resize_square"]

CACHE_FORMAT = "dtgkit-clip-cache/1"
#: the lock file a process holds while it builds the cache (:func:`ensure_clip_cache`)
LOCK_NAME = ".lock"
FRAMES_NAME, INDEX_NAME = "frames.npy", "index.json"


def resize_square(frames: np.ndarray, size: int) -> np.ndarray:
    """uint8 T x H x W x 3 -> uint8 T x size x size x 3: short side to ``size`` (antialiased
    bilinear, torchvision's ``Resize`` as in the test transform), then the centre square."""
    import torch
    from torchvision.transforms.v2 import functional as TF

    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)  # T x 3 x H x W
    x = TF.center_crop(TF.resize(x, [int(size)], antialias=True), [int(size)])
    return x.permute(0, 2, 3, 1).contiguous().numpy()  # T x size x size x 3


def _decode_job(job: tuple) -> tuple[str, np.ndarray | None, str]:
    path, key, size, backend = job
    try:
        with open_video(path, backend=backend) as reader:
            frames = reader.get_frames(np.arange(reader.num_frames))  # T x H x W x 3
        return key, resize_square(frames, size), ""
    except (VideoDecodeError, OSError, RuntimeError) as err:
        return key, None, str(err)


def cache_matches(cache_dir: str | os.PathLike, root: str | os.PathLike, size: int,
                  keys: Sequence[str] = ()) -> bool:
    """Whether ``cache_dir`` holds a finished cache of ``root`` at ``size`` px with every key."""
    index = Path(cache_dir) / INDEX_NAME
    if not index.is_file() or not (Path(cache_dir) / FRAMES_NAME).is_file():
        return False
    meta = json.loads(index.read_text())
    have = set(meta.get("videos", {})) | set(meta.get("skips", {}))
    return (meta.get("format") == CACHE_FORMAT and meta.get("root") == str(Path(root).resolve())
            and int(meta.get("size", -1)) == int(size) and set(keys) <= have)


def ensure_clip_cache(cache_dir: str | os.PathLike, root: str | os.PathLike,
                      paths: Sequence[str | os.PathLike], size: int, *, backend: str = "auto",
                      workers: int = 0, progress: bool = True, say=print) -> Path:
    """The clip cache of ``paths`` (videos under ``root``) at ``size`` px, built if missing.

    Args:
        cache_dir: the cache folder (created).
        root: the video root; cache keys are paths relative to it.
        paths: the videos (absolute, or relative to ``root``).
        size: stored frame side in px.
        backend: video backend used to decode them once.
        workers: decoding processes (0: in this process). Output does not depend on it.
        progress: tqdm bar.
        say: where the one line saying what happened goes.

    Returns:
        ``cache_dir`` as a Path. Undecodable videos are recorded in ``index.json`` ``skips``
        (their reader then raises :class:`VideoDecodeError`, and the dataset skips them).
    """
    out, root = Path(cache_dir), Path(root).resolve()
    keys = [cache_key(p, root) for p in paths]
    if cache_matches(out, root, size, keys):
        say(f"clip cache: re-using {out} ({len(keys)} videos at {size} px)")
        return out
    out.mkdir(parents=True, exist_ok=True)
    # two runs started side by side would both decode every video, and the second's rename
    # would replace the first's finished cache: the second waits, then re-uses it
    with exclusive_lock(out / LOCK_NAME, what=f"the clip cache {out}",
                        say=lambda m: say(f"clip cache: {m}")):
        if cache_matches(out, root, size, keys):
            say(f"clip cache: re-using {out} ({len(keys)} videos at {size} px)")
            return out
        return _build_clip_cache(out, root, keys, size, backend=backend, workers=workers,
                                 progress=progress, say=say)


def _build_clip_cache(out: Path, root: Path, keys: list[str], size: int, *, backend: str,
                      workers: int, progress: bool, say) -> Path:
    """Decode ``keys`` (and those an older index of ``root`` at ``size`` held) into ``out``."""
    from tqdm.auto import tqdm

    old = Path(out) / INDEX_NAME
    if old.is_file():  # rebuilding for more videos: keep the ones it held that still exist
        meta = json.loads(old.read_text())
        if meta.get("root") == str(root) and int(meta.get("size", -1)) == int(size):
            keys += [k for k in (*meta.get("videos", {}), *meta.get("skips", {})) if (root / k).is_file()]
    keys = sorted(set(keys))
    jobs = [(str(root / k), k, int(size), backend) for k in keys]
    say(f"clip cache: decoding {len(keys)} videos once into {out} ({size} px uint8)")
    counts: dict[str, int] = {}
    for k in keys:  # frame counts first, to size the array
        try:
            with open_video(root / k, backend=backend, verify="none") as reader:
                counts[k] = int(reader.num_frames)  # the packet count: an upper bound
        except (VideoDecodeError, OSError, RuntimeError):
            counts[k] = 0
    total = sum(counts.values())
    tmp = out / f".{FRAMES_NAME}.partial{os.getpid()}"
    array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8,
                                      shape=(max(total, 1), int(size), int(size), 3))
    videos: dict[str, list[int]] = {}
    skips: dict[str, str] = {}
    start = 0
    starts = {}
    for k in keys:
        starts[k], start = start, start + counts[k]
    bar = tqdm(total=len(jobs), desc="clip cache", unit="video", disable=not progress)

    def decoded():
        if workers > 1 and len(jobs) > 1:
            import multiprocessing as mp

            with mp.get_context("fork").Pool(workers) as pool:
                yield from pool.imap(_decode_job, jobs, chunksize=4)
        else:
            yield from map(_decode_job, jobs)

    for key, frames, err in decoded():
        n = 0 if frames is None else min(len(frames), counts[key])
        if frames is None or n == 0:
            skips[key] = err or "no frame decodes"
        else:
            array[starts[key]:starts[key] + n] = frames[:n]
            videos[key] = [starts[key], n]
        bar.update()
    bar.close()
    array.flush()
    del array
    (out / INDEX_NAME).unlink(missing_ok=True)  # no moment with an old index on new frames
    os.replace(tmp, out / FRAMES_NAME)
    meta = {"format": CACHE_FORMAT, "root": str(root), "size": int(size), "backend": backend,
            "frames": total, "videos": videos, "skips": skips}
    write_text_atomic(out / INDEX_NAME, json.dumps(meta))
    say(f"clip cache: {len(videos)} videos, {total} frames, "
        f"{total * size * size * 3 / 2**20:.0f} MiB" + (f", {len(skips)} skipped" if skips else ""))
    return out


def cache_key(path: str | os.PathLike, root: str | os.PathLike) -> str:
    """A video's key in a cache of ``root``: its path relative to ``root`` (POSIX), a relative
    path as given, an absolute path outside ``root`` as it is."""
    p = Path(path)
    if p.is_absolute():
        try:
            return p.resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            return p.as_posix()
    return p.as_posix()


#: caches opened in this process: (resolved dir, index mtime) -> (index, memory-mapped frames);
#: a cache rebuilt since (a new index file) is opened again
_OPEN: dict[tuple[str, int], tuple[dict, np.ndarray]] = {}


def open_clip_cache(cache_dir: str | os.PathLike) -> tuple[dict, np.ndarray]:
    """(index, frames memmap) of a finished cache, opened once per process."""
    index_path = Path(cache_dir) / INDEX_NAME
    if not index_path.is_file():
        raise FileNotFoundError(f"no clip cache in {cache_dir} (no {INDEX_NAME}); it is "
                                f"built by the first run with data.clip_cache set")
    key = (str(Path(cache_dir).resolve()), index_path.stat().st_mtime_ns)
    if key not in _OPEN:
        meta = json.loads(index_path.read_text())
        if meta.get("format") != CACHE_FORMAT:
            raise ValueError(f"{index_path}: not a clip cache of format {CACHE_FORMAT} "
                             f"(format {meta.get('format')!r}); delete the folder to rebuild it")
        _OPEN[key] = (meta, np.load(Path(cache_dir) / FRAMES_NAME, mmap_mode="r"))
    return _OPEN[key]


class ClipCacheReader(VideoReader):
    """A video's frames from a clip cache (what a dataset built with ``clip_cache=DIR`` opens
    instead of :func:`~dtgkit.data.video.open_video`).

    ``num_frames`` is what was decodable when the cache was built; ``get_frames`` returns
    the stored ``size x size`` frames (indices past the end clamp to the last frame).
    """

    backend = "clipcache"

    def __init__(self, path: str, cache_dir: str | os.PathLike):
        super().__init__(path)
        meta, self._frames = open_clip_cache(cache_dir)
        key = cache_key(path, Path(meta["root"]))
        if key not in meta["videos"]:
            why = meta["skips"].get(key)
            raise VideoDecodeError(path, f"not in the clip cache {cache_dir}"
                                   + (f" (undecodable when it was built: {why})" if why else ""))
        self._start, self.num_frames = meta["videos"][key]
        self.reported_frames = self.num_frames
        self.height = self.width = int(meta["size"])

    def _read(self, idx: np.ndarray) -> np.ndarray:
        return np.asarray(self._frames[self._start + self._clamp(idx)])  # T x size x size x 3

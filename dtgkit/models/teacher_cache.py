"""Teacher feature cache: frozen teachers' per-frame features, computed once per dataset.

Teachers never change during DTG training, so the feature of every frame of every video can be
computed once (``dtgkit cache-teachers``) and the guidance feature of a sampled sequence becomes
a lookup: ``g = mean_t cache[video][idx_t]`` (paper Sec. 3.3, with the teacher frozen).

Layout of a cache directory, one pair of files per teacher::

    DIR/<teacher>.npy     float16/float32 array, rows = all cached frames of all videos
    DIR/<teacher>.json    {"spec", "feat_dim", "size", "frame_stride", "root",
                           "videos": {relative/path.mp4: [start_row, num_frames]}, "skips": ...}

The ``.npy`` is opened with ``mmap_mode="r"``: a dataset larger than memory is read lazily.
While a cache is built the array is ``<teacher>.npy.partial`` and the index lists the videos done
so far; an interrupted build resumes where it stopped, and a finished cache is re-used (only
new videos are computed) when the teacher, size, dtype and stride are unchanged.

**What the cache trades away.** Each frame is cached once, centre-cropped to a square and
resized to ``size`` (the deterministic test-time view). The paper's guidance view is a *random*
crop of the sampled frames; with ``use_cache=True`` the guidance sequence keeps its random
frame sampling but loses the random crop (the anchor view keeps all its augmentation). Use the
live teachers (``use_cache=False``) to reproduce the paper exactly; use the cache for speed.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from dtgkit.files import exclusive_lock
from dtgkit.models.teachers import Teacher, create_teacher, sha256_file, weights_file

CACHE_FORMAT = "dtgkit-teacher-cache/1"
#: the lock file a process holds while it builds a cache folder (:func:`cache_teacher_features`)
LOCK_NAME = ".lock"
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".mpg", ".mpeg", ".m4v")


def center_crop_resize_uint8(frames: np.ndarray, size: int) -> torch.Tensor:
    """:func:`center_crop_resize` before its conversion to float: uint8 T x 3 x size x size
    (4x less to move between decoding workers and the main process, or to a GPU)."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)  # T x 3 x H x W
    h, w = x.shape[-2:]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    x = x[:, :, top:top + s, left:left + s].contiguous()  # T x 3 x s x s uint8
    if s != size:  # resized in uint8: ~10x faster than float on CPU
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                          antialias=True)  # T x 3 x size x size
    return x


def center_crop_resize(frames: np.ndarray, size: int) -> torch.Tensor:
    """The cache's deterministic frame view: centre square crop, bilinear resize, [0, 1].

    Args:
        frames: uint8 T x H x W x 3 (RGB), as decoded by ``open_video(...).get_frames``.
        size: output side in px.

    Returns:
        T x 3 x size x size float32 in [0, 1].
    """
    return center_crop_resize_uint8(frames, size).float().div_(255.0)


def find_videos(root: str | os.PathLike) -> list[str]:
    """Relative POSIX paths of the video files under ``root``, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"video root {root} is not a directory")
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file())


def cache_stem(spec: str) -> str:
    """File stem of a teacher's cache files: the spec made file-name safe (hashed if long)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", spec).strip("_")
    if len(stem) > 80:
        stem = stem[:60] + "-" + hashlib.sha1(spec.encode()).hexdigest()[:10]
    return stem


def _write_json(path: Path, obj: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True))
    os.replace(tmp, path)


def _signature(index: dict) -> tuple:
    return tuple(index.get(k) for k in ("spec", "weights_sha256", "size", "dtype",
                                        "frame_stride", "feat_dim"))


class _TeacherCacheWriter:
    """The cache files of one teacher while they are built (resume, re-use, finish)."""

    def __init__(self, out_dir: Path, teacher: Teacher, plan: dict[str, int], *, root: str,
                 size: int, dtype: str, frame_stride: int, backend: str) -> None:
        self.teacher = teacher
        self.json_path = out_dir / f"{cache_stem(teacher.spec)}.json"
        self.npy_path = out_dir / f"{cache_stem(teacher.spec)}.npy"
        self.partial_path = out_dir / f"{cache_stem(teacher.spec)}.npy.partial"
        videos, start = {}, 0
        for key, num_frames in plan.items():
            videos[key] = [start, num_frames]
            start += -(-num_frames // frame_stride)
        self.index = {"format": CACHE_FORMAT, "spec": teacher.spec, "name": teacher.name,
                      "feat_dim": teacher.feat_dim, "weights_sha256": teacher.weights_sha256,
                      "size": size, "dtype": dtype, "frame_stride": frame_stride,
                      "backend": backend, "root": root, "total_rows": start,
                      "videos": videos, "done": [], "skips": {}, "complete": False}
        self.done: set[str] = set()
        self.reused = 0
        self.noop = False
        old = json.loads(self.json_path.read_text()) if self.json_path.is_file() else None
        same = old is not None and _signature(old) == _signature(self.index)
        if same and old.get("complete") and old["videos"] == videos and self.npy_path.is_file():
            self.noop = True  # finished before with exactly these videos: nothing to do
            self.done = set(old.get("done", []))
            self.reused = len(self.done)
            self.index = old
            return
        if same and not old.get("complete") and old["videos"] == videos \
                and self.partial_path.is_file():  # resume in place
            self.array = np.lib.format.open_memmap(self.partial_path, mode="r+")
            self.done = set(old.get("done", []))
            self.index["skips"] = dict(old.get("skips", {}))
            self.reused = len(self.done)
            return
        self.array = np.lib.format.open_memmap(self.partial_path, mode="w+", dtype=dtype,
                                               shape=(max(start, 1), teacher.feat_dim))
        if same and old.get("complete") and self.npy_path.is_file():  # re-use finished rows
            old_array = np.load(self.npy_path, mmap_mode="r")
            for key in set(old.get("done", [])) & set(videos):
                (o_start, o_n), (n_start, n_n) = old["videos"][key], videos[key]
                if o_n == n_n:
                    rows = -(-n_n // frame_stride)
                    self.array[n_start:n_start + rows] = old_array[o_start:o_start + rows]
                    self.done.add(key)
            self.reused = len(self.done)

    def write(self, key: str, feats: np.ndarray) -> None:
        if self.noop:
            raise RuntimeError("cache already complete")
        start, _ = self.index["videos"][key]
        self.array[start:start + len(feats)] = feats.astype(self.array.dtype)

    def checkpoint(self) -> None:
        if self.noop:
            return
        self.array.flush()
        self.index["done"] = sorted(self.done)
        _write_json(self.json_path, self.index)

    def finish(self) -> Path:
        if self.noop:
            return self.npy_path
        self.index["complete"] = True
        self.array.flush()
        del self.array
        os.replace(self.partial_path, self.npy_path)
        self.index["done"] = sorted(self.done)
        _write_json(self.json_path, self.index)
        return self.npy_path


class _ScanVideos(torch.utils.data.Dataset):
    """Item i: ``(key, frame count, None)`` or ``(key, 0, error)`` (opened in a worker)."""

    def __init__(self, root: Path, keys: Sequence[str], backend: str) -> None:
        self.root, self.keys, self.backend = root, list(keys), backend

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, i: int):
        from dtgkit.data.video import VideoDecodeError, open_video

        key = self.keys[i]
        try:
            with open_video(str(self.root / key), backend=self.backend) as reader:
                n = int(reader.num_frames)
            if n <= 0:
                raise VideoDecodeError(str(self.root / key), "no frames")
            return key, n, None
        except (VideoDecodeError, OSError, RuntimeError) as err:
            return key, 0, str(err)


class _DecodeVideos(torch.utils.data.Dataset):
    """Item i: ``(key, frames, None)`` with the cached frames of video i through ``transform``
    (decoded in ``chunk``-frame pieces), or ``(key, None, error)``."""

    def __init__(self, root: Path, keys: Sequence[str], plan: dict[str, int], *, backend: str,
                 size: int, frame_stride: int, transform: Callable, chunk: int) -> None:
        self.root, self.keys, self.plan, self.backend = root, list(keys), plan, backend
        self.size, self.stride, self.transform, self.chunk = size, frame_stride, transform, chunk

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, i: int):
        from dtgkit.data.video import VideoDecodeError, open_video

        key = self.keys[i]
        indices = np.arange(0, self.plan[key], self.stride)
        try:
            with open_video(str(self.root / key), backend=self.backend) as reader:
                parts = [self.transform(reader.get_frames(indices[lo:lo + self.chunk]), self.size)
                         for lo in range(0, len(indices), self.chunk)]  # each B x 3 x S x S
            return key, torch.cat(parts), None
        except (VideoDecodeError, OSError, RuntimeError) as err:
            return key, None, str(err)


class _FrameBatcher:
    """Frames of several videos queued for one teacher and run in full batches; a video's
    features are written once all its frames are done."""

    def __init__(self, writer: _TeacherCacheWriter, batch_size: int, device: torch.device,
                 amp: bool) -> None:
        self.writer, self.batch_size, self.device = writer, int(batch_size), device
        self.amp = amp and device.type == "cuda"
        self.frames: list[torch.Tensor] = []  # pending frame chunks, in order
        self.owners: list[list] = []  # [key, rows still to compute, rows done (arrays)]
        self.pending = 0
        self.written: list[str] = []

    def add(self, key: str, frames: torch.Tensor) -> None:
        self.frames.append(frames)
        self.owners.append([key, len(frames), []])
        self.pending += len(frames)
        while self.pending >= self.batch_size:
            self._run(self.batch_size)

    def flush(self) -> None:
        while self.pending:
            self._run(min(self.pending, self.batch_size))

    def _take(self, n: int) -> torch.Tensor:
        out, got = [], 0
        while got < n:
            head = self.frames[0]
            take = min(n - got, len(head))
            out.append(head[:take])
            if take == len(head):
                self.frames.pop(0)
            else:
                self.frames[0] = head[take:]
            got += take
        self.pending -= n
        return torch.cat(out) if len(out) > 1 else out[0]

    def _run(self, n: int) -> None:
        x = self._take(n).to(self.device, non_blocking=True)  # n x 3 x S x S
        if x.dtype == torch.uint8:
            x = x.float().div_(255.0)
        amp = torch.autocast("cuda", dtype=torch.bfloat16) if self.amp else nullcontext()
        with torch.inference_mode(), amp:
            feats = self.writer.teacher.frame_features(x).float().cpu().numpy()  # n x D
        pos = 0
        while pos < n:
            owner = self.owners[0]
            take = min(n - pos, owner[1])
            owner[2].append(feats[pos:pos + take])
            owner[1] -= take
            pos += take
            if owner[1] == 0:
                self.owners.pop(0)
                self.writer.write(owner[0], np.concatenate(owner[2]))  # rows x D
                self.writer.done.add(owner[0])
                self.written.append(owner[0])


def _resolve_device(device: str | torch.device) -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r}: CUDA is not available on this machine (use auto or cpu)")
    return device


def cache_covers(cache_dir: str | os.PathLike, spec: str, frames: Mapping[str, tuple[int, Sequence[int]]],
                 size: int) -> bool:
    """Whether a complete cache of teacher ``spec`` in ``cache_dir`` holds exactly these frames.

    True when the cache is complete, was made at this frame ``size`` and (for a file-backed
    teacher) from the same weights file, and holds every video of ``frames`` with the same
    frame count and every listed frame exactly (not only a nearest cached one).

    Args:
        frames: video key (relative path) -> (its frame count, the frame indices needed).
    """
    path = Path(cache_dir) / f"{cache_stem(spec)}.json"
    if not path.is_file() or not path.with_suffix(".npy").is_file():
        return False
    index = json.loads(path.read_text())
    if not index.get("complete") or int(index.get("size", -1)) != size:
        return False
    weights = weights_file(spec)
    if weights is not None and weights.is_file() and index.get("weights_sha256") != sha256_file(weights):
        return False  # the weights file was rewritten since the cache was built
    done, stride = set(index.get("done", [])), int(index.get("frame_stride", 1))
    for key, (num_frames, needed) in frames.items():
        if key not in done or int(index["videos"][key][1]) != num_frames:
            return False
        if np.any(np.asarray(needed) % stride):
            return False  # a needed frame is not cached (a lookup would take the nearest one)
    return True


def cache_holds(cache_dir: str | os.PathLike, teacher: Teacher, keys: Sequence[str],
                frame_stride: int) -> bool:
    """Whether ``cache_dir`` holds a finished cache of ``teacher`` made from its weights, at
    ``frame_stride``, with every video of ``keys`` done (or skipped as undecodable)."""
    path = Path(cache_dir) / f"{cache_stem(teacher.spec)}.json"
    if not path.is_file() or not path.with_suffix(".npy").is_file():
        return False
    index = json.loads(path.read_text())
    held = set(index.get("done", [])) | set(index.get("skips", {}))
    return bool(index.get("complete")) and index.get("weights_sha256") == teacher.weights_sha256 \
        and int(index.get("frame_stride", 1)) == int(frame_stride) and set(keys) <= held


def cache_teacher_features(root: str | os.PathLike, teachers: str | Sequence[str | Teacher],
                           out_dir: str | os.PathLike, *, videos: Sequence[str] | None = None,
                           size: int = 112, backend: str = "decord", batch_size: int = 64,
                           dtype: str = "float16", frame_stride: int = 1,
                           transform: Callable[[np.ndarray, int], torch.Tensor] | None = None,
                           checkpoint_every: int = 50, progress: bool = True,
                           device: str | torch.device = "cpu", num_workers: int = 0,
                           amp: bool = True, say: Callable[[str], None] = print) -> dict:
    """Compute and store every frame's teacher features for a set of videos.

    Each video is decoded once for all teachers, in ``num_workers`` DataLoader workers; the
    frames of consecutive videos are batched together (``batch_size`` frames per teacher
    forward, across video boundaries), on ``device``. Frames ``0, s, 2s, ...`` (``s`` =
    ``frame_stride``) are cached; with ``s > 1`` a lookup uses the nearest cached frame.

    Args:
        root: video root; cache keys are paths relative to it.
        teachers: specs (list or comma-separated string) or Teacher objects (moved to
            ``device``).
        out_dir: cache directory (created).
        videos: relative paths to cache (default: every video file under ``root``).
        size: square frame size the teachers see (default 112; each teacher then applies its
            own resize / normalisation).
        backend: ``open_video`` backend ("decord", "pyav", "frames").
        batch_size: frames per teacher forward.
        dtype: "float16" (default, half the disk) or "float32".
        frame_stride: cache every s-th frame (default 1: all frames).
        transform: ``f(uint8 T x H x W x 3, size) -> T x 3 x size x size`` in [0, 1] float, or
            uint8 (then divided by 255 on the device). Default :func:`center_crop_resize_uint8`.
        checkpoint_every: write the resumable index every this many videos.
        progress: tqdm bar over frames.
        device: where the teachers run: ``cpu`` (default), ``cuda``, ``cuda:N`` or ``auto``.
        num_workers: decoding worker processes (0: decode in this process).
        amp: on CUDA, run the teachers under bf16 autocast (the cache stores float16 anyway).
        say: where the line goes when another process is building this cache (this one then
            waits for it: the folder's ``.lock``).

    Returns:
        dict(files={spec: npy path}, videos=n, skips={key: reason}, computed=n, reused=n,
        frames=frames computed, seconds=wall time of the feature pass, device=str).
    """
    import time

    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    if isinstance(teachers, str):
        teachers = [s for s in teachers.split(",") if s.strip()]
    teachers = [t if isinstance(t, Teacher) else create_teacher(t) for t in teachers]
    if not teachers:
        raise ValueError("no teachers given")
    if dtype not in ("float16", "float32"):
        raise ValueError(f"dtype must be float16 or float32, not {dtype!r}")
    dev = _resolve_device(device)
    for t in teachers:
        t.to(dev)
        if dev.type == "cuda":
            t.to(memory_format=torch.channels_last)
    transform = transform or center_crop_resize_uint8
    root = Path(root).resolve()
    keys = list(videos) if videos is not None else find_videos(root)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    workers = max(0, int(num_workers))

    def loader(ds):
        return DataLoader(ds, batch_size=None, shuffle=False, num_workers=workers,
                          pin_memory=dev.type == "cuda", prefetch_factor=4 if workers else None)

    plan: dict[str, int] = {}
    skips: dict[str, str] = {}
    for key, n, err in tqdm(loader(_ScanVideos(root, keys, backend)), total=len(keys),
                            desc="scan videos", disable=not progress, leave=False):
        if err is None:
            plan[key] = n
        else:
            skips[key] = err
    # two processes building this cache at once (two seeds of a study side by side) would write
    # the same resumable partial file: the second waits here, then finds it finished
    with exclusive_lock(out / LOCK_NAME, what=f"the teacher cache {out}",
                        say=lambda m: say(f"teacher cache: {m}")):
        writers = [_TeacherCacheWriter(out, t, plan, root=str(root), size=size, dtype=dtype,
                                       frame_stride=frame_stride, backend=backend) for t in teachers]
        for w in writers:
            w.index["skips"].update(skips)
        todo = [k for k in plan if any(k not in w.done for w in writers)]
        total_frames = sum(-(-plan[k] // frame_stride) for k in todo)
        bar = tqdm(total=total_frames, unit="frame", desc=f"cache {len(teachers)} teacher(s) on {dev}",
                   disable=not progress)
        batchers = [_FrameBatcher(w, batch_size, dev, amp) for w in writers]
        decode = _DecodeVideos(root, todo, plan, backend=backend, size=size, frame_stride=frame_stride,
                               transform=transform, chunk=max(1, batch_size))
        t0 = time.perf_counter()
        for i, (key, frames, err) in enumerate(loader(decode)):
            if err is not None:
                for w in writers:
                    w.index["skips"][key] = err
                skips[key] = err
                continue
            for w, b in zip(writers, batchers):
                if key not in w.done:
                    b.add(key, frames)
            bar.update(len(frames))
            if (i + 1) % checkpoint_every == 0:
                for w in writers:
                    w.checkpoint()
        for b in batchers:
            b.flush()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        seconds = time.perf_counter() - t0
        bar.close()
        files = {w.teacher.spec: str(w.finish()) for w in writers}
        computed = len(set().union(*(b.written for b in batchers))) if batchers else 0
        return {"files": files, "videos": len(plan), "skips": skips, "computed": computed,
                "reused": min(w.reused for w in writers), "frames": total_frames - sum(
                    -(-plan[k] // frame_stride) for k in todo if k in skips),
                "seconds": seconds, "device": str(dev)}


class CachedGuidance:
    """Guidance features read from a teacher feature cache (see the module docstring for what
    this trades away: the guidance view's random crop).

    Args:
        cache_dir: directory written by :func:`cache_teacher_features`.
        teachers: specs to load, in this order (default: every teacher in the directory).
        root: video root to make absolute video paths relative (default: the root the cache
            was built from).
        device: where returned tensors go.

    Example:
        >>> cache = CachedGuidance("cache/", ["imagenet-efficientnet-lite0#size=112"])
        >>> [g] = cache(["Walk/v_Walk_g01_c01.mp4"], np.array([[0, 4, 8, 12]]))  # 1 x 1280
    """

    def __init__(self, cache_dir: str | os.PathLike, teachers: Sequence[str] | None = None, *,
                 root: str | os.PathLike | None = None, device: str | torch.device = "cpu"):
        self.cache_dir = Path(cache_dir)
        if teachers is None:
            paths = sorted(self.cache_dir.glob("*.json"))
        else:
            paths = [self.cache_dir / f"{cache_stem(s)}.json" for s in teachers]
        self.index: list[dict] = []
        self.arrays: list[np.ndarray] = []
        for path in paths:
            if not path.is_file():
                raise FileNotFoundError(f"no teacher cache {path}; build it with: dtgkit "
                                        f"cache-teachers --root ROOT --teachers SPEC --out "
                                        f"{self.cache_dir}")
            index = json.loads(path.read_text())
            npy = path.with_suffix(".npy")
            if not index.get("complete") or not npy.is_file():
                raise ValueError(f"teacher cache {path} is incomplete; rerun dtgkit "
                                 "cache-teachers to finish it")
            index["done"] = set(index["done"])
            self.index.append(index)
            self.arrays.append(np.load(npy, mmap_mode="r"))
        if not self.index:
            raise FileNotFoundError(f"no teacher caches in {self.cache_dir}")
        self.root = Path(root).resolve() if root else Path(self.index[0]["root"])
        self.device = torch.device(device)
        self._keys: dict[str | os.PathLike, str] = {}
        # per teacher: the first teacher whose rows sit exactly where its rows do (same videos,
        # offsets and stride): caches built together share one layout, so one row computation
        # serves them all in __call__
        self._layouts = [next(j for j, other in enumerate(self.index)
                              if other["frame_stride"] == index["frame_stride"]
                              and other["videos"] == index["videos"]
                              and other["done"] == index["done"]) for index in self.index]

    @property
    def specs(self) -> list[str]:
        return [i["spec"] for i in self.index]

    @property
    def feat_dims(self) -> list[int]:
        return [int(i["feat_dim"]) for i in self.index]

    def key(self, path: str | os.PathLike) -> str:
        """Cache key of a video path (relative to the cache root, POSIX separators). Memoised:
        resolving an absolute path asks the file system (a link may lead under the root), and
        a step asks for every video of its batch once per teacher."""
        k = self._keys.get(path)
        if k is None:
            p = Path(path)
            k = p.as_posix()
            if p.is_absolute():
                try:
                    k = p.resolve().relative_to(self.root).as_posix()
                except ValueError:
                    pass
            self._keys[path] = k
        return k

    def rows(self, teacher: int, path: str | os.PathLike, indices: np.ndarray) -> np.ndarray:
        """Cache rows of frame ``indices`` of one video (nearest cached frame if strided)."""
        index = self.index[teacher]
        key = self.key(path)
        if key not in index["videos"] or key not in index["done"]:
            reason = index["skips"].get(key)
            raise KeyError(f"video {key} is not in the teacher cache {self.cache_dir}"
                           + (f" (skipped when it was built: {reason})" if reason else
                              "; rebuild it with dtgkit cache-teachers"))
        start, num_frames = index["videos"][key]
        indices = np.asarray(indices)
        if indices.size and (indices.min() < 0 or indices.max() >= num_frames):
            raise IndexError(f"frame index out of range for {key} ({num_frames} frames cached)")
        stride = int(index["frame_stride"])
        last = -(-num_frames // stride) - 1
        return start + np.minimum(np.rint(indices / stride).astype(np.int64), last)

    def __call__(self, paths: Sequence[str | os.PathLike], indices: np.ndarray
                 ) -> list[torch.Tensor]:
        """Guidance features of N sampled sequences, one tensor per teacher.

        The N x T cache rows are computed once per row layout (caches built together share
        one), read in sorted order (kinder to a memmap on disk), and converted from float16 and
        averaged by torch: numpy's float16 conversion costs ~5x the rest of the lookup.

        Args:
            paths: N video paths (absolute, or relative to the cache root).
            indices: N x T frame indices (the guidance view's sampled frames).

        Returns:
            list over teachers of g: N x D_k float32 (mean over the T frames).
        """
        indices = np.asarray(indices).reshape(len(paths), -1)  # N x T
        out = []
        rows_of: dict[int, tuple[np.ndarray, np.ndarray, torch.Tensor]] = {}
        for k, array in enumerate(self.arrays):
            layout = self._layouts[k]
            if layout not in rows_of:
                rows = np.stack([self.rows(layout, p, idx) for p, idx in zip(paths, indices)])
                flat = rows.reshape(-1)  # N*T
                order = np.argsort(flat, kind="stable")
                back = np.empty_like(order)
                back[order] = np.arange(len(order))
                rows_of[layout] = (rows, flat[order], torch.from_numpy(back))
            rows, sorted_rows, back = rows_of[layout]
            got = torch.from_numpy(np.asarray(array)[sorted_rows])  # N*T x D, sorted, as stored
            feats = got.index_select(0, back).view(*rows.shape, -1).float()  # N x T x D
            out.append(feats.mean(dim=1).to(self.device))  # N x D
        return out


class GuidanceSource:
    """The ``use_cache`` switch: guidance features from live teachers or from a cache.

    Args:
        teachers: the frozen teachers (live mode).
        cache: a :class:`CachedGuidance` holding the same teachers (cache mode).
        use_cache: read features from ``cache`` instead of running the teachers on the
            guidance clip (faster; the guidance view loses its random crop).
    """

    def __init__(self, teachers: Sequence[Teacher], cache: CachedGuidance | None = None,
                 use_cache: bool = False) -> None:
        self.teachers = list(teachers)
        self.use_cache = use_cache
        self.cache = cache
        if use_cache:
            if cache is None:
                raise ValueError("use_cache=True needs a CachedGuidance")
            missing = [t.spec for t in self.teachers if t.spec not in cache.specs]
            if missing:
                raise ValueError(f"teacher(s) {missing} are not in the cache {cache.cache_dir} "
                                 f"(it holds {cache.specs})")
            self._order = [cache.specs.index(t.spec) for t in self.teachers]

    def __call__(self, guidance: torch.Tensor | None = None,
                 paths: Sequence[str] | None = None,
                 indices: np.ndarray | None = None) -> list[torch.Tensor]:
        """Guidance features, one N x D_k tensor per teacher.

        Args:
            guidance: N x T x 3 x H x W guidance clips (live mode).
            paths, indices: N video paths and N x T frame indices (cache mode).
        """
        if self.use_cache:
            if paths is None or indices is None:
                raise ValueError("cache mode needs the video paths and guidance frame indices")
            feats = self.cache(paths, indices)
            return [feats[i] for i in self._order]
        if guidance is None:
            raise ValueError("live mode needs the guidance clips")
        return [t(guidance) for t in self.teachers]


def _cmd_cache_teachers(args: argparse.Namespace) -> int:
    videos = None
    if args.list:
        lines = Path(args.list).read_text().splitlines()
        videos = [line.split()[0] for line in lines if line.strip()]
    result = cache_teacher_features(args.root, args.teachers, args.out, videos=videos,
                                    size=args.size, backend=args.backend,
                                    batch_size=args.batch_size, dtype=args.dtype,
                                    frame_stride=args.frame_stride, progress=not args.quiet,
                                    device=args.device, num_workers=args.workers,
                                    amp=not args.no_amp)
    rate = result["frames"] / max(result["seconds"], 1e-9)
    print(f"{result['videos']} videos: {result['computed']} computed, {result['reused']} "
          f"re-used, {len(result['skips'])} skipped ({result['frames']} frames in "
          f"{result['seconds']:.1f} s on {result['device']}, {rate:.0f} frames/s)")
    for key, reason in sorted(result["skips"].items()):
        print(f"  skipped {key}: {reason}")
    for spec, path in result["files"].items():
        print(f"{spec}: {path}")
    return 0


def add_cli(subparsers) -> None:
    """Adds ``cache-teachers`` to the dtgkit CLI."""
    p = subparsers.add_parser(
        "cache-teachers", help="precompute per-frame teacher features of a video set",
        description="Decode every video under ROOT once (in --workers processes) and store each "
                    "teacher's per-frame features in DIR/<teacher>.npy (+ .json index), frames "
                    "of consecutive videos batched together on --device. Resumable.")
    p.add_argument("--root", required=True, help="video root")
    p.add_argument("--teachers", required=True, help="comma-separated teacher specs")
    p.add_argument("--out", required=True, help="cache directory")
    p.add_argument("--list", default=None,
                   help="list file of videos relative to ROOT (first column), e.g. trainlist01.txt")
    p.add_argument("--size", type=int, default=112, help="frame size the teachers see (default 112)")
    p.add_argument("--backend", default="decord", choices=("decord", "pyav", "frames"))
    p.add_argument("--batch-size", type=int, default=256,
                   help="frames per teacher forward, across videos (default 256)")
    p.add_argument("--dtype", default="float16", choices=("float16", "float32"))
    p.add_argument("--frame-stride", type=int, default=1, help="cache every s-th frame")
    p.add_argument("--device", default="auto",
                   help="where the teachers run: auto (cuda when available), cpu, cuda, cuda:N")
    p.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1),
                   help="decoding worker processes (default min(8, CPUs); 0 = in this process)")
    p.add_argument("--no-amp", action="store_true", help="on CUDA, run the teachers in fp32")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_cache_teachers)

"""Video readers: decord, PyAV and folders of extracted frames, behind one small interface.

:func:`open_video` returns a reader with ``.path``, ``.num_frames``, ``.fps``, ``.height``,
``.width`` and ``.get_frames(indices)`` -> uint8 ``T x H x W x 3`` RGB. Every failure to read a
video (missing, empty, truncated, corrupt, not a video) raises :class:`VideoDecodeError`, which
names the file and the reason, so a dataset can skip the video and keep going.

Frame-count policy (containers that over-report their length, decord #373):

* ``num_frames`` on open is the number of video packets the demuxer finds (decord's index,
  PyAV's demux count), never a header field: a truncated AVI whose header says 40 frames but
  holds 3 reports 3.
* Packets can still fail to become frames: a truncated or corrupt tail, or MPEG-4 "not coded"
  placeholder frames (xvid ``.avi``, as in HMDB51). ``verify`` chooses how hard
  :func:`open_video` looks:

  - ``"tail"`` (default): decode the last frame on open (decord), or the last group of
    pictures (PyAV). If that fails or comes up short, count what really decodes (a sequential
    PyAV decode) and lower ``num_frames`` to it. Costs one seek and up to one GOP.
  - ``"full"``: always count with a full sequential PyAV decode (what ``check-videos`` does).
  - ``"none"``: trust the packet count.

  A count found by ``"tail"`` or ``"full"`` is remembered for the process (keyed by path, size
  and modification time), so a dataset pays for the check once per file, not once per clip.

* Whatever ``verify`` says, a decode failure inside :meth:`~VideoReader.get_frames` triggers
  the same count, lowers ``num_frames`` and retries; only if no frame decodes at all is
  :class:`VideoDecodeError` raised. The decodable part is always a prefix: frames after the
  first undecodable one are not used.
* A container that declares a frame count in its header (AVI, MP4) but holds fewer packets
  was cut short (a truncated download): ``header_frames`` keeps the declared count and
  :attr:`~VideoReader.short_reason` says what is missing (also when fewer frames decode than
  the packets promise). Datasets record such videos (``short_report()``) and use the frames
  there are; ``check-videos`` lists them as warnings.
* Indices ``>= num_frames`` are clamped to ``num_frames - 1`` (the last decodable frame is
  repeated). That is also what decord itself returns for a single index past a short tail, and
  it keeps indices sampled from a longer, reported length valid. Negative indices are an error.
* decord can hang *inside native code holding the GIL* on some such files (decord #373, #375);
  nothing in-process can interrupt that. :func:`dtgkit.data.check_videos.check_videos` therefore probes each file in a
  watchdog process and reports hangs and crashes, so they can be removed or re-encoded before
  training, as mmaction2's ``tools/analysis_tools/check_videos.py`` is used.

decord and PyAV decode with FFmpeg's decoders and convert to RGB with the same swscale path:
on H.264 files they return identical pixels (``tests/data/test_video.py`` checks it).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from typing import Self

__all__ = [
    "BACKENDS",
    "VIDEO_EXTENSIONS",
    "DecordReader",
    "FrameFolderReader",
    "PyAVReader",
    "VideoDecodeError",
    "VideoReader",
    "count_decodable_frames",
    "open_video",
]

BACKENDS = ("auto", "decord", "pyav", "torchcodec", "frames")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm")
VERIFY_MODES = ("none", "tail", "full")
#: mmaction2's rawframe naming, 1-based: img_00001.jpg, img_00002.jpg, ...
DEFAULT_TEMPLATE = "img_{:05d}.jpg"


#: frame counts already verified in this process: (path, size, mtime_ns, backend) -> num_frames.
#: ``verify="tail"`` consults it, so each file is checked once per process, not once per clip.
_VERIFIED_COUNTS: dict[tuple[str, int, int, str], int] = {}
#: (path, size, mtime_ns) -> (frames the container header declares or None, packets present)
_CONTAINER_COUNTS: dict[tuple[str, int, int], tuple[int | None, int]] = {}


def _count_key(path: str, backend: str) -> tuple[str, int, int, str]:
    stat = os.stat(path)
    return os.path.abspath(path), stat.st_size, stat.st_mtime_ns, backend


class VideoDecodeError(RuntimeError):
    """A video could not be read. ``.path`` and ``.reason`` say which file and why."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def short_error(err: BaseException, path: str | None = None) -> str:
    """One line of a library error (decord's carry C++ stack traces), without the file name."""
    lines = [ln.strip() for ln in str(err).strip().splitlines() if ln.strip()]
    text = lines[0] if lines else ""
    text = re.sub(r"\[\d\d:\d\d:\d\d\] \S+:\d+: ", "", text)  # decord's "[time] file.cc:123: "
    text = re.sub(r"\[Errno -?\d+\] ", "", text)
    if path:
        text = text.replace(f": '{path}'", "").replace(f" {path}", "").replace(path, "the file")
    return f"{type(err).__name__}: {text}"[:300]


class VideoReader:
    """Base reader. Subclasses fill the attributes and implement :meth:`_read`.

    Attributes:
        path: the video file (or frame folder).
        backend: ``"decord"``, ``"pyav"`` or ``"frames"``.
        num_frames: frames that can be read (see the module's frame-count policy).
        reported_frames: what the container reported on open (>= ``num_frames``).
        header_frames: the count the container's header declares (None: it declares none, or
            it was not read, ``verify="none"``).
        present_frames: the video packets in the file, empty ones included (None: not read).
        fps: average frame rate, ``None`` for a frame folder without one given.
        height, width: frame size in pixels.
    """

    backend = ""

    def __init__(self, path: str):
        self.path = path
        self.num_frames = 0
        self.reported_frames = 0
        self.header_frames: int | None = None
        self.present_frames: int | None = None
        self.fps: float | None = None
        self.height = 0
        self.width = 0

    def get_frames(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Decode frames by index.

        Args:
            indices: frame indices (any order, repeats allowed), each ``>= 0``; indices
                ``>= num_frames`` are clamped to the last frame.

        Returns:
            uint8 array ``T x H x W x 3`` (RGB), ``T = len(indices)``.

        Raises:
            VideoDecodeError: no requested frame can be decoded.
            ValueError: a negative index.
        """
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)  # T
        if idx.size and idx.min() < 0:
            raise ValueError(f"{self.path}: negative frame index {int(idx.min())}")
        if idx.size == 0:
            return np.empty((0, self.height, self.width, 3), np.uint8)
        return self._read(idx)

    def _clamp(self, idx: np.ndarray) -> np.ndarray:
        return np.minimum(idx, self.num_frames - 1)

    def _lower_count(self, decodable: int, why: str) -> None:
        """Apply the clamp policy after finding that only ``decodable`` frames decode."""
        if decodable < 1:
            raise VideoDecodeError(self.path, f"no frame decodes ({why})")
        if decodable < self.num_frames:
            warnings.warn(
                f"{self.path}: only {decodable} of {self.reported_frames} reported frames decode "
                f"({why}); later indices are clamped to frame {decodable - 1}",
                RuntimeWarning,
                stacklevel=3,
            )
            self.num_frames = decodable
            key = getattr(self, "_key", None)
            if key is not None:
                _VERIFIED_COUNTS[key] = decodable

    @property
    def short_reason(self) -> str | None:
        """Why this video gives fewer frames than it declares, or None when it does not: a
        header count above the packets present (cut short), or fewer frames that decode than
        packets (a corrupt tail, not-coded frames)."""
        why = []
        if self.header_frames and self.present_frames is not None \
                and self.present_frames < self.header_frames:
            why.append(f"its header declares {self.header_frames} frames, the file holds "
                       f"{self.present_frames} (truncated?)")
        if self.num_frames < self.reported_frames:
            why.append(f"only {self.num_frames} of {self.reported_frames} frames decode")
        return "; ".join(why) or None

    def _read_container_counts(self) -> None:
        """``header_frames`` and ``present_frames`` (one PyAV demux pass, once per file)."""
        self.header_frames, self.present_frames = container_frame_counts(self.path)

    def _verify(self, verify: str) -> None:
        """Apply ``verify`` ("none", "tail", "full") after open; remember what it found."""
        if verify == "none":
            return
        if self.present_frames is None:
            self._read_container_counts()
        self._key = _count_key(self.path, self.backend)
        known = _VERIFIED_COUNTS.get(self._key)
        if verify == "tail" and known is not None:
            self._lower_count(known, "verified on an earlier open")
            return
        if verify == "full":
            self._lower_count(*self._count_all())
        else:
            self._check_tail()
        _VERIFIED_COUNTS[self._key] = self.num_frames

    def _count_all(self) -> tuple[int, str]:
        """(frames that decode, counted by a full PyAV decode; why fewer than reported)."""
        return count_decodable_frames(self.path), "counted with PyAV"

    def _check_tail(self) -> None:
        """Check that the last frames decode; lower ``num_frames`` if not."""
        raise NotImplementedError

    def _read(self, idx: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        """Release the file. Safe to call twice."""

    def __len__(self) -> int:
        return self.num_frames

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.path!r}, num_frames={self.num_frames}, "
            f"fps={self.fps}, size={self.width}x{self.height})"
        )


# ---------------------------------------------------------------------------------------- PyAV


def _open_container(path: str):
    import av

    try:
        container = av.open(path)
    except Exception as err:  # av raises many error types for the same "not a video"
        raise VideoDecodeError(path, f"cannot open the container ({short_error(err, path)})") from err
    if not container.streams.video:
        container.close()
        raise VideoDecodeError(path, "no video stream")
    # one decoding thread, like decord's num_threads=1: DataLoader workers are the parallelism
    container.streams.video[0].codec_context.thread_count = 1
    return container


def _decode_prefix(container, stream, stop: int | None, keep: Iterable[int] = ()):
    """Decode frames ``0..stop`` (all if ``None``) in presentation order, from where the
    container stands (a fresh or rewound container: the start).

    Returns:
        (decoded, frames, last, error): how many frames decoded, ``{index: H x W x 3}`` for the
        indices in ``keep``, the last decoded frame as an array (or ``None``), and the first
        decode error as text (``None`` when it reached ``stop`` or the end cleanly).
    """
    import av

    keep = set(keep)
    frames: dict[int, np.ndarray] = {}
    count, last, error = 0, None, None

    def take(frame) -> None:
        nonlocal count, last
        if count in keep:
            frames[count] = frame.to_ndarray(format="rgb24")  # H x W x 3, same swscale as decord
        last = frame
        count += 1

    try:
        for packet in container.demux(stream):
            for frame in stream.decode(packet):
                take(frame)
                if stop is not None and count > stop:
                    return count, frames, _rgb(last), None
    except (av.FFmpegError, ValueError, OSError) as err:
        error = short_error(err)
        try:  # frames the decoder still holds (B-frame reordering) decoded fine
            for frame in stream.decode(None):
                take(frame)
        except (av.FFmpegError, ValueError, OSError):
            pass
    return count, frames, _rgb(last), error


def _rgb(frame) -> np.ndarray | None:
    return None if frame is None else frame.to_ndarray(format="rgb24")


def container_frame_counts(path: str | os.PathLike) -> tuple[int | None, int | None]:
    """(frames the container's header declares or None, video packets present in the file,
    empty ones included), from one PyAV demux pass without decoding; remembered per file
    version. ``(None, None)`` when PyAV cannot open the file."""
    path = os.fspath(path)
    try:
        stat = os.stat(path)
    except OSError:
        return None, None
    key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
    if key not in _CONTAINER_COUNTS:
        try:
            container = _open_container(path)
        except VideoDecodeError:
            return None, None
        try:
            stream = container.streams.video[0]
            present = sum(1 for p in container.demux(stream) if p.size or p.dts is not None)
            _CONTAINER_COUNTS[key] = (int(stream.frames) or None, present)
        except Exception:  # noqa: BLE001 - a demux error mid-file: count unknown
            return None, None
        finally:
            container.close()
    return _CONTAINER_COUNTS[key]


def count_decodable_frames(path: str | os.PathLike) -> int:
    """Frames that decode, counted by a full sequential PyAV decode (stops at the first error).

    This is the ground truth the readers clamp to; it costs a full decode.

    Raises:
        VideoDecodeError: the container cannot be opened or has no video stream.
    """
    path = os.fspath(path)
    container = _open_container(path)
    try:
        return _decode_prefix(container, container.streams.video[0], None)[0]
    finally:
        container.close()


class PyAVReader(VideoReader):
    """Reads frames with PyAV: one sequential decode from the first frame per call, up to the
    largest index, converting to RGB only the frames asked for (any order, repeats). It never
    seeks into the middle of a video, so frame ``i`` is exactly the ``i``-th decoded frame on any
    container; the cost grows with the largest index, which suits short clips."""

    backend = "pyav"

    def __init__(self, path: str, verify: str = "tail"):
        super().__init__(path)
        self._container = _open_container(path)
        try:
            self._stream = stream = self._container.streams.video[0]
            self.height, self.width = stream.codec_context.height, stream.codec_context.width
            rate = stream.average_rate or stream.guessed_rate
            self.fps = float(rate) if rate else None
            pts, keys, present = [], [], 0
            for packet in self._container.demux(stream):
                present += bool(packet.size or packet.dts is not None)  # not the flush packet
                if packet.size:
                    pts.append(packet.pts)
                    if packet.is_keyframe:
                        keys.append(packet.pts)
            self.num_frames = self.reported_frames = len(pts)
            self.header_frames, self.present_frames = int(stream.frames) or None, present
            if not pts:
                raise VideoDecodeError(path, "the video stream holds no frames")
            self._pts, self._keys = pts, keys
            self._verify(verify)
        except BaseException:
            self.close()
            raise

    def _rewind(self) -> None:
        """Back to the first frame: seek to 0, or reopen where the container cannot seek."""
        try:
            self._container.seek(0, backward=True, any_frame=False, stream=self._stream)
        except Exception:  # noqa: BLE001 - av.FFmpegError, PermissionError, ... on odd containers
            self._container.close()
            self._container = _open_container(self.path)
            self._stream = self._container.streams.video[0]

    def _count_all(self) -> tuple[int, str]:
        self._rewind()
        decoded, _, _, error = _decode_prefix(self._container, self._stream, None)
        return decoded, error or "the stream ends early"

    def _check_tail(self) -> None:
        """Decode the last GOP; if it yields fewer frames than it has packets, count all."""
        import av

        pts, keys = self._pts, self._keys
        if None in pts or not keys:  # no timestamps to seek by: count sequentially
            return self._lower_count(*self._count_all())
        start = keys[-1]
        expected = sum(1 for p in pts if p >= start)
        got = 0
        try:
            self._container.seek(start, backward=True, any_frame=False, stream=self._stream)
            for frame in self._container.decode(self._stream):
                got += frame.pts is None or frame.pts >= start
        except (av.FFmpegError, ValueError, OSError):
            pass
        if got < expected:
            self._lower_count(*self._count_all())

    def _read(self, idx: np.ndarray) -> np.ndarray:
        idx = self._clamp(idx)
        stop = int(idx.max())
        self._rewind()
        decoded, frames, last, error = _decode_prefix(self._container, self._stream, stop, idx)
        if decoded <= stop:  # ended before the largest index: clamp to what decoded
            self._lower_count(decoded, error or "the stream ends early")
            idx = self._clamp(idx)
            frames[decoded - 1] = last
        return np.stack([frames[i] for i in idx.tolist()])  # T x H x W x 3

    def close(self) -> None:
        if getattr(self, "_container", None) is not None:
            self._container.close()
            self._container = None


# -------------------------------------------------------------------------------------- decord


class DecordReader(VideoReader):
    """Reads frames with ``decord.VideoReader(path, ctx=cpu(0), num_threads=1).get_batch``
    (seeks to the nearest keyframe: fast random access). On a decode error it counts the
    decodable frames with PyAV, clamps, and retries; if decord still fails, the frames come
    from PyAV (identical pixels)."""

    backend = "decord"

    def __init__(self, path: str, verify: str = "tail"):
        super().__init__(path)
        self._fallback: PyAVReader | None = None
        try:
            import decord

            self._vr = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=1)
            self.num_frames = self.reported_frames = len(self._vr)
            self.fps = float(self._vr.get_avg_fps()) or None
        except Exception as err:  # DECORDError, RuntimeError, AssertionError on 0 frames, ...
            self._vr = None
            raise VideoDecodeError(path, f"decord cannot read it ({short_error(err, path)})") from err
        try:
            first = self._vr.get_batch([0]).asnumpy()  # 1 x H x W x 3
        except Exception as err:  # noqa: BLE001 - any decord failure: count with PyAV
            self._recover(err)
            first = self._fallback.get_frames([0])
        self.height, self.width = first.shape[1:3]
        self._verify(verify)

    def _check_tail(self) -> None:
        if self.num_frames > 1 and self._fallback is None:
            try:
                self._vr.get_batch([self.num_frames - 1])
            except Exception as err:  # noqa: BLE001 - any decord failure: count with PyAV
                self._recover(err)

    def _recover(self, err: BaseException) -> None:
        """decord failed: count what decodes with PyAV and keep a PyAV reader as fallback."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # we warn below, once
                self._fallback = PyAVReader(self.path, verify="full")
        except VideoDecodeError as err2:
            raise VideoDecodeError(self.path, f"{err2.reason}; decord: {short_error(err)}") from err
        self._lower_count(self._fallback.num_frames, f"decord: {short_error(err)}")

    def _read(self, idx: np.ndarray) -> np.ndarray:
        try:
            return self._batch(self._clamp(idx))
        except Exception as err:  # noqa: BLE001 - any decord failure: count with PyAV
            if self._fallback is None:
                self._recover(err)
        clamped = self._clamp(idx)
        try:
            return self._batch(clamped)
        except Exception:  # noqa: BLE001 - decord still fails: PyAV gives the same pixels
            return self._fallback.get_frames(clamped)

    def _batch(self, idx: np.ndarray) -> np.ndarray:
        # decord seeks back for every decreasing index; ask once per frame, in order
        unique, inverse = np.unique(idx, return_inverse=True)
        frames = _decord_numpy(self._vr.get_batch(unique.tolist()))  # U x H x W x 3
        return frames if len(unique) == len(idx) and (unique == idx).all() else frames[inverse]

    def close(self) -> None:
        self._vr = None  # decord frees its handle on garbage collection
        if self._fallback is not None:
            self._fallback.close()
            self._fallback = None


def _decord_numpy(batch) -> np.ndarray:
    """A decord NDArray as numpy without copying it (DLPack: decord's own torch bridge), which
    saves a copy of every decoded frame (``asnumpy`` copies); the array keeps the buffer alive."""
    from torch.utils.dlpack import from_dlpack

    return from_dlpack(batch.to_dlpack()).numpy()


# ---------------------------------------------------------------------------------- torchcodec


class TorchCodecReader(VideoReader):
    """Reads frames with ``torchcodec.decoders.VideoDecoder(path, seek_mode="exact")
    .get_frames_at`` (optional: torchcodec is not a dependency and needs FFmpeg's shared
    libraries on the system; ``backend="torchcodec"`` says so when it cannot load)."""

    backend = "torchcodec"

    def __init__(self, path: str, verify: str = "tail"):
        super().__init__(path)
        try:
            from torchcodec.decoders import VideoDecoder
        except Exception as err:  # ImportError, or RuntimeError/OSError: FFmpeg libraries missing
            raise ImportError(f"torchcodec is not usable here ({short_error(err)}); install it with "
                              "`pip install torchcodec` and FFmpeg's shared libraries") from err
        try:
            self._dec = VideoDecoder(path, dimension_order="NHWC", seek_mode="exact")
            meta = self._dec.metadata
            self.num_frames = self.reported_frames = len(self._dec)
            self.fps = float(meta.average_fps) if meta.average_fps else None
            self.height, self.width = int(meta.height), int(meta.width)
        except Exception as err:
            self._dec = None
            raise VideoDecodeError(path, f"torchcodec cannot read it ({short_error(err, path)})") from err
        if self.num_frames < 1:
            raise VideoDecodeError(path, "no frame decodes (0 frames reported)")
        self._verify(verify)

    def _check_tail(self) -> None:
        try:
            self._dec.get_frames_at([self.num_frames - 1])
        except Exception as err:  # noqa: BLE001 - count with PyAV, then clamp
            self._lower_count(count_decodable_frames(self.path), f"torchcodec: {short_error(err)}")

    def _read(self, idx: np.ndarray) -> np.ndarray:
        unique, inverse = np.unique(self._clamp(idx), return_inverse=True)
        try:
            frames = self._dec.get_frames_at(unique.tolist()).data.numpy()  # U x H x W x 3
        except Exception as err:
            raise VideoDecodeError(self.path, f"torchcodec: {short_error(err)}") from err
        return frames[inverse]

    def close(self) -> None:
        self._dec = None


# ------------------------------------------------------------------------------ frame folders


def _template_regex(template: str) -> re.Pattern:
    """``img_{:05d}.jpg`` -> a regex matching any frame number."""
    parts = re.split(r"\{[^}]*\}", template)
    if len(parts) != 2:
        raise ValueError(f"frame template needs exactly one {{}} field: {template!r}")
    return re.compile(re.escape(parts[0]) + r"\d+" + re.escape(parts[1]))


class FrameFolderReader(VideoReader):
    """Reads a folder of extracted frames (``img_00001.jpg``, ... 1-based, as many labs store
    UCF101 / HMDB51) with PIL.

    ``num_frames`` counts consecutive frames from ``start_index``; files after a gap in the
    numbering are not used (``reported_frames`` counts every name matching the template).

    Args:
        path: the folder.
        template: file name of frame ``i`` as ``template.format(i)``.
        start_index: number of the first frame (mmaction2: 1).
        fps: frame rate to report (a folder has none).
    """

    backend = "frames"

    def __init__(
        self,
        path: str,
        template: str = DEFAULT_TEMPLATE,
        start_index: int = 1,
        fps: float | None = None,
    ):
        super().__init__(path)
        if not os.path.isdir(path):
            raise VideoDecodeError(path, "frame folder not found")
        self.template, self.start_index, self.fps = template, start_index, fps
        names = set(os.listdir(path))
        pattern = _template_regex(template)
        self.reported_frames = sum(1 for name in names if pattern.fullmatch(name))
        count = 0
        while template.format(start_index + count) in names:
            count += 1
        self.num_frames = count
        if count == 0:
            raise VideoDecodeError(path, f"no frame named {template.format(start_index)}")
        first = self._load(0)  # H x W x 3
        self.height, self.width = first.shape[:2]

    def _load(self, i: int) -> np.ndarray:
        from PIL import Image

        file = os.path.join(self.path, self.template.format(self.start_index + i))
        try:
            with Image.open(file) as image:
                return np.asarray(image.convert("RGB"))  # H x W x 3
        except Exception as err:  # PIL: UnidentifiedImageError, OSError (truncated), ...
            raise VideoDecodeError(file, f"cannot decode frame ({short_error(err)})") from err

    def _read(self, idx: np.ndarray) -> np.ndarray:
        idx = self._clamp(idx)
        frames = {i: self._load(i) for i in sorted(set(idx.tolist()))}
        shapes = {f.shape for f in frames.values()}
        if len(shapes) > 1:
            raise VideoDecodeError(self.path, f"frames differ in size: {sorted(shapes)}")
        return np.stack([frames[i] for i in idx.tolist()])  # T x H x W x 3


# ---------------------------------------------------------------------------------- open_video


def open_video(
    path: str | os.PathLike,
    backend: str = "decord",
    *,
    verify: str = "tail",
    template: str = DEFAULT_TEMPLATE,
    start_index: int = 1,
    fps: float | None = None,
) -> VideoReader:
    """Open a video (or a folder of frames) for random access by frame index.

    Args:
        path: a video file, or a folder of frames for ``backend="frames"``.
        backend: ``"decord"`` (default), ``"pyav"``, ``"torchcodec"`` (optional, when it is
            installed with FFmpeg's libraries), ``"frames"``, or ``"auto"``: frames for a
            folder, else decord, falling back to PyAV when decord cannot open the file.
        verify: ``"tail"`` (default), ``"full"`` or ``"none"``: how hard to check that the
            reported frames decode (module docstring: frame-count policy). Video files only.
        template, start_index, fps: frame-folder naming and frame rate (``"frames"`` only).

    Returns:
        A :class:`VideoReader`; use it as a context manager or call ``close()``.

    Raises:
        VideoDecodeError: missing, empty, truncated, corrupt or non-video input.
        ValueError: unknown ``backend`` or ``verify``.
    """
    path = os.fspath(path)
    if backend not in BACKENDS:
        raise ValueError(f"unknown video backend {backend!r}; choose from {BACKENDS}")
    if verify not in VERIFY_MODES:
        raise ValueError(f"unknown verify mode {verify!r}; choose from {VERIFY_MODES}")
    if not os.path.exists(path):
        raise VideoDecodeError(path, "file not found")
    if backend == "frames" or (backend == "auto" and os.path.isdir(path)):
        return FrameFolderReader(path, template=template, start_index=start_index, fps=fps)
    if os.path.isdir(path):
        raise VideoDecodeError(path, f"is a folder; use backend='frames' (not {backend!r})")
    if os.path.getsize(path) == 0:
        raise VideoDecodeError(path, "empty file (0 bytes)")
    if backend == "pyav":
        return PyAVReader(path, verify=verify)
    if backend == "decord":
        return DecordReader(path, verify=verify)
    if backend == "torchcodec":
        return TorchCodecReader(path, verify=verify)
    try:  # auto
        return DecordReader(path, verify=verify)
    except (VideoDecodeError, ImportError) as err:
        first = err.reason if isinstance(err, VideoDecodeError) else short_error(err)
    try:
        return PyAVReader(path, verify=verify)
    except VideoDecodeError as err:
        raise VideoDecodeError(path, f"{err.reason}; {first}") from err

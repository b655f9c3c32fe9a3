"""``dtgkit check-videos ROOT``: find the videos that will not decode before training does.

Each file is read the way training reads it (:func:`probe_video`: every frame, in chunks, with
the reader of :func:`dtgkit.data.video.open_video`), inside a watchdog process
(:class:`_Watchdog`): decord can hang in native code holding the GIL on some over-reporting
files (decord #373, #375), which nothing in-process can interrupt. Like mmaction2's
``tools/analysis_tools/check_videos.py``, the result is a list of bad files (errors, hangs,
crashes, and warnings such as fewer frames than reported) to remove or re-encode.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import sys
import warnings
from collections.abc import Iterable, Sequence

import numpy as np

from dtgkit.data.video import (
    BACKENDS,
    DEFAULT_TEMPLATE,
    VIDEO_EXTENSIONS,
    VideoDecodeError,
    container_frame_counts,
    count_decodable_frames,
    open_video,
    short_error,
)

__all__ = ["add_cli", "check_videos", "probe_video"]


# -------------------------------------------------------------------------------- check_videos


def probe_video(path: str | os.PathLike, backend: str = "auto", chunk: int = 32, **kwargs):
    """Read every frame of one video as training would, and count what really decodes.

    Args:
        path: video file or frame folder.
        backend: as in :func:`open_video`.
        chunk: frames per ``get_frames`` call while reading through (decord / frames).
        **kwargs: ``template``, ``start_index`` for frame folders.

    Returns:
        ``None`` when the video is fine, else ``(status, reason)`` with status ``"error"``
        (it cannot be used) or ``"warning"`` (it holds fewer frames than its container header
        declares, or fewer decode than it has packets; readers clamp, see the frame-count
        policy).
    """
    path = os.fspath(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            with open_video(path, backend, verify="none", **kwargs) as reader:
                if reader.backend == "pyav":
                    reader._lower_count(*reader._count_all())
                else:
                    for start in range(0, reader.num_frames, chunk):
                        reader.get_frames(np.arange(start, min(start + chunk, reader.num_frames)))
                    if reader.backend == "decord":
                        reader._lower_count(count_decodable_frames(path), "counted with PyAV")
                if reader.backend != "frames" and reader.present_frames is None:
                    reader.header_frames, reader.present_frames = container_frame_counts(path)
                short = reader.short_reason
    except VideoDecodeError as err:
        return "error", err.reason
    if short:
        return "warning", f"{short}; training uses the frames that decode"
    return None


def _probe_worker(conn) -> None:
    """Watchdog child: probe paths sent over ``conn`` until it receives ``None``."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # FFmpeg / decord log to stderr; the parent prints the table
    while True:
        item = conn.recv()
        if item is None:
            return
        path, backend, kwargs = item
        try:
            conn.send(probe_video(path, backend, **kwargs))
        except Exception as err:  # noqa: BLE001 - an unexpected library error is a bad video
            conn.send(("error", short_error(err)))


class _Watchdog:
    """Runs :func:`probe_video` in a child process that is killed when it hangs or crashes."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self._ctx = multiprocessing.get_context("spawn")
        self._proc = None

    def _start(self) -> None:
        self._conn, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_probe_worker, args=(child,), daemon=True)
        self._proc.start()
        child.close()

    def probe(self, path: str, backend: str, kwargs: dict):
        if self._proc is None:
            self._start()
        try:
            self._conn.send((path, backend, kwargs))
            if self._conn.poll(self.timeout):
                return self._conn.recv()
            result = "error", f"decoding hung for more than {self.timeout:g} s (killed)"
        except (EOFError, OSError):
            self._proc.join(1)
            result = "error", f"the decoder crashed (exit code {self._proc.exitcode})"
        self._kill()
        return result

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join()
            self._conn.close()
            self._proc = None

    def close(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            try:
                self._conn.send(None)
                self._proc.join(5)
            except OSError:
                pass
        self._kill()


def _collect(
    root_or_paths, backend: str, extensions: Sequence[str], template: str, start_index: int
) -> list[str]:
    """The videos (or frame folders) under a root, sorted; or the given paths."""
    if not isinstance(root_or_paths, (str, os.PathLike)):
        return [os.fspath(p) for p in root_or_paths]
    root = os.fspath(root_or_paths)
    if not os.path.exists(root):
        raise FileNotFoundError(f"video root not found: {root}")
    if not os.path.isdir(root):
        return [root]
    exts = tuple(e.lower() for e in extensions)
    found = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        if backend == "frames":
            if template.format(start_index) in files:
                found.append(folder)
        else:
            found += [os.path.join(folder, f) for f in sorted(files) if f.lower().endswith(exts)]
    return found


def check_videos(
    root_or_paths: str | os.PathLike | Iterable[str | os.PathLike],
    backend: str = "auto",
    extensions: Sequence[str] = VIDEO_EXTENSIONS,
    progress: bool = True,
    *,
    timeout: float | None = 120.0,
    template: str = DEFAULT_TEMPLATE,
    start_index: int = 1,
) -> list[tuple[str, str]]:
    """Find videos that cannot be used for training (cf. mmaction2 ``check_videos.py``).

    Each video is read through, frame by frame, with ``backend`` and its decodable frames are
    counted with PyAV (:func:`probe_video`), inside a watchdog process: a decoder that hangs
    (decord #373) is killed after ``timeout`` seconds, one that crashes is reported.

    Args:
        root_or_paths: a folder (searched recursively for ``extensions``; for
            ``backend="frames"``, for folders holding a first frame), one file, or a list.
        backend: as in :func:`open_video`.
        extensions: file endings of videos (case-insensitive).
        progress: show a tqdm bar on stderr.
        timeout: seconds per video before it counts as hung; ``None`` probes in this process.
        template, start_index: frame-folder naming.

    Returns:
        ``[(path, reason), ...]`` for bad videos only, in path order; ``reason`` starts with
        ``"error: "`` (unusable) or ``"warning: "`` (fewer frames decode than reported).

    Raises:
        FileNotFoundError: ``root_or_paths`` is a path that does not exist.
    """
    from tqdm.auto import tqdm

    paths = _collect(root_or_paths, backend, extensions, template, start_index)
    kwargs = {"template": template, "start_index": start_index}
    watchdog = _Watchdog(timeout) if timeout else None
    bad = []
    try:
        for path in tqdm(paths, desc="check-videos", unit="video", disable=not progress):
            if watchdog is not None:
                result = watchdog.probe(path, backend, kwargs)
            else:
                result = probe_video(path, backend, **kwargs)
            if result is not None:
                bad.append((path, f"{result[0]}: {result[1]}"))
    finally:
        if watchdog is not None:
            watchdog.close()
    return bad


# ------------------------------------------------------------------------------------------ CLI


def add_cli(subparsers) -> None:
    """Add ``dtgkit check-videos ROOT [--backend B] [--json OUT] [--timeout S] ...``."""
    parser = subparsers.add_parser(
        "check-videos",
        help="find videos that do not decode, or decode fewer frames than they report",
        description="Read every video under ROOT and list the bad ones. Exit code 1 if any "
        "is found (warnings included unless --ignore-warnings), else 0.",
    )
    parser.add_argument("root", help="folder of videos (searched recursively) or one video")
    parser.add_argument("--backend", default="auto", choices=BACKENDS)
    parser.add_argument("--json", dest="json_out", metavar="OUT", help="also write a JSON report")
    parser.add_argument(
        "--extensions", default=",".join(VIDEO_EXTENSIONS), help="comma-separated file endings"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds per video before it counts as hung (0: no watchdog)",
    )
    parser.add_argument(
        "--template", default=DEFAULT_TEMPLATE, help="frame file names (--backend frames)"
    )
    parser.add_argument(
        "--ignore-warnings", action="store_true", help="list and fail on errors only"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=_cli_check_videos)


def _cli_check_videos(args) -> int:
    extensions = tuple(e if e.startswith(".") else "." + e for e in args.extensions.split(",") if e)
    paths = _collect(args.root, args.backend, extensions, args.template, 1)
    bad = check_videos(
        paths,
        backend=args.backend,
        progress=not args.no_progress,
        timeout=args.timeout or None,
        template=args.template,
    )
    rows = []  # (status, path, reason)
    for path, text in bad:
        status, reason = text.split(": ", 1)
        if status == "error" or not args.ignore_warnings:
            rows.append((status, path, reason))
    if rows:
        shown = [
            os.path.relpath(p, args.root) if os.path.isdir(args.root) else p for _, p, _ in rows
        ]
        width = max(len(name) for name in shown)
        print(f"{'status':8} {'video':{width}} reason")
        for (status, _, reason), name in zip(rows, shown):
            print(f"{status:8} {name:{width}} {reason}")
    errors = sum(status == "error" for status, _, _ in rows)
    warned = len(rows) - errors
    print(f"checked {len(paths)} videos under {args.root}: {errors} errors, {warned} warnings")
    if args.json_out:
        report = {
            "root": os.path.abspath(args.root),
            "backend": args.backend,
            "checked": len(paths),
            "bad": [{"path": p, "status": s, "reason": r} for s, p, r in rows],
        }
        with open(args.json_out, "w", encoding="utf-8") as out:
            json.dump(report, out, indent=1)
    return 1 if rows else 0


if __name__ == "__main__":  # pragma: no cover - `python -m dtgkit.data.check_videos ROOT`
    import argparse

    _parser = argparse.ArgumentParser(prog="python -m dtgkit.data.check_videos")
    add_cli(_parser.add_subparsers(dest="command", required=True))
    _args = _parser.parse_args(["check-videos", *sys.argv[1:]])
    raise SystemExit(_args.func(_args))

"""Writing output files: whole or not at all, and one clear error when the disk says no.

Every file a run writes (checkpoints, ``config.yaml``, ``results.json``, ``metrics.jsonl``
rewrites, evaluation reports) goes through :func:`write_atomic`: the bytes go to ``NAME.tmp``,
are flushed to disk, and only then replace ``NAME``, so a reader (or a resumed run) never sees
half a file. When writing fails (disk full, no permission, a folder that is a file) the
temporary file is removed and :class:`OutputError` names the path.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["OutputError", "check_writable_dir", "exclusive_lock", "write_atomic", "write_text_atomic"]


class OutputError(OSError):
    """A file or folder could not be written; the message names it and says why."""

    def __init__(self, path: str | os.PathLike, err: OSError | str) -> None:
        why = err if isinstance(err, str) else (err.strerror or str(err))
        super().__init__(f"cannot write {path}: {why}")
        self.path = os.fspath(path)
        if isinstance(err, OSError):
            self.errno = err.errno


def write_atomic(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Write ``path`` through ``write(file)`` into ``path.tmp``, fsync, then rename.

    Raises:
        OutputError: the file could not be written (``path.tmp`` is removed).
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and not isinstance(err, OutputError):
            raise OutputError(path, err) from err
        raise
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """:func:`write_atomic` of a UTF-8 text."""
    return write_atomic(path, lambda fh: fh.write(text.encode("utf-8")))


def check_writable_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` (and its parents) if needed and check that files can be made in it.

    Raises:
        OutputError: naming the path: it (or a parent) is a file, or it is not writable.
    """
    path = Path(path)
    for parent in (path, *path.parents):
        if parent.exists() and not parent.is_dir():
            raise OutputError(path, f"{parent} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(path, err) from err
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(path, "permission denied (the folder is not writable)")
    return path


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike, *, say: Callable[[str], None] | None = None,
                   what: str = "") -> Iterator[Path]:
    """Hold an exclusive ``flock`` on ``path`` (created) for the ``with`` block.

    Used where two processes could build the same cache at once (two seeds of a study started
    side by side): the second one waits, then finds the cache finished. When the lock is
    taken, ``say`` (if given) gets one line naming the lock file and ``what`` is built, and
    the call blocks until the other process lets go. The lock goes with the process, so a
    killed builder never leaves a stale lock.

    Raises:
        OutputError: the lock file cannot be created.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise OutputError(path, err) from err
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if say is not None:
                say(f"waiting for another process building {what or path.parent} (lock {path})")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield path
    finally:
        os.close(fd)  # closing the descriptor releases the lock

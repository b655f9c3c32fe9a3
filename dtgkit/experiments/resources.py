"""What a run costs: wall time, CPU time and peak memory (:class:`ResourceMonitor`), and the
machine it ran on (:func:`machine_info`), for the reports of ``dtgkit demo`` / ``dtgkit ablate``
and for ``dtgkit bench``; :func:`quiet` is the ``say`` of a run nobody watches.
"""
from __future__ import annotations

import os
import platform
import resource
import threading
import time
from typing import Any

import torch

__all__ = ["ResourceMonitor", "cpu_seconds", "machine_info", "quiet"]


def quiet(msg: str) -> None:
    """A ``say`` that shows nothing (the experiments' functions report progress through ``say``)."""


def _proc_tree_memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in bytes summed over ``pid`` and its live descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    rss = pss = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            with open(f"/proc/{p}/smaps_rollup", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1]) * 1024
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
        except OSError:
            continue
    return rss, pss


class ResourceMonitor:
    """Wall time, CPU time and peak memory of this process and its children.

    * ``peak_rss_self`` / ``peak_rss_children``: ``resource.getrusage`` ``ru_maxrss`` of the
      process and of the largest waited-for child (DataLoader workers, encoders);
    * ``peak_tree_rss`` / ``peak_tree_pss``: the largest sum over the live process tree, sampled
      every ``interval`` s (RSS counts pages shared by forked workers once per process; PSS
      splits them, so it is the honest figure for "how much memory does this need").

    Use as a context manager (or ``start()`` / ``stop()``); :meth:`summary` gives a dict.
    """

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.peak_tree_rss = self.peak_tree_pss = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.wall = self.cpu = 0.0
        self._t0 = self._c0 = 0.0
        self.load_start = self.load_end = (0.0, 0.0, 0.0)

    @staticmethod
    def _cpu() -> float:
        s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime

    def _sample(self) -> None:
        if not os.path.exists("/proc/self/smaps_rollup"):
            return
        rss, pss = _proc_tree_memory(os.getpid())
        self.peak_tree_rss, self.peak_tree_pss = max(self.peak_tree_rss, rss), max(self.peak_tree_pss, pss)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def start(self) -> ResourceMonitor:
        self._t0, self._c0 = time.perf_counter(), self._cpu()
        self.load_start = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> ResourceMonitor:
        self._sample()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.wall = time.perf_counter() - self._t0
        self.cpu = self._cpu() - self._c0
        self.load_end = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
        return self

    def __enter__(self) -> ResourceMonitor:  # noqa: PYI034 (py3.10: no typing.Self)
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def summary(self) -> dict[str, Any]:
        kb = 1024  # ru_maxrss is in KiB on Linux
        s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return {"wall_s": round(self.wall, 1), "cpu_s": round(self.cpu, 1),
                "peak_rss_self_mb": round(s.ru_maxrss * kb / 2**20, 1),
                "peak_rss_children_mb": round(c.ru_maxrss * kb / 2**20, 1),
                "peak_tree_rss_mb": round(self.peak_tree_rss / 2**20, 1),
                "peak_tree_pss_mb": round(self.peak_tree_pss / 2**20, 1),
                "loadavg_start": [round(x, 2) for x in self.load_start],
                "loadavg_end": [round(x, 2) for x in self.load_end]}


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its waited-for children so far."""
    return ResourceMonitor._cpu()


def machine_info() -> dict[str, Any]:
    """CPU count, torch threads, platform and device: the 'machine' line of a report or a
    benchmark (``cuda``: whether a GPU is usable, ``gpu``: its name)."""
    cuda = torch.cuda.is_available()
    return {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "platform": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "cuda": cuda,
            "gpu": torch.cuda.get_device_name(0) if cuda else None,
            "processor": platform.processor() or platform.machine()}

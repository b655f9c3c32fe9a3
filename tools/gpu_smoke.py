"""GPU smoke check of every stage a real GPU run uses (``make gpu-smoke`` / ``bash tools/gpu_smoke.sh``).

On one CUDA device, in the shapes of the ``paper-*`` presets, on a generated SynthActions set:

* for each student -- TSN-ResNet18 (``paper-ucf101-tsn-r18``: T = 8, 224 px) and R3D-18
  (``paper-ucf101-r3d18``: 16 frames, 112 px) -- DTG pre-training with the live teacher (AMP,
  channels-last), **resumed once** from its checkpoint, then fine-tuning from it and
  ``evaluate`` (kNN, linear probe, classifier) of the fine-tuned checkpoint;
* ``cache-teachers`` on the GPU against the teacher's own batched forward;
* the ``queue`` and ``step`` benchmarks on the GPU (ratios as in ``dtgkit bench``).

Every stage gets a row: pass / FAIL (with the error; later stages still run), seconds, peak GPU
memory (``torch.cuda.max_memory_allocated``) and its throughput. Training throughput is the
median clips/s of the steady-state log windows (``run.log_every`` steps each; the first window of
every epoch is left out: it holds the loader refill and the checkpoint write). Written to
``OUT/gpu_smoke.json`` and ``OUT/gpu_smoke.md`` as each stage ends.

Usage: ``python tools/gpu_smoke.py --out runs/gpu-smoke [--synth ROOT] [--teacher SPEC]
[--steps N] [--batch B] [--workers W]``. Exit code 1 when a stage failed, 2 without CUDA.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import traceback
from pathlib import Path

import torch

STUDENTS = (("tsn_r18", "paper-ucf101-tsn-r18"), ("r3d_18", "paper-ucf101-r3d18"))


def _gib(n: float) -> float:
    return round(n / 2**30, 2)


class Smoke:
    def __init__(self, out: Path) -> None:
        self.out = out
        p = torch.cuda.get_device_properties(0)
        self.summary = {"device": p.name, "memory_gib": _gib(p.total_memory),
                        "torch": torch.__version__, "cuda": torch.version.cuda,
                        "cpus": os.cpu_count(), "stages": []}

    def stage(self, name: str, fn, **info) -> dict:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        print(f"\n=== gpu-smoke: {name}", flush=True)
        t0 = time.perf_counter()
        row = {"stage": name, **info}
        try:
            row.update(fn() or {})
            row["status"] = "pass"
        except Exception as err:  # noqa: BLE001 - a smoke test reports every failure and goes on
            traceback.print_exc()
            row.update(status="FAIL", error=f"{type(err).__name__}: {err}"[:500])
        torch.cuda.synchronize()
        row["seconds"] = round(time.perf_counter() - t0, 1)
        row["peak_gpu_gib"] = _gib(torch.cuda.max_memory_allocated())
        self.summary["stages"].append(row)
        print(f"=== gpu-smoke: {name}: {row['status']} ({row['seconds']} s, peak "
              f"{row['peak_gpu_gib']} GiB){' ' + row.get('error', '') if row['status'] != 'pass' else ''}",
              flush=True)
        self.write()
        return row

    def write(self) -> None:
        (self.out / "gpu_smoke.json").write_text(json.dumps(self.summary, indent=1, default=str) + "\n")
        (self.out / "gpu_smoke.md").write_text(markdown(self.summary))


def markdown(summary: dict) -> str:
    lines = [(f"GPU: {summary['device']} ({summary['memory_gib']} GiB), torch {summary['torch']}, "
              f"CUDA {summary['cuda']}, {summary['cpus']} CPUs"), "",
             "| stage | status | throughput | peak GPU memory | seconds | notes |",
             "|---|---|---:|---:|---:|---|"]
    for r in summary["stages"]:
        lines.append(f"| {r['stage']} | {r['status']} | {r.get('throughput', '')} | "
                     f"{r['peak_gpu_gib']} GiB | {r['seconds']} | "
                     f"{r.get('error') or r.get('notes', '')} |")
    return "\n".join(lines) + "\n"


def steady_clips_per_s(run_dir: Path) -> tuple[float | None, int]:
    """Median clips/s over the train-log windows that do not start an epoch."""
    from dtgkit.train.engine import read_metrics

    rows = read_metrics(run_dir, "train")
    seen, steady = set(), []
    for r in rows:
        if r["epoch"] in seen:
            steady.append(r["clips_per_s"])
        seen.add(r["epoch"])
    return (statistics.median(steady) if steady else None), len(steady)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="runs/gpu-smoke")
    ap.add_argument("--synth", default="", help="an existing SynthActions root (default: OUT/synth, "
                                                 "generated when missing)")
    ap.add_argument("--teacher", default="imagenet-efficientnet-lite0",
                    help="teacher spec (default: the paper presets' ImageNet teacher)")
    ap.add_argument("--steps", type=int, default=160, help="pre-training steps per student")
    ap.add_argument("--batch", type=int, default=64, help="global batch (the presets' 64)")
    ap.add_argument("--workers", type=int, default=min(12, max(1, (os.cpu_count() or 4) - 2)))
    ap.add_argument("--students", default=",".join(s for s, _ in STUDENTS))
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="extra config overrides for the training stages (repeatable)")
    ap.add_argument("--bench-size", type=int, default=224, help="frame size of the benchmarks")
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu-smoke: no CUDA device visible to torch (torch.cuda.is_available() is False); "
              "run it on a machine with an NVIDIA GPU. Nothing was run.", file=sys.stderr)
        return 2

    from dtgkit.config import resolve_config
    from dtgkit.train.data import load_split
    from dtgkit.train.finetune import evaluate, finetune
    from dtgkit.train.pretrain import pretrain

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    smoke = Smoke(out)
    s = smoke.summary
    s.update(teacher=args.teacher, batch=args.batch, workers=args.workers, steps=args.steps)
    print(f"gpu-smoke: {s['device']} ({s['memory_gib']} GiB), torch {s['torch']}, "
          f"{s['cpus']} CPUs, {args.workers} loader workers", flush=True)
    synth = Path(args.synth) if args.synth else out / "synth"

    def make_synth() -> dict:
        from dtgkit.data.synth import ensure_synth

        meta = ensure_synth(synth, classes=10, videos_per_class=160, stills_per_class=0)
        return {"notes": f"{synth}: {meta['train']} train / {meta['test']} test videos"}

    if not (synth / "synth_meta.json").is_file():
        smoke.stage("synth", make_synth)

    for student, preset in STUDENTS:
        if student not in args.students.split(","):
            continue
        base = [f"data.root={synth}", "data.dataset=synth", f"data.num_workers={args.workers}",
                f"pretrain.batch_size={args.batch}", f"finetune.batch_size={args.batch}",
                "pretrain.milestones=[]", "finetune.milestones=[]", "dtg.queue_size=512",
                f"dtg.teachers=[{args.teacher}]", "run.log_every=4", "run.amp=true",
                "run.channels_last=true", f"run.out_dir={out}", *args.overrides]
        cfg = resolve_config(preset, overrides=base)
        n_train = len(load_split(cfg.data, "train")[0])
        per_epoch = max(1, n_train // args.batch)
        epochs = max(3, -(-args.steps // per_epoch))
        pre_dir, ft_dir = out / f"{student}-pretrain", out / f"{student}-finetune"
        shape = f"T={cfg.data.num_segments}, {cfg.data.size} px, batch {args.batch}"

        def run_pretrain(cfg=cfg, epochs=epochs, pre_dir=pre_dir, per_epoch=per_epoch,
                         shape=shape) -> dict:
            first = cfg.copy()
            first.pretrain.epochs = epochs - 1
            pretrain(first, overwrite=True, run_dir=pre_dir)
            again = cfg.copy()  # one more epoch, continued from the checkpoint
            again.pretrain.epochs = epochs
            res = pretrain(again, resume=True, run_dir=pre_dir).results
            if res["epochs_done"] != epochs or res["steps"] != epochs * per_epoch:
                raise RuntimeError(f"resume: {res['epochs_done']} epochs / {res['steps']} steps, "
                                   f"expected {epochs} / {epochs * per_epoch}")
            rate, n = steady_clips_per_s(pre_dir)
            return {"throughput": f"{rate:.0f} clips/s" if rate else "", "clips_per_s": rate,
                    "windows": n, "steps": res["steps"], "final_loss": res["final_loss"],
                    "knn_acc1": (res.get("knn") or {}).get("acc1"),
                    "notes": f"{shape}, {res['steps']} steps ({epochs - 1} epochs + 1 resumed), "
                             f"loss {res['final_loss']:.3f}, kNN {(res.get('knn') or {}).get('acc1', float('nan')):.1f} %"}

        def run_finetune(cfg=cfg, pre_dir=pre_dir, ft_dir=ft_dir) -> dict:
            ft = cfg.copy()
            ft.finetune.epochs = 3
            ft.finetune.lr = 0.01
            res = finetune(ft, init=pre_dir, overwrite=True, run_dir=ft_dir).results
            rate, _ = steady_clips_per_s(ft_dir)
            return {"throughput": f"{rate:.0f} clips/s" if rate else "", "clips_per_s": rate,
                    "acc1": res["test"]["acc1"],
                    "notes": f"{res['steps']} steps, test acc@1 {res['test']['acc1']:.1f} % on "
                             f"{res['test_videos']} videos"}

        def run_evaluate(ft_dir=ft_dir) -> dict:
            res = evaluate(None, ft_dir, out=ft_dir / "eval")
            return {"knn_acc1": res["knn"]["acc1"], "linear_acc1": res["linear_probe"]["acc1"],
                    "classifier_acc1": res["classifier"]["acc1"],
                    "notes": f"kNN {res['knn']['acc1']:.1f} %, linear {res['linear_probe']['acc1']:.1f} %, "
                             f"classifier {res['classifier']['acc1']:.1f} %"}

        smoke.stage(f"{student} pretrain + resume", run_pretrain)
        smoke.stage(f"{student} finetune", run_finetune)
        smoke.stage(f"{student} evaluate", run_evaluate)

    from dtgkit.bench import bench_cache_build, bench_queue, bench_step

    def run_cache() -> dict:
        [row] = bench_cache_build(spec=args.teacher, size=args.bench_size, batch_size=512, device="cuda",
                                  num_workers=args.workers, root=str(synth / "videos"))
        return {**row, "throughput": f"{row['cache_frames_per_s']:.0f} frames/s",
                "notes": f"{row['frames']} frames of {row['videos']} videos at {args.bench_size} px; "
                         f"{row['cache_vs_forward']:.2f}x the teacher's batched forward "
                         f"({row['forward_frames_per_s']:.0f} frames/s)"}

    def run_queue() -> dict:
        [row] = bench_queue(K=65536, dim=128, batch=256, device="cuda", repeats=20)
        return {**row, "throughput": f"{row['queue_step_ms']:.2f} ms",
                "notes": f"K 65536, d 128, N 256: {row['queue_step_vs_matmul']:.2f}x the matmul "
                         f"({row['matmul_ms']:.3f} ms)"}

    def run_step() -> dict:
        [row] = bench_step(student="tsn_r18", teacher=args.teacher, batch=args.batch,
                           num_segments=8, size=args.bench_size, device="cuda", amp=True, repeats=5)
        return {**row, "throughput": f"{row['dtg_live_clips_per_s']:.0f} clips/s",
                "notes": f"TSN-R18 8 x {args.bench_size}, batch {args.batch}: supervised {row['supervised_ms']:.0f} ms, "
                         f"teacher {row['teacher_ms']:.0f} ms, DTG live {row['dtg_live_ms']:.0f} ms "
                         f"({row['live_vs_supervised_plus_teacher']:.2f}x sup + teacher), cached "
                         f"{row['dtg_cached_ms']:.0f} ms ({row['cached_vs_supervised']:.2f}x sup)"}

    smoke.stage("cache-teachers (GPU)", run_cache)
    smoke.stage("bench queue (GPU)", run_queue)
    smoke.stage("bench step (GPU)", run_step)
    print("\n" + markdown(s))
    failed = [r["stage"] for r in s["stages"] if r["status"] != "pass"]
    print(f"gpu-smoke: {len(s['stages']) - len(failed)} / {len(s['stages'])} stages passed"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# GPU smoke check (`make gpu-smoke`): a few hundred steps of paper-ucf101-tsn-r18-shaped DTG
# pre-training (TSN-ResNet18, T = 8, 224 px, AMP, the real EfficientNet-Lite0 ImageNet teacher
# at 224 px) on a generated SynthActions set, then `dtgkit bench step`. Reports clips/s and
# peak GPU memory; everything lands in $OUT (default runs/gpu-smoke), the summary in
# $OUT/gpu_smoke.json.
#
# Knobs (environment): OUT, STEPS (default 300 optimiser steps), BATCH (64), WORKERS
# (DataLoader workers, default min(nproc - 2, 12)), PY (python, default .venv/bin/python if
# present). Exits 2 with a message when torch sees no CUDA device.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
OUT=${OUT:-runs/gpu-smoke}
STEPS=${STEPS:-300}
BATCH=${BATCH:-64}
NPROC=$(nproc 2>/dev/null || echo 4)
WORKERS=${WORKERS:-$(( NPROC > 14 ? 12 : (NPROC > 2 ? NPROC - 2 : 1) ))}

if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "gpu-smoke: no CUDA device visible to torch (torch.cuda.is_available() is False)." >&2
    echo "gpu-smoke: run this on a machine with an NVIDIA GPU and a CUDA build of torch;" >&2
    echo "gpu-smoke: on CPU use 'make demo' or 'dtgkit bench step' instead. Nothing was run." >&2
    exit 2
fi
mkdir -p "$OUT"
"$PY" -c "import torch; p = torch.cuda.get_device_properties(0); print(f'gpu-smoke: {p.name}, {p.total_memory / 2**30:.0f} GiB, torch {torch.__version__}')"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true

# 1. SynthActions: 10 classes x 80 clips (about 570 training videos), 112 px frames (cropped
#    and resized to 224 px by the loader, as real UCF101 frames would be). Re-used if present.
"$PY" -m dtgkit synth "$OUT/synth" --classes 10 --videos-per-class 80 --stills-per-class 0

# 2. DTG pre-training in the paper-ucf101-tsn-r18 shape, STEPS optimiser steps.
OUT="$OUT" STEPS="$STEPS" BATCH="$BATCH" WORKERS="$WORKERS" "$PY" - <<'PYEOF'
import json, math, os, statistics, time
from pathlib import Path

import torch

from dtgkit.config import resolve_config
from dtgkit.train import data as TD
from dtgkit.train.engine import read_metrics
from dtgkit.train.pretrain import pretrain

out, steps, batch = Path(os.environ["OUT"]), int(os.environ["STEPS"]), int(os.environ["BATCH"])
cfg = resolve_config("paper-ucf101-tsn-r18", overrides=[
    "data.dataset=synth", f"data.root={out / 'synth'}", f"data.num_workers={os.environ['WORKERS']}",
    f"pretrain.batch_size={batch}", "pretrain.milestones=[]",
    "dtg.queue_size=512",  # below the ~570 training videos (K < dataset size, Sec. 3.4)
    "run.log_every=10", "run.amp=true", "run.channels_last=true"])
n_train = len(TD.load_split(cfg.data, "train")[0])
per_epoch = n_train // batch
cfg.pretrain.epochs = max(2, math.ceil(steps / per_epoch))
print(f"gpu-smoke: {n_train} training videos, {per_epoch} steps/epoch, {cfg.pretrain.epochs} epochs, "
      f"batch {batch}, T={cfg.data.num_segments}, {cfg.data.size} px, teacher {cfg.dtg.teachers}", flush=True)
peak = {}

def record(trainer):
    peak["allocated_gib"] = torch.cuda.max_memory_allocated() / 2**30
    peak["reserved_gib"] = torch.cuda.max_memory_reserved() / 2**30

t0 = time.perf_counter()
res = pretrain(cfg, overwrite=True, run_dir=out / "pretrain", callbacks={"on_train_end": [record]})
wall = time.perf_counter() - t0
epochs = read_metrics(out / "pretrain", "epoch")
rates = [e["clips_per_s"] for e in epochs[1:]] or [e["clips_per_s"] for e in epochs]  # epoch 1 warms up
summary = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
           "steps": res.results["steps"], "epochs": res.results["epochs_done"], "batch": batch,
           "num_segments": cfg.data.num_segments, "size": cfg.data.size, "amp": cfg.run.amp,
           "workers": cfg.data.num_workers, "clips_per_s_median": statistics.median(rates),
           "clips_per_s_per_epoch": rates, "peak_gpu_memory": peak, "wall_s": round(wall, 1),
           "final_loss": res.results["final_loss"], "knn": res.results.get("knn")}
(out / "gpu_smoke.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
print(f"gpu-smoke: {summary['steps']} steps in {wall:.0f} s, {summary['clips_per_s_median']:.1f} clips/s "
      f"(median over epochs 2+; one clip = anchor + guidance views of T frames), peak GPU memory "
      f"{peak.get('allocated_gib', float('nan')):.2f} GiB allocated / {peak.get('reserved_gib', float('nan')):.2f} GiB reserved")
PYEOF

# 3. The step benchmark (supervised vs. DTG live / cached teachers, as ratios) at the paper's
#    shape: TSN-ResNet18, 8 x 224 px, AMP; then the CLI's default sizes.
OUT="$OUT" BATCH="$BATCH" "$PY" - <<'PYEOF'
import json, os
from pathlib import Path

from dtgkit.bench import bench_step

rows = bench_step(student="tsn_r18", num_segments=8, size=224, batch=int(os.environ["BATCH"]), amp=True)
Path(os.environ["OUT"], "bench_step_224.json").write_text(json.dumps(rows, indent=1, default=str) + "\n")
print(json.dumps(rows, indent=1, default=str))
PYEOF
"$PY" -m dtgkit bench step --json "$OUT/bench_step.json"
echo "gpu-smoke: done; summary in $OUT/gpu_smoke.json, step benchmark in $OUT/bench_step.json"

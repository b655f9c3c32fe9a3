#!/usr/bin/env bash
# GPU smoke check (`make gpu-smoke`): every stage a real GPU run uses, on one CUDA device, in the
# shapes of the paper-* presets (TSN-ResNet18 8 x 224 px and R3D-18 16 x 112 px: DTG pre-training
# with the live teacher, resumed once, fine-tuning, evaluate; cache-teachers; queue and step
# benchmarks), each with pass / FAIL, throughput and peak GPU memory. See tools/gpu_smoke.py.
# No install step: run it in an environment that already has dtgkit (`make .venv/.dtgkit-installed`
# or `pip install -e .`).
#
# Knobs (environment): OUT (default runs/gpu-smoke), SYNTH (an existing SynthActions root;
# default OUT/synth, generated when missing), TEACHER (default imagenet-efficientnet-lite0),
# STEPS (pre-training steps per student, default 160), BATCH (64), WORKERS (loader workers,
# default min(12, nproc - 2)), PY (python; default .venv/bin/python if present, else python3).
# Exits 2 with a message when torch sees no CUDA device, 1 when a stage failed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
args=(--out "${OUT:-runs/gpu-smoke}" --teacher "${TEACHER:-imagenet-efficientnet-lite0}"
      --steps "${STEPS:-160}" --batch "${BATCH:-64}")
[ -n "${SYNTH:-}" ] && args+=(--synth "$SYNTH")
[ -n "${WORKERS:-}" ] && args+=(--workers "$WORKERS")
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
exec "$PY" tools/gpu_smoke.py "${args[@]}"

# dtgkit: every target sets itself up (creates .venv and installs dtgkit with its dev extra).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.dtgkit-installed

.PHONY: demo test test-quick lab lint clean-venv gpu-smoke ablate bench

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

## make demo: the main job on the embedded SynthActions world (see README)
demo: $(STAMP)
	$(VENV)/bin/dtgkit demo

## make test: all unit tests (the slow torchrun / gloo checks included: they fit) + every
## notebook under nbval, FAST mode, one thread per process (what CI runs)
test: $(STAMP)
	DTGKIT_FAST=1 MPLBACKEND=Agg OMP_NUM_THREADS=1 $(PY) -m pytest -q tests
	DTGKIT_FAST=1 MPLBACKEND=Agg OMP_NUM_THREADS=1 $(PY) -m pytest -q --nbval-lax notebooks

## make test-quick: skip the slow checks and the notebooks
test-quick: $(STAMP)
	DTGKIT_FAST=1 MPLBACKEND=Agg OMP_NUM_THREADS=1 $(PY) -m pytest -q -m "not slow" tests

## make lab: JupyterLab on notebooks/ (ipywidgets' lab extension ships with ipywidgets 8)
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

## make gpu-smoke: on a CUDA machine, a few hundred paper-shaped steps (TSN-R18, T=8, 224 px, AMP)
gpu-smoke: $(STAMP)
	bash tools/gpu_smoke.sh

## make ablate SUITE=table1: one ablation suite, 3 seeds, results in notebooks/results/
SUITE ?= table1
ablate: $(STAMP)
	$(VENV)/bin/dtgkit ablate --suite $(SUITE) --seeds 3

## make bench: every benchmark suite, JSON in runs/bench.json
bench: $(STAMP)
	$(VENV)/bin/dtgkit bench all --json runs/bench.json

lint: $(STAMP)
	$(VENV)/bin/ruff check dtgkit tests

clean-venv:
	rm -rf $(VENV)

# dtgkit: every target sets itself up (creates .venv and installs dtgkit with its dev extra).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.dtgkit-installed

.PHONY: install demo test test-quick lab student-notebooks lint clean-venv gpu-smoke ablate ablate-all claims figures bench

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

## make install: only the set-up every target does (.venv with dtgkit and its dev extra)
install: $(STAMP)

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

## make student-notebooks: the student copies of the labs in build/student/ (solutions replaced by
## "YOUR CODE HERE" as nbgrader does, outputs cleared; nbgrader itself is not needed)
student-notebooks: $(STAMP)
	$(PY) tools/student_notebooks.py --out build/student

## make gpu-smoke: on a CUDA machine with dtgkit installed (no install step here): TSN-R18 and
## R3D-18 pre-training (resumed once), fine-tuning, evaluate, cache-teachers, GPU benchmarks
gpu-smoke:
	bash tools/gpu_smoke.sh

## make ablate SUITE=table1: one ablation suite, 3 seeds, results in notebooks/results/
SUITE ?= table1
ablate: $(STAMP)
	$(VENV)/bin/dtgkit ablate --suite $(SUITE) --seeds 3

## make ablate-all: every suite, 3 seeds (measured 1 h 55 min on 2 CPU cores), then the claims table
ablate-all: $(STAMP)
	for s in table3 table4 table1 table2 efficiency; do $(VENV)/bin/dtgkit ablate --suite $$s --seeds 3 || exit 1; done
	$(VENV)/bin/dtgkit ablate --claims

## make claims: which of the paper's claims hold, from the committed results (writes claims.md)
claims: $(STAMP)
	$(VENV)/bin/dtgkit ablate --claims

## make figures: Figures 2-4 from the committed runs of the ablation (notebooks/results/figures)
RUNFILES := notebooks/results/run_files
figures: $(STAMP)
	$(VENV)/bin/dtgkit figures $(RUNFILES)/table3/all-online1/pretrain --out notebooks/results/figures \
	    --dtg-features $(RUNFILES)/table4/sup-dtg/joint/features_test.npz \
	    --baseline-features $(RUNFILES)/table4/sup-tsn/joint/features_test.npz

## make bench: every benchmark suite, JSON in runs/bench.json
bench: $(STAMP)
	$(VENV)/bin/dtgkit bench all --json runs/bench.json

lint: $(STAMP)
	$(VENV)/bin/ruff check dtgkit tests

clean-venv:
	rm -rf $(VENV)

# dtgkit: every target sets itself up (creates .venv and installs dtgkit with its dev extra).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.dtgkit-installed

.PHONY: demo test test-all lab lint clean-venv gpu-smoke

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

## make demo: the main job on the embedded SynthActions world (see README)
demo: $(STAMP)
	$(VENV)/bin/dtgkit demo

## make test: unit tests + every notebook under nbval, FAST mode (what CI runs)
test: $(STAMP)
	DTGKIT_FAST=1 MPLBACKEND=Agg OMP_NUM_THREADS=1 $(PY) -m pytest -q -m "not slow" tests
	DTGKIT_FAST=1 MPLBACKEND=Agg OMP_NUM_THREADS=1 $(PY) -m pytest -q --nbval-lax notebooks

## make test-all: also the slow checks
test-all: $(STAMP)
	DTGKIT_FAST=1 MPLBACKEND=Agg OMP_NUM_THREADS=1 $(PY) -m pytest -q tests
	DTGKIT_FAST=1 MPLBACKEND=Agg OMP_NUM_THREADS=1 $(PY) -m pytest -q --nbval-lax notebooks

## make lab: JupyterLab on notebooks/ (ipywidgets' lab extension ships with ipywidgets 8)
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

lint: $(STAMP)
	$(VENV)/bin/ruff check dtgkit tests

clean-venv:
	rm -rf $(VENV)

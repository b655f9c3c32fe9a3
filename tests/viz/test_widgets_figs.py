"""The Figure-2 stepper and the queue explorer, driven without a browser."""
from __future__ import annotations

import numpy as np

from dtgkit.studies import geometry as G
from dtgkit.studies.frames import FrameData
from dtgkit.widgets import (
    geometry_stepper,
    geometry_stepper_state,
    queue_explorer,
    queue_explorer_state,
)


def test_stepper_state_reads_the_traces():
    p = G.toy_problem(8, 2, seed=0)
    traces = G.fit_side_by_side(p, steps=10, record_every=2)
    st = geometry_stepper_state(traces, 5)
    assert st["step"] == 4
    assert st["metrics"]["dtg"]["own_retrieval"] == traces["dtg"].metrics["own_retrieval"][2]
    assert st["summary"].startswith("step 4")


def test_geometry_stepper_controls():
    w = geometry_stepper(steps=12, num_samples=8, num_classes=2)
    assert {"step", "tau", "lr", "seed", "dim", "student", "next"} <= set(w.controls)
    assert w.state["step"] == 12
    w.controls["step"].value = 0
    first = w.state["metrics"]["dtg"]
    w.controls["next"].click()
    assert w.controls["step"].value == 1 and w.state["step"] == 1
    w.controls["tau"].value = 0.5  # refit
    assert w.state["traces"]["dtg"].metrics["loss"][0] != first["loss"]
    w.controls["dim"].value = 3
    assert w.problem.dim == 3
    w.controls["student"].value = "free"
    assert np.array_equal(w.problem.inputs, np.eye(8))


def test_geometry_stepper_on_a_fixed_high_dim_problem():
    p = G.toy_problem(8, 2, 6, seed=0)
    w = geometry_stepper(p, steps=6)
    assert w.controls["seed"].disabled and w.problem is p
    w.controls["step"].value = 3
    assert w.state["step"] == 3


def _fake_frame_data(v=12, f=8):
    rng = np.random.default_rng(0)
    labels = np.arange(v) % 3
    return FrameData(rng.random((v, f, 12)).astype(np.float32),
                       rng.standard_normal((v, f, 6)).astype(np.float32), labels, np.arange(v),
                       np.arange(v) < 8, np.arange(f), "fake", ["a", "b", "c"],
                       [str(i) for i in range(v)])


def test_queue_explorer_controls_rerun():
    data = _fake_frame_data()
    st = queue_explorer_state(data, 8, 0.1, 5, batch_size=4, num_segments=3)
    assert st["K"] == 8 and len(st["run"].history) == 5 and "K=8" in st["summary"]
    w = queue_explorer(data, K=8, tau=0.1, steps=5, batch_size=4, num_segments=3)
    assert set(w.controls) == {"K", "tau", "steps", "seed"}
    w.controls["K"].value = 4
    assert w.state["K"] == 4 and w.state["run"].params["K"] == 4
    w.controls["tau"].value = 0.5
    assert w.state["run"].params["tau"] == 0.5

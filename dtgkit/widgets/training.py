"""Widgets that run short fits: DTG vs. DistInit side by side (Figure 2), and the queue (tau, K).

* :func:`geometry_stepper`: DistInit and DTG fitting the same student side by side
  (:func:`dtgkit.studies.geometry.fit_side_by_side`), a step slider / "next" button walking both
  optimisations, tau, lr, seed and toy controls that refit.
* :func:`queue_explorer`: tau and K of a short real DTG run on cached features
  (:func:`dtgkit.studies.queue_dynamics.queue_run`), redrawn with
  :func:`~dtgkit.viz.queue.plot_queue_run`.

Thin views, as in :mod:`dtgkit.widgets`: each builder returns its container with ``.controls``
(name -> control) and ``.state`` (the dict of the matching ``*_state`` function for the current
values), so tests drive them without a browser.
"""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from IPython.display import display

from dtgkit.studies import geometry as G
from dtgkit.studies import queue_dynamics as Q
from dtgkit.studies.frames import FrameData
from dtgkit.viz.figures import plot_geometry, plot_geometry_curves
from dtgkit.viz.queue import plot_queue_run

__all__ = ["geometry_stepper", "geometry_stepper_state", "queue_explorer", "queue_explorer_state"]

_KEYS = ("own_retrieval", "pos_sim", "anchor_sim", "silhouette", "knn_acc")


def geometry_stepper_state(traces: dict, step: int) -> dict:
    """The metrics of each method at ``step`` (the last recorded step <= ``step``), as data.

    Args:
        traces: method -> :class:`~dtgkit.studies.geometry.FitTrace` (same recorded steps).
        step: optimisation step.

    Returns:
        dict ``step`` (the recorded step shown), ``metrics`` (method -> {name: value}) and
        ``summary`` (one line per method).
    """
    metrics, shown = {}, 0
    for m, tr in traces.items():
        j = tr.at(step)
        shown = int(tr.steps[j])
        metrics[m] = {k: float(v[j]) for k, v in tr.metrics.items()}
    lines = [f"step {shown}:"] + [
        f"  {m:9s} " + ", ".join(f"{k} {v[k]:.3f}" for k in _KEYS if k in v)
        for m, v in metrics.items()]
    return {"step": shown, "metrics": metrics, "summary": "\n".join(lines)}


def geometry_stepper(problem: G.GeometryProblem | None = None, *, steps: int = 150,
                     tau: float = 0.1, lr: float = 0.05, seed: int = 0, dim: int = 2,
                     student: str = "linear", num_samples: int = 12, num_classes: int = 3
                     ) -> widgets.VBox:
    """Step DistInit and DTG side by side on the same problem (paper Fig. 2).

    Controls: ``step`` (slider; the ``next`` button advances it by ``steps // 30``), ``tau``
    and ``lr`` (refit), and for the built-in toy ``seed``, ``dim`` (2 or 3) and ``student``
    (``linear`` / ``free``). Fits are cached per setting, so moving the step slider only
    redraws. Low-dimensional problems show :func:`~dtgkit.viz.figures.plot_geometry`, others
    (real features) the metric curves with the current step marked.

    Args:
        problem: a fixed problem (e.g. :func:`~dtgkit.studies.geometry.frame_problem`); default
            :func:`~dtgkit.studies.geometry.toy_problem` from the controls.
        steps: optimisation steps of each fit.
        tau, lr, seed, dim, student: initial control values.
        num_samples, num_classes: size of the toy.

    Returns:
        ``ipywidgets.VBox`` with ``.controls``, ``.state`` (:func:`geometry_stepper_state`
        plus ``traces``) and ``.problem`` (the problem shown).
    """
    fixed = problem is not None
    controls = {
        "step": widgets.IntSlider(value=steps, min=0, max=steps, description="step"),
        "tau": widgets.FloatLogSlider(value=tau, base=10, min=-2, max=0, step=0.05,
                                      description="tau"),
        "lr": widgets.FloatLogSlider(value=lr, base=10, min=-3, max=0, step=0.1,
                                     description="lr"),
        "seed": widgets.IntText(value=seed, description="seed", disabled=fixed),
        "dim": widgets.Dropdown(options=[2, 3], value=dim, description="dim", disabled=fixed),
        "student": widgets.Dropdown(options=["linear", "free"], value=student,
                                    description="student", disabled=fixed),
    }
    nxt = widgets.Button(description="next", tooltip="advance both optimisations")
    box = widgets.VBox()
    cache: dict = {}

    def fit(tau, lr, seed, dim, student):
        key = (tau, lr, seed, dim, student)
        if key not in cache:
            prob = problem if fixed else G.toy_problem(num_samples, num_classes, dim,
                                                       student=student, seed=seed)
            cache[key] = (prob, G.fit_side_by_side(prob, steps=steps, tau=tau, lr=lr,
                                                   keep_anchors=prob.dim <= 3))
        return cache[key]

    def update(step, tau, lr, seed, dim, student):
        prob, traces = fit(tau, lr, seed, dim, student)
        state = geometry_stepper_state(traces, step)
        state["traces"] = traces
        box.state, box.problem = state, prob
        if prob.dim <= 3:
            display(plot_geometry(prob, traces, step))
        else:
            fig = plot_geometry_curves(traces)
            for ax in fig.axes:
                ax.axvline(state["step"], color="0.3", lw=0.8, ls=":")
            display(fig)
        print(state["summary"])

    def on_next(_):
        s = controls["step"]
        s.value = min(s.max, s.value + max(1, steps // 30))

    nxt.on_click(on_next)
    out = widgets.interactive_output(update, controls)
    box.children = [
        widgets.HBox([controls["step"], nxt]),
        widgets.HBox([controls["tau"], controls["lr"]]),
        widgets.HBox([controls["seed"], controls["dim"], controls["student"]]),
        out,
    ]
    box.controls = {**controls, "next": nxt}
    return box


def queue_explorer_state(data: FrameData, K: int, tau: float, steps: int, seed: int = 0,
                         **kwargs) -> dict:
    """One :func:`~dtgkit.studies.queue_dynamics.queue_run` and its summary, as data.

    Args:
        data: per-frame student inputs and teacher features.
        K, tau, steps, seed: the run's queue size, temperature, steps and seed.
        **kwargs: other :func:`~dtgkit.studies.queue_dynamics.queue_run` arguments.

    Returns:
        dict ``run`` (:class:`~dtgkit.studies.queue_dynamics.QueueRun`), ``K``, ``tau``, ``final_acc``
        (instance accuracy over the last fifth of the steps), ``final`` (the run's final
        scores) and ``summary`` (one line).
    """
    run = Q.queue_run(data, K=K, tau=tau, steps=steps, seed=seed, **kwargs)
    last = run.history[-max(1, len(run.history) // 5):]
    acc = float(np.mean([h["acc"] for h in last]))
    own = float(np.mean([h["own_in_queue"] for h in last]))
    summary = (f"K={K}, tau={tau:.3g}: instance acc {acc:.2f} over the last {len(last)} steps, "
               f"own video in queue for {own:.0%} of anchors, final own-retrieval "
               f"{run.final['own_retrieval']:.2f}")
    return {"run": run, "K": K, "tau": tau, "final_acc": acc, "final": run.final,
            "summary": summary}


def queue_explorer(data: FrameData, *, K: int = 16, tau: float = 0.07, steps: int = 60,
                   seed: int = 0, Ks: tuple[int, ...] = (4, 8, 16, 32, 64, 128, 256),
                   **kwargs) -> widgets.VBox:
    """tau and K of a short DTG run on cached features, redrawn on every change.

    Args:
        data: per-frame student inputs and teacher features (:func:`~dtgkit.studies.frames.
            load_frame_data`).
        K, tau, steps, seed: initial values.
        Ks: the choices of the K slider.
        **kwargs: fixed :func:`~dtgkit.studies.queue_dynamics.queue_run` arguments (batch size ...).

    Returns:
        ``ipywidgets.VBox`` with ``.controls`` (``K``, ``tau``, ``steps``, ``seed``) and
        ``.state`` (:func:`queue_explorer_state`).
    """
    Ks = tuple(sorted(set(Ks) | {K}))
    controls = {
        "K": widgets.SelectionSlider(options=list(Ks), value=K, description="K"),
        "tau": widgets.FloatLogSlider(value=tau, base=10, min=-2, max=0, step=0.05,
                                      description="tau"),
        "steps": widgets.IntSlider(value=steps, min=5, max=max(200, steps), step=5,
                                   description="steps"),
        "seed": widgets.IntText(value=seed, description="seed"),
    }
    box = widgets.VBox()

    def update(K, tau, steps, seed):
        state = queue_explorer_state(data, K, tau, steps, seed, **kwargs)
        box.state = state
        display(plot_queue_run(state["run"]))
        print(state["summary"])

    out = widgets.interactive_output(update, controls)
    box.children = [widgets.HBox([controls["K"], controls["tau"]]),
                    widgets.HBox([controls["steps"], controls["seed"]]), out]
    box.controls = controls
    return box

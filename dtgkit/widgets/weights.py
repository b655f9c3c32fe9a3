"""Teacher-weights widget (Eq. 1): one slider per teacher, kept summing to 1.

One slider per teacher, kept summing to 1 (Eq. 1), presets, and a live view of what the fused
guidance space does with those weights (:mod:`dtgkit.studies.guidance_space`). The logic is
:meth:`GuidanceSpace.evaluate` (data, tested without widgets) and
:func:`~dtgkit.viz.guidance.plot_guidance_space` (a Figure); the widget only keeps the sliders
normalised and shows the numbers and the figure.

The sliders are wired with ``observe`` rather than ``interactive_output``: moving one slider sets
the others, and ``interactive_output`` would recompute once per slider touched; here one change
is one update, and a guard keeps the programmatic slider moves from re-entering the handler.
The figure is an ``ipywidgets.Image`` (PNG) updated in place, so the widget works the same in
JupyterLab, in nbval and without any front end, and the shown update time includes the drawing
(:func:`time_weight_update` measures it).
"""
from __future__ import annotations

import html
import io
import time
from collections.abc import Mapping, Sequence

import ipywidgets as widgets
import numpy as np

from dtgkit.dtg import weighting as W
from dtgkit.models.teachers import display_names, short_name
from dtgkit.studies.guidance_space import GuidanceSpace
from dtgkit.viz.guidance import plot_guidance_space
from dtgkit.viz.plots import DPI

__all__ = ["CUSTOM", "rebalance_weights", "teacher_weights_state", "teacher_weights_widget",
           "time_weight_update"]

CUSTOM = "(custom)"


def rebalance_weights(weights: Sequence[float], index: int, value: float) -> np.ndarray:
    """Set one weight and rescale the others proportionally so that the sum stays 1.

    If the others are all zero, the rest ``1 - value`` is shared equally among them.

    Args:
        weights: M current weights (summing to 1).
        index: the weight that was moved.
        value: its new value, clipped to [0, 1].

    Returns:
        M float64 weights summing to 1 with ``out[index] == value``.
    """
    w = np.asarray(weights, dtype=np.float64).copy()  # M
    if len(w) == 1:
        return np.ones(1)
    value = float(np.clip(value, 0.0, 1.0))
    others = np.arange(len(w)) != index
    rest = w[others].clip(min=0.0)
    total = rest.sum()
    w[others] = rest * (1.0 - value) / total if total > 1e-12 else \
        (1.0 - value) / others.sum()
    w[index] = value
    return w


def teacher_weights_state(space: GuidanceSpace, weights: Sequence[float]) -> dict:
    """What the widget shows for one weighting, as data (:meth:`GuidanceSpace.evaluate`).

    Args:
        space: precomputed per-teacher similarities.
        weights: M teacher weights (normalised to sum 1).

    Returns:
        :meth:`GuidanceSpace.evaluate`'s dict plus ``summary`` (one line of text).
    """
    state = space.evaluate(weights)
    w = ", ".join(f"{n} {x:.2f}" for n, x in zip(display_names(space.names, 18),
                                                  state["weights"]))
    state["summary"] = (f"weights [{w}]: kNN {state['knn_acc']:.1f}%, 1-NN "
                        f"{state['nn1_acc']:.1f}%, silhouette {state['silhouette']:.3f}, "
                        f"separation {state['separation']:.3f}")
    return state


def _preset_vector(name: str, preset, names: Sequence[str]) -> np.ndarray:
    if isinstance(preset, Mapping):  # name -> weight; by spec or by short name
        keys = {**{n: n for n in names}, **{short_name(n, 200): n for n in names}}
        unknown = [k for k in preset if k not in keys]
        if unknown:
            raise ValueError(f"preset {name!r}: unknown teacher(s) {unknown}; teachers: {names}")
        by_spec = {keys[k]: float(v) for k, v in preset.items()}
        preset = [by_spec.get(n, 0.0) for n in names]
    vec = np.asarray(preset, dtype=np.float64).reshape(-1)
    if len(vec) != len(names):
        raise ValueError(f"preset {name!r} has {len(vec)} weights for {len(names)} teachers")
    try:
        return W.fixed(vec).numpy()
    except ValueError as err:
        raise ValueError(f"preset {name!r}: {err}") from err


def _scores_html(state: dict, single: Mapping[str, dict] | None, timing: dict) -> str:
    rows = [("fused", state)] + (list(zip(display_names(list(single), 28), single.values()))
                                 if single else [])
    weights = dict(zip(state["names"], state["weights"]))
    body = "".join(
        f"<tr><td style='text-align:left'>{html.escape(name)}</td>"
        f"<td>{'' if name == 'fused' else format(weights[spec], '.2f')}</td>"
        f"<td>{s['knn_acc']:.1f}</td><td>{s['nn1_acc']:.1f}</td>"
        f"<td>{s['silhouette']:.3f}</td><td>{s['separation']:.3f}</td></tr>"
        for (name, s), spec in zip(rows, [None, *(single or {})]))
    head = ("<tr><th style='text-align:left'>space</th><th>w</th><th>kNN acc %</th>"
            "<th>1-NN %</th><th>silhouette</th><th>separation</th></tr>")
    q = "test videos" if state["train_mask"] is not None else "videos (leave-one-out)"
    return (f"<div class='dtgkit-weights-scores'><b class='dtgkit-knn'>fused guidance: kNN acc "
            f"{state['knn_acc']:.1f}%</b>, silhouette {state['silhouette']:.3f}, separation "
            f"{state['separation']:.3f} on {state['num_queries']} {q}"
            f"<table style='font-size:90%'>{head}{body}</table>"
            f"<span class='dtgkit-timing' style='color:#888'>update {1000 * timing['total']:.0f}"
            f" ms (scores {1000 * timing['scores']:.0f} ms, figure "
            f"{1000 * timing['figure']:.0f} ms)</span></div>")


def teacher_weights_widget(feats: Mapping[str, np.ndarray] | GuidanceSpace, labels=None, *,
                           train_mask=None, class_names: Sequence[str] | None = None,
                           presets: Mapping[str, Sequence[float] | Mapping[str, float]]
                           | None = None, initial: str | Sequence[float] = "uniform",
                           k: int = 200, tau: float = 0.1, scale: str = "sqrt",
                           show_figure: bool = True, step: float = 0.01) -> widgets.VBox:
    """Teacher weights of Eq. 1 with a live view of the fused guidance space.

    One ``FloatSlider`` per teacher. Moving one rescales the others proportionally so the
    weights always sum to 1 (:func:`rebalance_weights`); a preset sets all of them at once.
    Each change recomputes :func:`teacher_weights_state` (kNN accuracy, 1-NN accuracy,
    silhouette and class separation of the fused space, from precomputed per-teacher
    similarity matrices) and redraws :func:`~dtgkit.viz.guidance.plot_guidance_space`; the
    time of the update is shown.

    Args:
        feats: dict spec -> V x D_k teacher video features, or a ready :class:`GuidanceSpace`
            (then ``labels`` ... ``scale`` are ignored).
        labels: V integer labels.
        train_mask: V booleans (kNN bank = train, queries = the others) or None (leave-one-out).
        class_names: names of the labels (legend).
        presets: name -> M weights (or dict teacher -> weight); ``"uniform"`` is always added.
            E.g. ``{"offline": weighting.offline(accuracies), "online1 (run mean)":
            run_mean_weights(run_dir)}``.
        initial: a preset name or M weights to start from.
        k, tau, scale: see :class:`GuidanceSpace`.
        show_figure: draw the figure on each change (off: numbers only).
        step: slider step.

    Returns:
        ``ipywidgets.VBox`` with ``.sliders`` (list of FloatSlider, teacher order),
        ``.controls`` (dict ``preset`` and each teacher spec -> control), ``.space``,
        ``.state`` (the latest :func:`teacher_weights_state` dict, with ``timing`` and the
        current ``weights``), ``.set_weights(w)`` and ``.presets`` (name -> M weights).
    """
    space = feats if isinstance(feats, GuidanceSpace) else GuidanceSpace(
        feats, labels, train_mask, class_names=class_names, k=k, tau=tau, scale=scale)
    names = space.names
    m = len(names)
    all_presets = {"uniform": W.uniform(m).numpy()}
    for pname, p in (presets or {}).items():
        all_presets[pname] = _preset_vector(pname, p, names)
    start = all_presets[initial] if isinstance(initial, str) else \
        _preset_vector("initial", initial, names)
    single = space.teacher_scores() if m > 1 else None

    style = {"description_width": "170px"}
    sliders = [widgets.FloatSlider(value=float(w), min=0.0, max=1.0, step=step,
                                   description=label, tooltip=n,
                                   readout_format=".2f", continuous_update=True, style=style,
                                   layout=widgets.Layout(width="480px"), disabled=m == 1)
               for n, label, w in zip(names, display_names(names, 26), start)]
    for s in sliders:
        s.add_class("dtgkit-weight-slider")
    preset = widgets.Dropdown(options=[*all_presets, CUSTOM],
                              value=initial if isinstance(initial, str) else CUSTOM,
                              description="preset", style={"description_width": "60px"})
    scores = widgets.HTML()
    image = widgets.Image(format="png")
    box = widgets.VBox()
    guard = {"busy": False}
    current = {"w": np.asarray(start, dtype=np.float64)}

    def refresh() -> None:
        t0 = time.perf_counter()
        state = teacher_weights_state(space, current["w"])
        t1 = time.perf_counter()
        if show_figure:
            buf = io.BytesIO()
            current["fig"] = plot_guidance_space(state, fig=current.get("fig"))
            current["fig"].savefig(buf, format="png", dpi=DPI)
            image.value = buf.getvalue()
        t2 = time.perf_counter()
        state["timing"] = {"scores": t1 - t0, "figure": t2 - t1, "total": t2 - t0}
        scores.value = _scores_html(state, single, state["timing"])
        box.state = state

    def set_weights(w, *, from_preset: bool = False) -> None:
        """Set all sliders (normalised to sum 1) and refresh once."""
        w = W.fixed(w).numpy()
        if len(w) != m:
            raise ValueError(f"{len(w)} weights for {m} teachers {names}")
        guard["busy"] = True
        try:
            current["w"] = w
            for s, x in zip(sliders, w):
                s.value = float(x)
            if not from_preset:
                preset.value = CUSTOM
        finally:
            guard["busy"] = False
        refresh()

    def on_slider(change, index: int) -> None:
        if guard["busy"] or abs(change["new"] - current["w"][index]) < step / 2:
            return  # our own update, or the browser snapping a value to the slider step
        w = rebalance_weights(current["w"], index, change["new"])
        guard["busy"] = True
        try:
            current["w"] = w
            for j, s in enumerate(sliders):
                if j != index:
                    s.value = float(w[j])
            preset.value = CUSTOM
        finally:
            guard["busy"] = False
        refresh()

    def on_preset(change) -> None:
        if guard["busy"] or change["new"] == CUSTOM:
            return
        set_weights(all_presets[change["new"]], from_preset=True)

    for i, s in enumerate(sliders):
        s.observe(lambda change, i=i: on_slider(change, i), names="value")
    preset.observe(on_preset, names="value")
    box.children = [widgets.HBox([widgets.VBox(sliders), preset]), scores,
                    *([image] if show_figure else [])]
    box.add_class("dtgkit-teacher-weights")
    box.sliders = sliders
    box.controls = {"preset": preset, **dict(zip(names, sliders))}
    box.space = space
    box.presets = all_presets
    box.set_weights = set_weights
    box.scores_html = scores
    box.image = image
    refresh()
    return box


def time_weight_update(space: GuidanceSpace, repeats: int = 5, *, figure: bool = True,
                       seed: int = 0) -> dict[str, float]:
    """Seconds one weight change costs: scores (and the PNG of :func:`plot_guidance_space`).

    Args:
        space: the precomputed space.
        repeats: random weightings timed; the median is reported.
        figure: also draw and encode the figure, as the widget does.
        seed: seed of the random weightings.

    Returns:
        dict(scores=median s, figure=median s or 0, total=median s, num_videos, num_teachers).
    """
    rng = np.random.default_rng(seed)
    t_scores, t_fig = [], []
    fig = None
    for _ in range(repeats):
        w = rng.dirichlet(np.ones(len(space.names)))
        t0 = time.perf_counter()
        state = space.evaluate(w)
        t1 = time.perf_counter()
        if figure:
            fig = plot_guidance_space(state, fig=fig)  # updated in place, as the widget does
            fig.savefig(io.BytesIO(), format="png", dpi=DPI)
        t_scores.append(t1 - t0)
        t_fig.append(time.perf_counter() - t1)
    return {"scores": float(np.median(t_scores)), "figure": float(np.median(t_fig)) if figure
            else 0.0, "total": float(np.median(np.add(t_scores, t_fig))),
            "num_videos": len(space), "num_teachers": len(space.names)}

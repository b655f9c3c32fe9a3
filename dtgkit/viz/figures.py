"""The paper's Figures 2, 3 and 4, each a function returning a matplotlib Figure, and
``dtgkit figures RUN_DIR`` which writes those a run directory has the inputs for.

* Figure 2 (:func:`figure2`, :func:`plot_geometry`, :func:`plot_geometry_curves`): DistInit vs
  DTG on the same student and guidance (fitted by :mod:`dtgkit.studies.geometry`), with the
  measured instance retrieval, anchor spread and class separation in the panel titles.
* Figure 3 (:func:`figure3`): the per-teacher weights over training
  (:func:`dtgkit.studies.guidance_space.teacher_weight_series`: ``weight/<teacher>`` of the
  ``kind == "train"`` rows of ``metrics.jsonl``, written by
  :class:`dtgkit.train.engine.Trainer` from the diagnostics of
  :class:`dtgkit.dtg.net.DTGNet`: with ``online1`` the batch mean of the per-sample weights).
* Figure 4 (:func:`figure4`): t-SNE (:mod:`dtgkit.viz.tsne`) of the student's test features
  for the 10 largest classes, supervised DTG vs the same network without DTG, with silhouette
  and kNN accuracy of each embedding. Inputs: two ``.npz`` feature files with ``feats`` and
  ``labels`` (``dtgkit.train.evaluate.save_features``, written by ``dtgkit evaluate`` as
  ``features_test.npz``).

Colours follow the paper's Figure 2: anchor (student) orange, guidance (teacher) green.
Figures are never shown here; the CLI saves them at :data:`dtgkit.viz.plots.DPI`.
"""
from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from dtgkit.metrics import cosine_distances, silhouette
from dtgkit.models.teachers import short_name
from dtgkit.studies import geometry as G
from dtgkit.studies.guidance_space import teacher_weight_series
from dtgkit.viz.guidance import class_colors
from dtgkit.viz.plots import ANCHOR_COLOR, DPI, GUIDANCE_COLOR, new_figure
from dtgkit.viz.tsne import embedding_scores, top_classes, tsne_embed

__all__ = [
    "add_cli",
    "figure2",
    "figure3",
    "figure4",
    "find_figure_inputs",
    "load_feature_file",
    "plot_geometry",
    "plot_geometry_curves",
    "write_figures",
]

METHOD_LABELS = {"distinit": "DistInit (L1 to own guidance)", "dtg": "DTG (InfoNCE, Eq. 2)"}
_CURVE_KEYS = ("own_retrieval", "pos_sim", "anchor_sim", "silhouette")
_CURVE_TITLES = {"own_retrieval": "instance retrieval top-1", "pos_sim": "a_i . g_i (own)",
                 "anchor_sim": "mean pairwise anchor cos", "silhouette": "anchor silhouette",
                 "knn_acc": "anchor kNN acc (%)", "loss": "loss"}


# --------------------------------------------------------------------------- Figure 2
def _project(x: np.ndarray, dim: int) -> np.ndarray:
    return x[:, :dim] if x.shape[1] >= dim else np.pad(x, ((0, 0), (0, dim - x.shape[1])))


def _draw_geometry(ax, anchors: np.ndarray, guidance: np.ndarray, labels: np.ndarray,
                   focus: int, three_d: bool) -> None:
    """One panel: unit circle / sphere, guidance (green), anchors (orange), own-pair links."""
    markers = "o^vDP*Xh<>p"  # no square: squares mark the focus sample
    dims = 3 if three_d else 2
    a, g = _project(anchors, dims), _project(guidance, dims)
    if three_d:
        u, v = np.mgrid[0:2 * np.pi:24j, 0:np.pi:12j]
        ax.plot_wireframe(np.cos(u) * np.sin(v), np.sin(u) * np.sin(v), np.cos(v),
                          color="0.88", lw=0.4)
    else:
        t = np.linspace(0, 2 * np.pi, 200)
        ax.plot(np.cos(t), np.sin(t), color="0.85", lw=1, zorder=0)
    for i in range(len(a)):  # link each anchor to its own guidance
        ax.plot(*np.stack([a[i], g[i]]).T, color="0.6", lw=0.7, zorder=1)
    sim = a @ g.T
    nearest = int(np.argmax(sim[focus]))
    if nearest != focus:  # the figure's point: the anchor is closer to another sample
        ax.plot(*np.stack([a[focus], g[nearest]]).T, color="red", lw=1.2, ls="--", zorder=1)
    for c in np.unique(labels):
        idx = np.where((labels == c) & (np.arange(len(a)) != focus))[0]
        m = markers[int(c) % len(markers)]
        ax.scatter(*g[idx].T, marker=m, s=36, color=GUIDANCE_COLOR, edgecolor="k", lw=0.4,
                   zorder=2)
        ax.scatter(*a[idx].T, marker=m, s=36, color=ANCHOR_COLOR, edgecolor="k", lw=0.4,
                   zorder=3)
    # the "rectangle" sample of the paper's figure
    ax.scatter(*g[[focus]].T, marker="s", s=110, color=GUIDANCE_COLOR, edgecolor="k", lw=1.2,
               zorder=4)
    ax.scatter(*a[[focus]].T, marker="s", s=110, color=ANCHOR_COLOR, edgecolor="k", lw=1.2,
               zorder=5)
    lim = 1.15
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    if three_d:
        ax.set_zlim(-lim, lim)
        ax.set_box_aspect((1, 1, 1))
    else:
        ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if three_d:
        ax.set_zticks([])


def plot_geometry(problem, traces: Mapping, step: int | None = None, *, focus: int = 0,
                  fig: Figure | None = None) -> Figure:
    """Figure 2's panels: for each method, the anchors at step 0 (A1 / B1) and at ``step``
    (A2 / B2), on the unit circle (2-D) or sphere (3-D).

    Squares are one sample (the paper's "rectangle features"), other markers the other samples
    (marker shape = class); orange = anchor (student), green = guidance (teacher); grey lines
    join each anchor to its own guidance; a red dashed line joins the square anchor to the
    guidance of *another* sample when that one is nearer. Titles carry the measured instance
    retrieval top-1 and mean pairwise anchor similarity.

    Args:
        problem: the :class:`~dtgkit.studies.geometry.GeometryProblem` (for guidance and labels).
        traces: method -> :class:`~dtgkit.studies.geometry.FitTrace` with kept anchors.
        step: the step to show on the right (default the last recorded one).
        focus: the sample drawn as squares.
        fig: a figure to draw into (cleared), e.g. a widget's; default a new one.

    Returns:
        The figure (rows = methods, columns = initial / trained).
    """
    methods = list(traces)
    three_d = problem.dim >= 3
    if fig is None:
        fig = new_figure(figsize=(6.4, 3.1 * len(methods)), layout="constrained")
    else:
        fig.clear()
    kw = {"projection": "3d"} if three_d else {}
    for r, m in enumerate(methods):
        tr = traces[m]
        if tr.anchors is None:
            raise ValueError(f"trace {m!r} kept no anchors: fit with keep_anchors=True")
        j = len(tr.steps) - 1 if step is None else tr.at(step)
        letter = "AB"[r] if r < 2 else chr(ord("A") + r)
        for c, (idx, tag) in enumerate(((0, "1"), (j, "2"))):
            ax = fig.add_subplot(len(methods), 2, 2 * r + c + 1, **kw)
            _draw_geometry(ax, tr.anchors[idx], problem.guidance, problem.labels, focus,
                           three_d)
            mt = {k: v[idx] for k, v in tr.metrics.items()}
            ax.set_title(f"{letter}{tag} {m} step {int(tr.steps[idx])}\nretrieval "
                         f"{mt['own_retrieval']:.2f}  anchor cos {mt['anchor_sim']:.2f}",
                         fontsize=8)
    fig.suptitle(f"Figure 2: {problem.name}", fontsize=9)
    return fig


def plot_geometry_curves(traces: Mapping, keys: Sequence[str] = _CURVE_KEYS, *,
                         test: bool = True, fig: Figure | None = None) -> Figure:
    """The measured claims of Figure 2 over the optimisation, one panel per metric.

    Args:
        traces: method -> :class:`~dtgkit.studies.geometry.FitTrace`.
        keys: metric names (``own_retrieval``, ``pos_sim``, ``anchor_sim``, ``silhouette``,
            ``knn_acc``, ``loss``).
        test: also draw the held-out metrics (dashed) when the traces have them.
        fig: a figure to draw into (cleared); default a new one.

    Returns:
        The figure: one axis per key, one line per method (and per split).
    """
    if fig is None:
        fig = new_figure(figsize=(2.6 * len(keys), 2.6), layout="constrained")
    else:
        fig.clear()
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    colors = {"distinit": "tab:blue", "dtg": "tab:red"}
    for ax, key in zip(axes, keys):
        for m, tr in traces.items():
            col = colors.get(m)
            ax.plot(tr.steps, tr.metrics[key], color=col, label=f"{m} train")
            if test and tr.test_metrics and key in tr.test_metrics:
                ax.plot(tr.steps, tr.test_metrics[key], color=col, ls="--", label=f"{m} test")
        ax.set_title(_CURVE_TITLES.get(key, key), fontsize=9)
        ax.set_xlabel("step")
    axes[0].legend(fontsize=7)
    return fig


def figure2(problem: G.GeometryProblem, traces: Mapping) -> Figure:
    """Figure 2 (DistInit vs DTG): :func:`plot_geometry` at the last step.

    Args:
        problem: the problem shown (e.g. ``dtgkit.studies.geometry.toy_problem(seed=0)``: 12
            samples, 3 classes, 2-D guidance, linear student).
        traces: its fitted traces (:func:`dtgkit.studies.geometry.fit_side_by_side`).
    """
    return plot_geometry(problem, traces)


# --------------------------------------------------------------------------- Figure 3
def _run_weighting(run) -> str | None:
    """``dtg.weighting`` from the run's ``config.yaml`` if it can be read, else None."""
    if not isinstance(run, (str, os.PathLike)):
        return None
    cfg = Path(run) / "config.yaml" if Path(run).is_dir() else Path(run).parent / "config.yaml"
    try:
        import yaml

        data = yaml.safe_load(cfg.read_text())
        return (data.get("dtg") or {}).get("weighting")
    except Exception:  # noqa: BLE001 - the title just goes without it
        return None


def figure3(run: str | os.PathLike | Sequence[Mapping], *, x: str = "step",
            title: str | None = None) -> Figure:
    """Figure 3: the teacher weights over training, one line per teacher.

    The paper plots the ``online1`` weights (Sec. 4.3.3: per-sample weights from each
    teacher's positive-pair similarity) and reads off the order BU > Stanford > ImageNet >
    Places; here each point is the mean over the logging window of the batch-mean weight.

    Args:
        run: run directory / ``metrics.jsonl`` / rows, as for
            :func:`dtgkit.studies.guidance_space.teacher_weight_series`.
        x: ``"step"`` or ``"epoch"``.
        title: figure title (default names the weighting from the run's ``config.yaml``).

    Returns:
        The figure: one axis, one line per teacher, legend sorted by mean weight.
    """
    xs, series = teacher_weight_series(run, x=x)
    order = sorted(series, key=lambda n: -np.nanmean(series[n]))
    fig = new_figure(figsize=(6.4, 3.4), layout="constrained")
    ax = fig.add_subplot()
    for n in order:
        ax.plot(xs, series[n], lw=1.5, label=f"{short_name(n, 28)} (mean {np.nanmean(series[n]):.3f})")
    ax.axhline(1.0 / len(series), color="0.6", lw=0.8, ls=":", label="uniform 1/M")
    ax.set_xlabel(x)
    ax.set_ylabel("teacher weight w_k")
    weighting = _run_weighting(run)
    ax.set_title(title or f"Figure 3: teacher weights over training"
                 f"{f' ({weighting})' if weighting else ''}", fontsize=10)
    ax.legend(fontsize=7)
    return fig


# --------------------------------------------------------------------------- Figure 4
def load_feature_file(src) -> dict[str, np.ndarray]:
    """``feats`` (N x D) and ``labels`` (N) from a ``.npz`` path or a dict of arrays.

    Raises:
        FileNotFoundError / ValueError naming the file and the missing key or bad shape.
    """
    if isinstance(src, (str, os.PathLike)):
        if not Path(src).is_file():
            raise FileNotFoundError(f"feature file not found: {src}")
        with np.load(src, allow_pickle=False) as data:
            d = {k: data[k] for k in data.files}
        name = str(src)
    else:
        d, name = dict(src), "the given features"
    for key in ("feats", "labels"):
        if key not in d:
            raise ValueError(f"{name}: no {key!r} array (has {sorted(d)})")
    feats, labels = np.asarray(d["feats"]), np.asarray(d["labels"])
    if feats.ndim != 2 or len(feats) != len(labels):
        raise ValueError(f"{name}: feats must be N x D with N labels, got {feats.shape} and "
                         f"{labels.shape}")
    d["feats"], d["labels"] = feats, labels
    return d


def figure4(dtg_features, baseline_features, *, num_classes: int = 10, seed: int = 0,
            perplexity: float = 30.0, labels: Sequence[str] = ("supervised DTG-Net",
                                                              "without DTG-Net")) -> Figure:
    """Figure 4: t-SNE of the student's features, supervised DTG vs the same net without DTG.

    Both files are restricted to the ``num_classes`` largest classes of the first one (the
    paper: "top10 classes"), embedded separately with the same seed, and scored in the
    embedding (silhouette, leave-one-out 10-NN accuracy; :func:`dtgkit.viz.tsne.
    embedding_scores`) and in the original feature space (cosine silhouette).

    Args:
        dtg_features, baseline_features: ``.npz`` paths (``dtgkit.train.evaluate.
            save_features``: ``feats`` N x D, ``labels`` N, optionally ``class_names``) or dicts.
        num_classes: classes shown (largest by sample count).
        seed: t-SNE seed.
        perplexity: t-SNE perplexity (clamped for small sets).
        labels: the two panel titles.

    Returns:
        The figure: two panels side by side, scores in each title. ``fig.scores`` holds them.
    """
    data = [load_feature_file(dtg_features), load_feature_file(baseline_features)]
    keep = top_classes(data[0]["labels"], num_classes)
    names = data[0].get("class_names")
    fig = new_figure(figsize=(10.0, 4.6), layout="constrained")
    axes = fig.subplots(1, 2)
    colors = class_colors(len(keep))
    fig.scores = {}
    for ax, d, title in zip(axes, data, labels):
        m = np.isin(d["labels"], keep)
        f, y = d["feats"][m], d["labels"][m]
        emb = tsne_embed(f, seed=seed, perplexity=perplexity)
        sc = embedding_scores(emb, y)
        sc["feature_silhouette"] = silhouette(cosine_distances(f), y)
        fig.scores[title] = sc
        for i, c in enumerate(keep):
            idx = y == c
            name = str(names[c]) if names is not None and c < len(names) else str(c)
            ax.scatter(*emb[idx].T, s=10, color=colors[i], label=name)
        ax.set_title(f"{title}  (n={len(y)})\nt-SNE silhouette {sc['silhouette']:.3f}, "
                     f"10-NN acc {sc['knn_acc']:.1f}%, feature silhouette "
                     f"{sc['feature_silhouette']:.3f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.suptitle(f"Figure 4: t-SNE of student features, {len(keep)} largest classes, seed "
                 f"{seed}", fontsize=10)
    return fig


# --------------------------------------------------------------------------- CLI
def _run_method(run_dir: Path) -> str | None:
    """``method`` of a run: ``results.json`` first, else ``dtg.method`` of ``config.yaml``."""
    res = run_dir / "results.json"
    if res.is_file():
        try:
            method = json.loads(res.read_text()).get("method")
            if method:
                return str(method)
        except json.JSONDecodeError:
            pass
    cfg = run_dir / "config.yaml"
    if cfg.is_file():
        try:
            import yaml

            return ((yaml.safe_load(cfg.read_text()) or {}).get("dtg") or {}).get("method")
        except Exception:  # noqa: BLE001
            return None
    return None


def _candidate_dirs(run_dir: Path) -> list[Path]:
    """The run directory and its sub-directories up to two levels down, sorted."""
    out = [run_dir]
    for depth in ("*", "*/*"):
        out += sorted(p for p in run_dir.glob(depth) if p.is_dir())
    return out


def find_figure_inputs(run_dir: str | os.PathLike, *, dtg_features: str | None = None,
                       baseline_features: str | None = None) -> dict:
    """What ``dtgkit figures`` can draw from a run directory, and why not the rest.

    * Figure 3: the first ``metrics.jsonl`` (the run dir, then sub-dirs) whose train rows log
      ``weight/<teacher>`` for at least two teachers.
    * Figure 4: the given feature files, else two ``features_test.npz`` below the run dir
      whose runs' ``method`` (``results.json``, else ``config.yaml`` ``dtg.method``) is
      ``"none"`` (the baseline) and anything else (DTG).

    Returns:
        ``{"fig3": path | None, "fig4": (dtg, baseline) | None, "skipped": {fig: reason}}``.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory not found: {run_dir}")
    out: dict = {"fig3": None, "fig4": None, "skipped": {}}
    dirs = _candidate_dirs(run_dir)
    metrics = [d / "metrics.jsonl" for d in dirs if (d / "metrics.jsonl").is_file()]
    reasons = []
    for path in metrics:
        try:
            _, series = teacher_weight_series(path)
        except ValueError as err:
            reasons.append(str(err))
            continue
        if len(series) >= 2:
            out["fig3"] = path
            break
        reasons.append(f"{path} logs the weight of one teacher only")
    if out["fig3"] is None:
        out["skipped"]["figure3"] = ("no metrics.jsonl under the run directory" if not metrics
                                     else "; ".join(reasons))
    if dtg_features or baseline_features:
        if not (dtg_features and baseline_features):
            raise ValueError("give both --dtg-features and --baseline-features")
        out["fig4"] = (Path(dtg_features), Path(baseline_features))
    else:
        feats = [d / "features_test.npz" for d in dirs if (d / "features_test.npz").is_file()]
        by_kind: dict[str, list[Path]] = {"dtg": [], "baseline": []}
        for f in feats:
            method = _run_method(f.parent)
            if method is not None:
                by_kind["baseline" if method == "none" else "dtg"].append(f)
        if len(by_kind["dtg"]) == 1 and len(by_kind["baseline"]) == 1:
            out["fig4"] = (by_kind["dtg"][0], by_kind["baseline"][0])
        elif not feats:
            out["skipped"]["figure4"] = ("no features_test.npz under the run directory (write "
                                         "them with `dtgkit evaluate`)")
        else:
            out["skipped"]["figure4"] = (
                f"need exactly one DTG and one baseline (method 'none') features_test.npz, found "
                f"DTG {[str(p) for p in by_kind['dtg']]}, baseline "
                f"{[str(p) for p in by_kind['baseline']]}; pass --dtg-features and "
                f"--baseline-features")
    return out


def write_figures(run_dir: str | os.PathLike, out: str | os.PathLike | None = None, *,
                  dtg_features: str | None = None, baseline_features: str | None = None,
                  seed: int = 0) -> dict:
    """Write Figure 2 (always: the toy) and Figures 3 / 4 when the run has their inputs.

    Args:
        run_dir: a run directory, or a folder of run directories.
        out: where PNGs go (default ``run_dir/figures``).
        dtg_features, baseline_features: Figure 4's inputs, overriding the search.
        seed: seed of the toy and of t-SNE.

    Returns:
        ``{"written": {figure: png path}, "skipped": {figure: reason}}``.
    """
    run_dir = Path(run_dir)
    found = find_figure_inputs(run_dir, dtg_features=dtg_features,
                               baseline_features=baseline_features)
    out_dir = Path(out) if out else run_dir / "figures"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}

    def save(name: str, fig: Figure) -> None:
        path = out_dir / name
        fig.savefig(path, dpi=DPI)
        written[name.split("_")[0]] = str(path)

    toy = G.toy_problem(seed=seed)
    save("figure2_dtg_vs_distinit.png", figure2(toy, G.fit_side_by_side(toy, steps=200, tau=0.1, lr=0.05)))
    if found["fig3"] is not None:
        save("figure3_teacher_weights.png", figure3(found["fig3"].parent))
    if found["fig4"] is not None:
        save("figure4_tsne.png", figure4(*found["fig4"], seed=seed))
    return {"written": written, "skipped": found["skipped"]}


def _cmd_figures(args: argparse.Namespace) -> int:
    res = write_figures(args.run_dir, args.out, dtg_features=args.dtg_features,
                        baseline_features=args.baseline_features, seed=args.seed)
    for name, path in res["written"].items():
        print(f"wrote {name}: {path}")
    for name, why in res["skipped"].items():
        print(f"skipped {name}: {why}")
    return 0


def add_cli(subparsers) -> None:
    """Adds ``dtgkit figures RUN_DIR [--out DIR] [--dtg-features F --baseline-features F]``."""
    p = subparsers.add_parser(
        "figures", help="write the paper's Figures 2-4 from a run directory",
        description="Writes Figure 2 (DistInit vs DTG on the 2-D toy) always, Figure 3 (teacher "
                    "weights over training) when a metrics.jsonl under RUN_DIR logs "
                    "weight/<teacher> for >= 2 teachers, and Figure 4 (t-SNE, supervised DTG vs "
                    "without DTG) when RUN_DIR holds one features_test.npz of each (or both "
                    "files are given). Says which were skipped and why.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory or a folder of runs")
    p.add_argument("--out", default=None, help="output folder (default RUN_DIR/figures)")
    p.add_argument("--dtg-features", default=None, help="Figure 4: features .npz of the DTG run")
    p.add_argument("--baseline-features", default=None,
                   help="Figure 4: features .npz of the run without DTG")
    p.add_argument("--seed", type=int, default=0, help="seed of the toy and of t-SNE")
    p.set_defaults(func=_cmd_figures)

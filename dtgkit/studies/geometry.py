"""Figure 2 made measurable: DistInit and DTG fitting the same student to the same guidance.

The paper's Figure 2 contrasts the two ways of using a teacher: "the Dist Init only fits each
sample to the corresponding teacher feature, the anchor feature may be closer to other samples.
But the DTG considers multiple videos, and there are two forces to push an anchor feature in
the right place" (Sec. 3.3). This module runs both on the same problem, from the same initial
student, and measures what the figure claims:

* ``own_retrieval``: fraction of anchors whose most similar guidance feature (among all
  samples' guidance) is their own - the instance retrieval top-1 the figure is about;
* ``pos_sim`` / ``l1``: how close each anchor is to its own guidance (what DistInit fits);
* ``anchor_sim``: mean pairwise cosine similarity of the anchors (1 = collapsed to one point;
  compare with ``guidance_sim``, the same for the guidance features);
* ``silhouette`` / ``knn_acc``: class separation of the anchors (cosine silhouette;
  leave-one-out kNN accuracy in percent).

A :class:`GeometryProblem` holds what the student sees of N samples (``inputs``, N x D_in), the
teacher's guidance features (``guidance``, N x D, unit rows), labels, and the initial weight of
the student. The student is a linear projection ``a = normalize(x W)`` (D_in x D), trained on
the full set at every step:

* ``method="distinit"``: :func:`dtgkit.dtg.losses.distinit_l1` (each anchor to its own
  guidance, no negatives);
* ``method="dtg"``: :func:`dtgkit.dtg.losses.info_nce_logits` / ``info_nce_loss`` (Eq. 2) with
  the positive ``g_i`` and as negatives the guidance of every *other* sample (the queue after
  one pass over the N samples, K = N - 1).

Both use Adam with the same learning rate by default: L1 and InfoNCE have very different
gradient scales, and Adam makes "the same number of steps" a fair comparison. Problems:
:func:`toy_problem` (2-D / 3-D unit-sphere features where the geometry is visible; a
``"free"`` student makes each anchor its own parameter, the figure's literal picture) and
:func:`frame_problem` (real SynthActions features from
:func:`dtgkit.studies.frames.load_frame_data`: ImageNet
teacher features of one view as guidance, the student sees pixel thumbnails of another view).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from dtgkit.data.sampling import two_view_indices
from dtgkit.dtg.losses import distinit_l1, info_nce_logits, info_nce_loss
from dtgkit.metrics import cosine_distances, knn_predict, l2_normalize, silhouette
from dtgkit.studies.frames import FrameData, torch_threads

__all__ = [
    "METHODS",
    "FitTrace",
    "GeometryProblem",
    "class_scores",
    "compare_methods",
    "fit_geometry",
    "fit_side_by_side",
    "format_comparison",
    "frame_problem",
    "geometry_metrics",
    "summary_table",
    "toy_problem",
]

METHODS = ("distinit", "dtg")


def _unit(x: np.ndarray) -> np.ndarray:
    """Rows (float64) scaled to unit length."""
    return l2_normalize(x, dtype=np.float64)


# ----------------------------------------------------------------------------- metrics
def geometry_metrics(anchors, guidance, labels=None, *, k: int = 5) -> dict[str, float]:
    """What Figure 2 claims, measured on one set of anchor and guidance features.

    Args:
        anchors: N x D student (anchor) features, row i of sample i (normalised here).
        guidance: N x D teacher (guidance) features of the same samples (normalised here).
        labels: N class labels, or None (then no class scores).
        k: neighbours of the leave-one-out kNN vote (see :func:`class_scores`).

    Returns:
        dict of floats: ``own_retrieval`` (fraction of i with ``argmax_j a_i.g_j == i``),
        ``own_rank`` (mean rank of the own guidance among the N, 0 = best), ``pos_sim``
        (mean ``a_i.g_i``), ``l1`` (mean DistInit L1, ``mean_d |a_i - g_i|``), ``anchor_sim`` /
        ``guidance_sim`` (mean pairwise cosine over i != j), and with labels ``silhouette``
        (cosine; NaN if not defined) and ``knn_acc`` (percent).
    """
    a, g = l2_normalize(anchors, dtype=np.float64), l2_normalize(guidance, dtype=np.float64)  # N x D
    n = len(a)
    sim = a @ g.T  # N x N: anchors against every sample's guidance
    pos = np.diag(sim)  # N
    own_rank = (sim > pos[:, None]).sum(axis=1)  # N (ties count for the own guidance)
    off = ~np.eye(n, dtype=bool)
    out = {
        "own_retrieval": float((own_rank == 0).mean()),
        "own_rank": float(own_rank.mean()),
        "pos_sim": float(pos.mean()),
        "l1": float(np.abs(a - g).mean()),
        "anchor_sim": float((a @ a.T)[off].mean()) if n > 1 else float("nan"),
        "guidance_sim": float((g @ g.T)[off].mean()) if n > 1 else float("nan"),
    }
    if labels is not None:
        out.update(class_scores(a, labels, k=k))
    return out


def class_scores(feats, labels, *, k: int = 5) -> dict[str, float]:
    """Class separation of features: cosine silhouette and leave-one-out kNN accuracy
    (majority vote of the k nearest, :func:`dtgkit.metrics.knn_predict` with ``tau=None``).

    Args:
        feats: N x D features (normalised here).
        labels: N class labels.
        k: neighbours of the vote, clamped to the smallest class size minus one (at least 1).

    Returns:
        ``{"silhouette": float (NaN with < 2 classes or a class of one), "knn_acc": percent}``.
    """
    x = l2_normalize(feats, dtype=np.float64)
    classes, yi, counts = np.unique(np.asarray(labels), return_inverse=True, return_counts=True)
    n = len(x)
    sim = x @ x.T  # N x N
    sil = silhouette(cosine_distances(x), yi)
    if n < 2:
        return {"silhouette": sil, "knn_acc": float("nan")}
    # no more neighbours than the smallest class can supply: with 2 videos per class a 5-NN
    # vote is lost before it starts
    kk = max(1, min(k, n - 1, int(counts.min()) - 1))
    votes = knn_predict(sim, yi, len(classes), k=kk, tau=None,
                        exclude=np.eye(n, dtype=bool))  # N x C, leave one out, majority vote
    return {"silhouette": sil, "knn_acc": float((votes.argmax(axis=1) == yi).mean() * 100.0)}


# ----------------------------------------------------------------------------- problems
@dataclass
class GeometryProblem:
    """Student inputs and teacher guidance of N samples, plus the student's initial weight.

    Attributes:
        inputs: N x D_in float, what the student sees of each sample (its anchor view).
        guidance: N x D float, unit rows: the teacher's features of the guidance view.
        labels: N int class labels.
        init: D_in x D float, the initial weight W of the linear student ``normalize(x W)``.
        name: shown in titles.
        test: an optional held-out problem (same D_in, D; its ``init`` is ignored), scored with
            the trained W (anchors and guidance of the test samples only).
    """

    inputs: np.ndarray
    guidance: np.ndarray
    labels: np.ndarray
    init: np.ndarray
    name: str = "toy"
    test: GeometryProblem | None = None

    def __post_init__(self) -> None:
        self.inputs = np.asarray(self.inputs, dtype=np.float32)
        self.guidance = _unit(self.guidance).astype(np.float32)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.init = np.asarray(self.init, dtype=np.float32)
        n, d_in = self.inputs.shape
        if self.guidance.shape[0] != n or len(self.labels) != n:
            raise ValueError(f"problem {self.name!r}: {n} inputs, {self.guidance.shape[0]} "
                             f"guidance rows, {len(self.labels)} labels")
        if self.init.shape != (d_in, self.guidance.shape[1]):
            raise ValueError(f"problem {self.name!r}: init must be {d_in} x "
                             f"{self.guidance.shape[1]}, got {self.init.shape}")

    @property
    def num_samples(self) -> int:
        return len(self.inputs)

    @property
    def dim(self) -> int:
        return self.guidance.shape[1]

    def anchors(self, weight: np.ndarray | None = None) -> np.ndarray:
        """Anchor features ``normalize(inputs @ W)`` (N x D) for W (default the initial W)."""
        w = self.init if weight is None else weight
        return _unit(self.inputs.astype(np.float64) @ w).astype(np.float32)


def _spread_directions(m: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """m unit vectors in R^dim, evenly spread on the circle (2-D) or the sphere (Fibonacci)."""
    if dim == 2:
        phi = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(m) / m
        return np.stack([np.cos(phi), np.sin(phi)], axis=1)
    if dim == 3:
        i = np.arange(m) + 0.5
        z = 1 - 2 * i / m
        phi = np.pi * (1 + 5 ** 0.5) * i + rng.uniform(0, 2 * np.pi)
        r = np.sqrt(1 - z ** 2)
        return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)
    return _unit(rng.standard_normal((m, dim)))


def toy_problem(
    num_samples: int = 12,
    num_classes: int = 3,
    dim: int = 2,
    *,
    student: str = "linear",
    input_dim: int = 6,
    class_spread: float = 0.45,
    view_noise: float = 0.35,
    num_test: int = 0,
    seed: int = 0,
) -> GeometryProblem:
    """A low-dimensional Figure 2: guidance on the unit circle / sphere, in classes.

    Guidance ``g_i = normalize(c_y + class_spread * eps_i)`` around evenly spread class
    centres ``c_y``. The student's view of sample i is ``x_i = g_i M + view_noise * eta_i`` (a
    fixed random map M into ``input_dim`` dimensions plus noise: the anchor view is related to,
    but not the same as, the guidance view), and its initial weight W is random, so the initial
    anchors ``normalize(x_i W)`` are scrambled.

    Args:
        num_samples: N samples (classes assigned round-robin).
        num_classes: C classes.
        dim: D of the guidance / anchor space (2 or 3 to look at it; any D >= 2 works).
        student: ``"linear"`` (a shared D_in x D projection; limited capacity, the realistic
            case) or ``"free"`` (inputs = identity: every anchor is its own parameter, the
            figure's literal picture; ``input_dim``, ``view_noise`` and ``num_test`` unused).
        input_dim: D_in of the student's inputs (linear student).
        class_spread: spread of the samples around their class centre.
        view_noise: noise of the student's view (0 = a perfect linear fit exists).
        num_test: held-out samples from the same distribution (linear student only), scored
            with the trained W in ``FitTrace.test_metrics``.
        seed: seed of ``np.random.default_rng``.

    Returns:
        The problem (float32 arrays).
    """
    if student not in ("linear", "free"):
        raise ValueError(f"student must be 'linear' or 'free', got {student!r}")
    if num_samples < 2 or num_classes < 1 or dim < 2:
        raise ValueError(f"need num_samples >= 2, num_classes >= 1, dim >= 2; got "
                         f"{num_samples}, {num_classes}, {dim}")
    rng = np.random.default_rng(seed)
    centres = _spread_directions(num_classes, dim, rng)  # C x D
    mix = rng.standard_normal((dim, input_dim)) / np.sqrt(dim)  # D x D_in

    def draw(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        y = np.arange(n) % num_classes  # n
        g = _unit(centres[y] + class_spread * rng.standard_normal((n, dim)))  # n x D
        x = g @ mix + view_noise * rng.standard_normal((n, input_dim))  # n x D_in
        return x, g, y

    x, g, y = draw(num_samples)
    if student == "free":
        return GeometryProblem(np.eye(num_samples), g, y,
                               _unit(rng.standard_normal((num_samples, dim))),
                               name=f"toy {dim}-D, free anchors")
    init = rng.standard_normal((input_dim, dim)) / np.sqrt(input_dim)  # D_in x D
    test = None
    if num_test:
        xt, gt, yt = draw(num_test)
        test = GeometryProblem(xt, gt, yt, init, name=f"toy {dim}-D test")
    return GeometryProblem(x, g, y, init, name=f"toy {dim}-D, linear student", test=test)


# ----------------------------------------------------------------------------- fitting
@dataclass
class FitTrace:
    """One optimisation of a :class:`GeometryProblem`.

    Attributes:
        method: ``"distinit"`` or ``"dtg"``.
        steps: S recorded step numbers (0 = before the first update).
        metrics: name -> S floats (:func:`geometry_metrics` keys plus ``loss``).
        anchors: S x N x D anchor features at the recorded steps (None if not kept).
        weight: the final D_in x D weight.
        test_metrics: name -> S floats on ``problem.test`` (empty without a test set).
    """

    method: str
    steps: np.ndarray
    metrics: dict[str, np.ndarray]
    anchors: np.ndarray | None
    weight: np.ndarray
    test_metrics: dict[str, np.ndarray] = field(default_factory=dict)

    def at(self, step: int) -> int:
        """Index of the last recorded step <= ``step``."""
        return int(np.searchsorted(self.steps, step, side="right") - 1)

    def final(self, test: bool = False) -> dict[str, float]:
        """The metrics at the last recorded step (``test=True``: on the held-out samples)."""
        src = self.test_metrics if test else self.metrics
        return {k: float(v[-1]) for k, v in src.items()}


def _loss(method: str, a: torch.Tensor, g: torch.Tensor, tau: float) -> torch.Tensor:
    if method == "distinit":
        return distinit_l1(a, g)  # 0-d: mean_i mean_d |a_i - g_i|
    n = a.shape[0]
    own = torch.eye(n, dtype=torch.bool)  # N x N: the positive is not also a negative
    logits = info_nce_logits(a, g, g, tau, mask=own)  # N x (1+N), negatives: the others
    return info_nce_loss(logits)


def fit_geometry(
    problem: GeometryProblem,
    method: str,
    *,
    steps: int = 100,
    lr: float = 0.05,
    tau: float = 0.1,
    optimizer: str = "adam",
    schedule: str = "cosine",
    record_every: int = 1,
    keep_anchors: bool = True,
    k: int = 5,
) -> FitTrace:
    """Train the linear student of ``problem`` with DistInit-L1 or DTG-InfoNCE, full batch.

    Args:
        problem: inputs, guidance, labels, initial weight.
        method: ``"distinit"`` (L1 to the own guidance) or ``"dtg"`` (InfoNCE, the other
            samples' guidance as negatives).
        steps: optimiser steps.
        lr: learning rate.
        tau: InfoNCE temperature (DTG only; the paper gives none, MoCo v1 0.07).
        optimizer: ``"adam"`` (default; equal footing for both losses) or ``"sgd"`` (the
            paper's SGD, momentum 0.9, no weight decay).
        schedule: ``"cosine"`` (default: lr decays to 0 over ``steps``, so both fits settle
            instead of jittering by ~lr around their optimum) or ``"constant"``.
        record_every: record metrics (and anchors) every this many steps, and at the end.
        keep_anchors: keep the S x N x D anchor trajectory (off for high-D real features).
        k: neighbours of the kNN score.

    Returns:
        The :class:`FitTrace`. Deterministic: no randomness beyond the problem's.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    x = torch.from_numpy(problem.inputs.astype(np.float32))  # N x D_in
    g = torch.from_numpy(problem.guidance.astype(np.float32))  # N x D
    w = torch.from_numpy(problem.init.astype(np.float32).copy()).requires_grad_(True)  # D_in x D
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    if schedule not in ("cosine", "constant"):
        raise ValueError(f"schedule must be 'cosine' or 'constant', got {schedule!r}")
    opt = (torch.optim.Adam([w], lr=lr) if optimizer == "adam"  # betas (0.9, 0.999), eps 1e-8
           else torch.optim.SGD([w], lr=lr, momentum=0.9))  # the paper's SGD, no weight decay
    cosine = schedule == "cosine"  # lr of step i + 1: lr * 0.5 * (1 + cos(pi * i / steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: 0.5 * (1.0 + np.cos(np.pi * i / steps)) if cosine else 1.0)
    test = problem.test
    xt = torch.from_numpy(test.inputs) if test is not None else None
    rec_steps, rows, test_rows, traj = [], [], [], []

    def record(step: int) -> None:
        with torch.no_grad():
            a = F.normalize(x @ w, dim=1)  # N x D
            row = geometry_metrics(a.numpy(), problem.guidance, problem.labels, k=k)
            row["loss"] = float(_loss(method, a, g, tau))
        rows.append(row)
        rec_steps.append(step)
        if keep_anchors:
            traj.append(a.numpy().copy())
        if test is not None:
            with torch.no_grad():
                at = F.normalize(xt @ w, dim=1).numpy()  # N_test x D
            test_rows.append(geometry_metrics(at, test.guidance, test.labels, k=k))

    with torch_threads(1):
        record(0)
        for step in range(1, steps + 1):
            loss = _loss(method, F.normalize(x @ w, dim=1), g, tau)  # a: N x D; loss: 0-d
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if step % max(1, record_every) == 0 or step == steps:
                record(step)

    def stack(rs: list[dict]) -> dict[str, np.ndarray]:
        return {key: np.array([r[key] for r in rs], dtype=np.float64) for key in rs[0]} if rs \
            else {}

    return FitTrace(method, np.array(rec_steps), stack(rows),
                    np.stack(traj) if keep_anchors else None, w.detach().numpy().copy(),
                    stack(test_rows))


def fit_side_by_side(problem: GeometryProblem, *, methods: Sequence[str] = METHODS,
                     **kwargs) -> dict[str, FitTrace]:
    """:func:`fit_geometry` for each method from the same initial student (Figure 2's A and B).

    Args:
        problem: the shared problem.
        methods: which to run (default DistInit and DTG).
        **kwargs: passed to :func:`fit_geometry` (``steps``, ``lr``, ``tau`` ...).

    Returns:
        dict method -> :class:`FitTrace`.
    """
    return {m: fit_geometry(problem, m, **kwargs) for m in methods}


def summary_table(traces: dict[str, FitTrace], *, test: bool = False,
                  guidance: GeometryProblem | None = None,
                  keys: Sequence[str] = ("own_retrieval", "pos_sim", "anchor_sim", "silhouette",
                                         "knn_acc")) -> str:
    """Plain-text table of the initial and final metrics of each method.

    Args:
        traces: from :func:`fit_side_by_side`.
        test: report the held-out metrics.
        guidance: the problem, to add a ``guidance`` row: the scores of the guidance
            features themselves (anchors = guidance: a perfect copy of the teacher).
        keys: metric names (columns).

    Returns:
        A multi-line string (rows: ``init``, one per method, optionally ``guidance``).
    """
    src = {m: (t.test_metrics if test else t.metrics) for m, t in traces.items()}
    first = next(iter(src.values()))
    lines = [f"{'':10s}" + "".join(f"{k:>15s}" for k in keys)]
    lines.append(f"{'init':10s}" + "".join(f"{first[k][0]:15.3f}" for k in keys))
    for m, s in src.items():
        lines.append(f"{m:10s}" + "".join(f"{s[k][-1]:15.3f}" for k in keys))
    if guidance is not None:  # the teacher's own space: what a perfect copy would score
        g, y = (guidance.test if test else guidance).guidance, \
            (guidance.test if test else guidance).labels
        ref = {**geometry_metrics(g, g, y), "anchor_sim": geometry_metrics(g, g)["guidance_sim"]}
        lines.append(f"{'guidance':10s}" + "".join(f"{ref[k]:15.3f}" for k in keys))
    return "\n".join(lines)


def compare_methods(problems: Sequence[GeometryProblem], *,
                    keys: Sequence[str] = ("own_retrieval", "pos_sim", "anchor_sim",
                                           "silhouette", "knn_acc"),
                    **fit_kwargs) -> list[dict]:
    """Both methods on several problems (e.g. seeds): mean and std of the final metrics.

    Args:
        problems: the problems (each fitted by :func:`fit_side_by_side` from its own init).
        keys: metrics to aggregate.
        **fit_kwargs: passed to :func:`fit_geometry` (``keep_anchors`` defaults to False).

    Returns:
        rows ``{"split": "train"|"test", "method": m, "n": problems, key: mean,
        key + "_std": std, "wins": problems where this method's own_retrieval is strictly
        higher than the other's}``; test rows only when every problem has a test set.
    """
    fit_kwargs.setdefault("keep_anchors", False)
    finals: dict[tuple[str, str], list[dict]] = {}
    for prob in problems:
        traces = fit_side_by_side(prob, **fit_kwargs)
        for m, tr in traces.items():
            finals.setdefault(("train", m), []).append(tr.final())
            if tr.test_metrics:
                finals.setdefault(("test", m), []).append(tr.final(test=True))
    rows = []
    for (split, m), vals in sorted(finals.items(), key=lambda kv: (kv[0][0] != "train",
                                                                  kv[0][1])):
        if len(vals) != len(problems):
            continue
        others = [v for (sp, mm), v in finals.items() if sp == split and mm != m]
        wins = sum(all(v["own_retrieval"] > o[i]["own_retrieval"] for o in others)
                   for i, v in enumerate(vals))
        row = {"split": split, "method": m, "n": len(vals), "wins": int(wins)}
        for k in keys:
            arr = np.array([v[k] for v in vals], dtype=np.float64)
            row[k], row[k + "_std"] = float(np.nanmean(arr)), float(np.nanstd(arr))
        rows.append(row)
    return rows


def format_comparison(rows: Sequence[dict], keys: Sequence[str] = ("own_retrieval", "pos_sim",
                                                                  "anchor_sim", "silhouette",
                                                                  "knn_acc")) -> str:
    """Plain-text table of :func:`compare_methods` rows (``mean +- std``)."""
    head = f"{'split':6s}{'method':10s}{'n':>3s}{'wins':>5s}" + "".join(f"{k:>18s}" for k in keys)
    lines = [head]
    for r in rows:
        lines.append(f"{r['split']:6s}{r['method']:10s}{r['n']:3d}{r['wins']:5d}" + "".join(
            f"{r[k]:>11.3f} +-{r[k + '_std']:5.3f}" for k in keys))
    return "\n".join(lines)


def frame_problem(
    data: FrameData,
    *,
    num_segments: int = 4,
    mode: str = "seq_seq_disjoint",
    input_dim: int | None = 64,
    seed: int = 0,
) -> GeometryProblem:
    """Figure 2 on real features: student = linear map of the anchor view's thumbnails.

    For every video one positive pair of views is drawn (``two_view_indices`` over the F
    frames, train rules for training videos, test rules for test videos). The guidance is the
    teacher's mean feature over the guidance view's frames (TSN average consensus, as a
    teacher sees a sequence); the student's input is the mean thumbnail over the anchor view,
    standardised with the training videos' mean and std and, with ``input_dim``, reduced by
    PCA (fit on the training videos) so that the linear student has ``input_dim x D`` weights.

    Args:
        data: from :func:`dtgkit.studies.frames.load_frame_data`.
        num_segments: T frames per view.
        mode: a pair mode of :data:`dtgkit.data.sampling.PAIR_MODES`.
        input_dim: PCA components of the student's input (None: all pixels).
        seed: seed of the view draws and of the initial weight.

    Returns:
        The training-video problem, with the test videos as ``.test``.
    """
    rng = np.random.default_rng(seed)
    n_f = data.num_frames
    xs, gs = [], []
    for i in range(len(data.labels)):
        train = bool(data.train_mask[i])
        a_idx, g_idx = two_view_indices(n_f, num_segments, mode, rng=rng, train=train)
        xs.append(data.student_frames[i, a_idx].mean(axis=0))  # D_in
        gs.append(data.guidance_frames[i, g_idx].mean(axis=0))  # D
    x, g = np.stack(xs).astype(np.float64), np.stack(gs)  # V x D_in, V x D
    tr = np.asarray(data.train_mask, dtype=bool)
    mu, sd = x[tr].mean(axis=0), x[tr].std(axis=0) + 1e-6
    x = (x - mu) / sd
    if input_dim is not None and input_dim < x.shape[1]:
        _, _, vt = np.linalg.svd(x[tr], full_matrices=False)
        k = min(input_dim, vt.shape[0])
        x = x @ vt[:k].T / np.sqrt(tr.sum())  # V x k, unit-variance-ish
    init = rng.standard_normal((x.shape[1], g.shape[1])) / np.sqrt(x.shape[1])
    name = f"SynthActions: {Path(data.teacher.split('#')[0]).name} guidance, {mode}"
    test = GeometryProblem(x[~tr], g[~tr], data.labels[~tr], init, name=name + " (test)") \
        if (~tr).any() else None
    return GeometryProblem(x[tr], g[tr], data.labels[tr], init, name=name, test=test)

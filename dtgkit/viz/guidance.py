"""The fused guidance space of differentiated teachers (Eq. 1), measured on frozen features.

Eq. 1 fuses the teachers' representations, ``R_guidance = sum_k w_k R_guidance,k`` with
``sum_k w_k = 1``. Teachers differ in feature size (EfficientNet-Lite0: 1280, a tiny net: 32)
and their bases are unrelated, so a weighted sum of raw features is not defined. What DTG uses
of a representation is its cosine similarities (Eq. 2), so this module defines the **fused
guidance space** as the concatenation of each teacher's L2-normalised video feature, scaled by
``sqrt(w_k)``::

    z = [sqrt(w_1) g_1 / |g_1|, ..., sqrt(w_M) g_M / |g_M|]     # V x (D_1 + ... + D_M)

Each ``z`` is a unit vector (``|z|^2 = sum_k w_k = 1``) and

    cos(z_i, z_j) = z_i . z_j = sum_k w_k cos(g_k,i, g_k,j)

i.e. the fused similarity matrix is *exactly* Eq. 1 applied to the teachers' similarity
matrices ``S_k = [cos(g_k,i, g_k,j)]``. Every score here (kNN accuracy, silhouette, class
separation, the 2-D PCA) depends on the features only through ``S = sum_k w_k S_k``, so
:class:`GuidanceSpace` computes the M matrices ``S_k`` once and a change of weights costs one
weighted sum of V x V matrices (fast enough to follow a slider; :func:`time_weight_update`
measures it).

``scale="linear"`` gives the other reading, the one ``DTGNet(fusion="feature")`` trains with
by default (``dtg.fusion_scale=linear``, :meth:`dtgkit.dtg.net.DTGNet._forward_feature`):
``normalize(concat_k(w_k g_k / |g_k|))``, whose similarity is ``sum_k w_k^2 S_k / sum_k w_k^2``;
a weight then counts quadratically (w = (0.75, 0.25) acts like (0.9, 0.1) on similarities).
``dtg.fusion_scale=sqrt`` trains DTG in this module's default space (a test checks that the
keys the net enqueues equal :func:`fuse_guidance` for both scales). Under loss fusion
(``fusion="loss"``, the paper's Sec. 4.3.3) no fused space exists; the ``sqrt`` space is the
natural picture of "a weighted sum of per-teacher similarities".

Video features are those of the TSN test view: the mean over the ``num_segments`` segment
centres (:func:`dtgkit.data.sampling.tsn_indices` with ``train=False``) of each teacher's
per-frame features, read from a teacher cache (:class:`dtgkit.models.teacher_cache.CachedGuidance`)
or computed by the live teachers.
"""
from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from dtgkit.data.sampling import tsn_indices
from dtgkit.dtg import weighting as W
from dtgkit.dtg.fusion import fuse, similarity_weights
from dtgkit.viz.plots import ANCHOR_COLOR, GUIDANCE_COLOR, new_figure

__all__ = [
    "GuidanceSpace",
    "display_names",
    "fuse_guidance",
    "guidance_scores",
    "load_split_guidance",
    "plot_guidance_space",
    "plot_teacher_scores",
    "run_mean_weights",
    "scores_from_similarity",
    "short_name",
    "time_weight_update",
    "video_guidance_features",
]

DPI = 80


# ------------------------------------------------------------------------------ features
def _as_array(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


def _l2n(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), eps)


def video_guidance_features(source, records: Sequence, num_segments: int = 8, *,
                            teachers: Sequence[str] | None = None, size: int = 112,
                            backend: str = "decord", chunk: int = 256,
                            progress: bool = False) -> dict[str, np.ndarray]:
    """Each teacher's feature of each video: the mean over the TSN test view's frames.

    Args:
        source: a :class:`~dtgkit.models.teacher_cache.CachedGuidance`, a cache directory, or
            live teachers (a list of :class:`~dtgkit.models.teachers.Teacher` or specs).
        records: V videos (:class:`~dtgkit.data.datasets.VideoRecord` or anything with
            ``.path``; plain paths are accepted too).
        num_segments: T, frames per video (the segment centres, ``tsn_indices(train=False)``).
        teachers: with a cache directory, the specs to read (default: all in it).
        size: live teachers only: frames are centre-cropped and resized to this size, the
            cache's own view (:func:`~dtgkit.models.teacher_cache.center_crop_resize`).
        backend: live teachers only: the ``open_video`` backend.
        chunk: videos per cache lookup.
        progress: tqdm bar over videos (live teachers).

    Returns:
        dict spec -> V x D_k float32 features, in the teachers' order.

    Raises:
        KeyError: a video is not in the cache (the message names it).
    """
    from dtgkit.models.teacher_cache import CachedGuidance

    paths = [str(getattr(r, "path", r)) for r in records]
    if isinstance(source, (str, os.PathLike)):
        source = CachedGuidance(source, teachers)
    if isinstance(source, CachedGuidance):
        first = source.index[0]
        num_frames = []
        for p in paths:
            key = source.key(p)
            if key not in first["videos"]:
                raise KeyError(f"video {key} is not in the teacher cache {source.cache_dir}")
            num_frames.append(int(first["videos"][key][1]))
        idx = [tsn_indices(n, num_segments, train=False) for n in num_frames]  # V x (T,)
        parts: list[list[torch.Tensor]] = [[] for _ in source.specs]
        for lo in range(0, len(paths), chunk):
            feats = source(paths[lo:lo + chunk], np.stack(idx[lo:lo + chunk]))  # M x (n x D_k)
            for k, f in enumerate(feats):
                parts[k].append(f.cpu())
        return {spec: torch.cat(p).numpy().astype(np.float32) if p else
                np.zeros((0, d), np.float32)
                for spec, p, d in zip(source.specs, parts, source.feat_dims)}
    return _live_features(source, paths, num_segments, size, backend, progress)


def _live_features(teachers, paths, num_segments, size, backend, progress):
    from tqdm.auto import tqdm

    from dtgkit.data.video import open_video
    from dtgkit.models.teacher_cache import center_crop_resize
    from dtgkit.models.teachers import Teacher, create_teacher

    if isinstance(teachers, (str, Teacher)):
        teachers = [teachers]
    teachers = [t if isinstance(t, Teacher) else create_teacher(t) for t in teachers]
    out: dict[str, list[np.ndarray]] = {t.spec: [] for t in teachers}
    for path in tqdm(paths, desc="teacher features", disable=not progress):
        with open_video(path, backend=backend) as reader:
            frames = reader.get_frames(tsn_indices(reader.num_frames, num_segments,
                                                   train=False))  # T x H x W x 3
        clip = center_crop_resize(frames, size)[None]  # 1 x T x 3 x size x size
        for t in teachers:
            out[t.spec].append(t(clip).cpu().numpy())  # 1 x D
    return {spec: np.concatenate(f).astype(np.float32) if f else
            np.zeros((0, t.feat_dim), np.float32) for (spec, f), t in zip(out.items(), teachers)}


def load_split_guidance(source, video_root: str | os.PathLike, split_dir: str | os.PathLike, *,
                        split: int = 1, num_segments: int = 8, teachers: Sequence[str] | None = None
                        ) -> dict:
    """Teacher video features of a UCF101-layout split, train and test videos together.

    Args:
        source: a teacher cache (object or directory) or live teachers, as for
            :func:`video_guidance_features`.
        video_root: ``videos/`` folder; split_dir: ``classInd.txt``, ``trainlist0N.txt`` ...
        split: split number.
        num_segments: T frames per video.
        teachers: specs to read from a cache directory (default: all).

    Returns:
        dict(feats={spec: V x D_k}, labels V int64, train_mask V bool (train videos first),
        class_names, records).
    """
    from dtgkit.data.datasets import load_ucf101

    train, class_names = load_ucf101(video_root, split_dir, split, "train")
    test, _ = load_ucf101(video_root, split_dir, split, "test")
    records = list(train) + list(test)
    feats = video_guidance_features(source, records, num_segments, teachers=teachers)
    return {"feats": feats, "labels": np.array([r.label for r in records], dtype=np.int64),
            "train_mask": np.arange(len(records)) < len(train), "class_names": class_names,
            "records": records}


# ---------------------------------------------------------------------------------- fusion
def fuse_guidance(feats: Mapping[str, np.ndarray] | Sequence[np.ndarray], weights,
                  scale: str = "sqrt") -> np.ndarray:
    """Videos in the fused guidance space (module docstring): ``z = normalize(concat_k(c_k
    g_k/|g_k|))`` with :func:`dtgkit.dtg.fusion.fuse` (``c_k = sqrt(w_k)``: ``z_i . z_j =
    sum_k w_k cos(g_k,i, g_k,j)``; ``"linear"``: ``c_k = w_k``, DTGNet's feature fusion).

    Args:
        feats: M arrays V x D_k (a dict spec -> array keeps its order).
        weights: M non-negative weights (normalised to sum 1).
        scale: ``"sqrt"`` (default) or ``"linear"``.

    Returns:
        z: V x (D_1 + ... + D_M) float32, unit rows.
    """
    blocks = list(feats.values()) if isinstance(feats, Mapping) else list(feats)
    w = W.fixed(weights)  # M
    if len(w) != len(blocks):
        raise ValueError(f"{len(w)} weights for {len(blocks)} teachers")
    return fuse([torch.from_numpy(_l2n(_as_array(f))) for f in blocks], w, scale).numpy()


# ---------------------------------------------------------------------------------- scores
def _knn_votes(sim: np.ndarray, bank_onehot: np.ndarray, k: int, tau: float) -> np.ndarray:
    """Similarity-weighted kNN votes (MoCo / lightly knn_predict) from a query x bank matrix.

    Args:
        sim: n x M similarities (``-inf`` = never a neighbour).
        bank_onehot: M x C one-hot labels of the bank.
        k: neighbours (clamped to M), tau: temperature of the vote weights ``exp(sim / tau)``.

    Returns:
        n x C votes.
    """
    k = max(1, min(int(k), sim.shape[1]))
    weights = np.exp((sim - 1.0) / tau)  # n x M; shifted by the max cosine: no overflow
    if k < sim.shape[1]:
        far = np.argpartition(-sim, k - 1, axis=1)[:, k:]  # n x (M - k), not among the top k
        np.put_along_axis(weights, far, 0.0, axis=1)
    return weights @ bank_onehot  # n x C


def _silhouette(sums: np.ndarray, y: np.ndarray, counts: np.ndarray) -> float:
    """Mean silhouette (sklearn's definition: a sample alone in its class scores 0) from the
    summed distances of each sample to each class.

    Args:
        sums: V x C, ``sum_{j in class c} dist(i, j)`` (``dist(i, i) = 0``).
        y: V class indices into the C classes; counts: C class sizes.
    """
    if len(counts) < 2 or len(counts) >= len(y):
        return float("nan")
    rows = np.arange(len(y))
    own = counts[y] - 1  # V, other members of the own class
    a = sums[rows, y] / np.maximum(own, 1)  # V
    mean_other = sums / counts  # V x C
    mean_other[rows, y] = np.inf
    b = mean_other.min(1)  # V
    s = np.where(own > 0, (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0.0)  # V
    return float(s.mean())


def scores_from_similarity(sim: np.ndarray, labels, train_mask=None, *, k: int = 200,
                           tau: float = 0.1, groups=None) -> dict[str, float]:
    """How well a cosine-similarity matrix separates the classes.

    Args:
        sim: V x V cosine similarities (``S = Z Z^T`` of unit features).
        labels: V integer labels.
        train_mask: V booleans: kNN uses the train videos as the bank and the others as
            queries; None: leave-one-out over all videos.
        groups: V group ids (UCF101's ``gXX``: clips cut from one longer video). With
            leave-one-out, a video's neighbours then exclude its own group (whose clips share
            scene and actor and would inflate kNN accuracy); ignored with ``train_mask``,
            whose split keeps groups apart already.
        k: kNN neighbours (default 200, clamped to the bank), tau: vote temperature (0.1),
            as the MoCo kNN monitor (ANCHORS.md "Metrics").

    Returns:
        dict: ``knn_acc`` (similarity-weighted kNN top-1, %), ``nn1_acc`` (nearest
        neighbour top-1, %), ``silhouette`` (cosine distance ``1 - S``, in [-1, 1]),
        ``intra_sim`` / ``inter_sim`` (mean cosine between different videos of the same / of
        different classes), ``separation`` (intra - inter), ``num_queries``.
    """
    sim = np.asarray(sim, dtype=np.float64)  # V x V
    labels = np.asarray(labels, dtype=np.int64)
    v = len(labels)
    classes, y = np.unique(labels, return_inverse=True)
    onehot = np.eye(len(classes))[y]  # V x C
    counts = onehot.sum(0)  # C
    if train_mask is None:
        q_idx = b_idx = np.arange(v)
        s = sim.copy()
        np.fill_diagonal(s, -np.inf)  # leave-one-out: a video is not its own neighbour
        kk = min(k, v - 1)
        if groups is not None:
            g = np.asarray(groups)
            s[g[:, None] == g[None, :]] = -np.inf  # nor is any clip of its group
            kk = min(kk, int(v - np.bincount(np.unique(g, return_inverse=True)[1]).max()))
    else:
        train_mask = np.asarray(train_mask, dtype=bool)
        q_idx, b_idx = np.flatnonzero(~train_mask), np.flatnonzero(train_mask)
        s = sim[np.ix_(q_idx, b_idx)]  # n x M
        kk = k
    if len(q_idx) and len(b_idx) and kk >= 1:
        votes = _knn_votes(s, onehot[b_idx], kk, tau)  # n x C
        knn = float((classes[votes.argmax(1)] == labels[q_idx]).mean())
        nn1 = float((labels[b_idx][s.argmax(1)] == labels[q_idx]).mean())
    else:
        knn = nn1 = float("nan")
    by_class = sim @ onehot  # V x C: summed similarity of each video to each class
    same_total = float(np.sum(by_class * onehot)) - float(np.trace(sim))  # i != j, same class
    same_pairs = float(np.sum(counts ** 2)) - v
    diff_total = float(by_class.sum()) - same_total - float(np.trace(sim))
    diff_pairs = float(v * v - np.sum(counts ** 2))
    intra = same_total / same_pairs if same_pairs else float("nan")
    inter = diff_total / diff_pairs if diff_pairs else float("nan")
    dist_sums = counts[None, :] - by_class  # V x C: summed cosine distance 1 - S
    dist_sums[np.arange(v), y] -= 1.0 - np.diag(sim)  # dist(i, i) = 0 exactly
    return {"knn_acc": 100.0 * knn, "nn1_acc": 100.0 * nn1,
            "silhouette": _silhouette(dist_sums, y, counts),
            "intra_sim": intra, "inter_sim": inter, "separation": intra - inter,
            "num_queries": len(q_idx)}


def guidance_scores(fused: np.ndarray, labels, train_mask=None, *, k: int = 200,
                    tau: float = 0.1) -> dict[str, float]:
    """:func:`scores_from_similarity` of features (normalised here), e.g. a fused space.

    Args:
        fused: V x D features (:func:`fuse_guidance` output or one teacher's features).
        labels, train_mask, k, tau: see :func:`scores_from_similarity`.
    """
    z = _l2n(_as_array(fused))  # V x D
    return scores_from_similarity(z @ z.T, labels, train_mask, k=k, tau=tau)


def _pca2(sim: np.ndarray) -> np.ndarray:
    """2-D PCA scores of unit features from their Gram matrix (``S = Z Z^T``): the top
    eigenvectors of the doubly centred ``H S H``, times sqrt(eigenvalue). Signs are fixed so
    the largest-magnitude entry of each axis is positive."""
    v = len(sim)
    if v < 2:
        return np.zeros((v, 2))
    g = np.asarray(sim, dtype=np.float64)
    g = g - g.mean(0, keepdims=True)
    g = g - g.mean(1, keepdims=True)  # H S H
    n = min(2, v)
    if v <= 300:
        from scipy.linalg import eigh

        vals, vecs = eigh(g, subset_by_index=[v - n, v - 1])  # ascending
    else:  # Lanczos: a few dozen V x V products instead of a full decomposition
        from scipy.sparse.linalg import eigsh

        vals, vecs = eigsh(g, k=n, which="LA", v0=np.random.default_rng(0).standard_normal(v), tol=1e-6)
        order = np.argsort(vals)
        vals, vecs = vals[order], vecs[:, order]
    vals, vecs = vals[::-1], vecs[:, ::-1]  # largest first
    xy = vecs * np.sqrt(np.clip(vals, 0.0, None))  # V x n
    flip = np.sign(xy[np.abs(xy).argmax(0), np.arange(n)])
    xy = xy * np.where(flip == 0, 1.0, flip)
    return np.pad(xy, ((0, 0), (0, 2 - n)))


class GuidanceSpace:
    """Per-teacher similarity matrices computed once; scores of any weighting from them.

    Args:
        feats: dict spec -> V x D_k teacher features (one row per video, same order).
        labels: V integer labels.
        train_mask: V booleans (kNN bank = train, queries = the rest), or None (leave-one-out).
        class_names: names of the labels (figures).
        k, tau: kNN neighbours and vote temperature (:func:`scores_from_similarity`).
        scale: ``"sqrt"`` or ``"linear"`` (:func:`similarity_weights`).

    Example:
        >>> space = GuidanceSpace(feats, labels, train_mask)
        >>> space.evaluate([0.5, 0.5])["knn_acc"]
    """

    def __init__(self, feats: Mapping[str, np.ndarray], labels, train_mask=None, *,
                 class_names: Sequence[str] | None = None, k: int = 200, tau: float = 0.1,
                 scale: str = "sqrt") -> None:
        if not feats:
            raise ValueError("no teacher features given")
        self.names = list(feats)
        self.labels = np.asarray(labels, dtype=np.int64)
        sizes = {name: len(f) for name, f in feats.items()}
        if len(set(sizes.values())) != 1 or len(self.labels) != next(iter(sizes.values())):
            raise ValueError(f"features and labels differ in length: {sizes}, "
                             f"labels {len(self.labels)}")
        self.train_mask = None if train_mask is None else np.asarray(train_mask, dtype=bool)
        self.class_names = list(class_names) if class_names is not None else None
        self.k, self.tau, self.scale = k, tau, scale
        similarity_weights(np.ones(len(self.names)), scale)  # validates scale
        sims = []
        for f in feats.values():
            z = _l2n(_as_array(f))  # V x D_k
            sims.append(z @ z.T)  # V x V
        self.sims = np.stack(sims).astype(np.float32)  # M x V x V
        off = ~np.eye(len(self.labels), dtype=bool)
        low = float(min(s[off].min() for s in self.sims)) if off.any() else 0.0
        #: colour range of similarity figures, the same for every weighting
        self.sim_range = (min(np.floor(low * 10) / 10, 0.9), 1.0)

    def __len__(self) -> int:
        return len(self.labels)

    def similarity(self, weights) -> np.ndarray:
        """Fused similarity ``sum_k c_k S_k`` (``c`` = :func:`similarity_weights`): V x V."""
        c = similarity_weights(weights, self.scale).astype(np.float32)  # M
        if len(c) != len(self.names):
            raise ValueError(f"{len(c)} weights for {len(self.names)} teachers {self.names}")
        return np.tensordot(c, self.sims, axes=1)  # V x V

    def evaluate(self, weights, *, with_pca: bool = True) -> dict:
        """Scores of the fused guidance space for one weighting (what the widget shows).

        Args:
            weights: M teacher weights (normalised to sum 1).
            with_pca: also compute the 2-D PCA of the fused space.

        Returns:
            :func:`scores_from_similarity`'s dict plus ``weights`` (M, summing to 1),
            ``names``, ``similarity`` (V x V), ``pca`` (V x 2 or None), ``labels``,
            ``train_mask``, ``class_names``, ``scale``, ``sim_range`` (colour range of the
            similarity panel, fixed per space) and ``seconds`` (time of this call).
        """
        start = time.perf_counter()
        w = W.fixed(weights).numpy()  # M
        sim = self.similarity(w)  # V x V
        out = scores_from_similarity(sim, self.labels, self.train_mask, k=self.k, tau=self.tau)
        out.update(weights=w, names=list(self.names), similarity=sim,
                   pca=_pca2(sim) if with_pca else None, labels=self.labels,
                   train_mask=self.train_mask, class_names=self.class_names, scale=self.scale,
                   sim_range=self.sim_range)
        out["seconds"] = time.perf_counter() - start
        return out

    def teacher_scores(self) -> dict[str, dict]:
        """Scores of each teacher alone (the raw material of the *offline* weighting)."""
        eye = np.eye(len(self.names))
        return {name: self.evaluate(eye[i], with_pca=False) for i, name in enumerate(self.names)}

    def offline_weights(self, temperature: float = 1.0, key: str = "knn_acc") -> np.ndarray:
        """Offline weights (:func:`dtgkit.dtg.weighting.offline`) from each teacher's frozen
        kNN accuracy in percent, standing in for a single-teacher DTG run's top-1 accuracy."""
        accs = [s[key] for s in self.teacher_scores().values()]
        return W.offline(accs, temperature).numpy()


def run_mean_weights(run: str | os.PathLike | Sequence[Mapping], names: Sequence[str] | None = None
                     ) -> dict[str, float]:
    """Mean per-teacher weights logged by a DTG run (``weight/<name>`` of its train rows).

    With ``online1`` / ``online2`` these are the mean online weights of the whole run.

    Args:
        run: a run directory (``metrics.jsonl``) or the rows (e.g. ``Trainer.history``).
        names: teacher names to return, in this order (default: every ``weight/`` key).

    Returns:
        dict name -> mean weight (normalised to sum 1).

    Raises:
        ValueError: no weights were logged (or a name is missing).
    """
    if isinstance(run, (str, os.PathLike)):
        from dtgkit.train.engine import read_metrics

        rows = read_metrics(run, "train")
    else:
        rows = [r for r in run if r.get("kind", "train") == "train"]
    sums: dict[str, list[float]] = {}
    for row in rows:
        for key, value in row.items():
            if key.startswith("weight/") and value is not None:
                sums.setdefault(key[len("weight/"):], []).append(float(value))
    names = list(names) if names is not None else list(sums)
    missing = [n for n in names if n not in sums]
    if not names or missing:
        raise ValueError(f"no logged weights for {missing or 'any teacher'} in {run!s:.200}")
    w = W.fixed([np.mean(sums[n]) for n in names]).numpy()
    return dict(zip(names, w.tolist()))


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
    import io

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


def short_name(spec: str, width: int = 24) -> str:
    """A display name of a teacher spec: the file stem of a path, the ``size`` option dropped,
    ``imagenet-efficientnet-lite0`` abbreviated, cut to ``width`` characters."""
    base, *options = spec.split("#")
    if ":" in base:
        kind, rest = base.split(":", 1)
        rest = Path(rest.split("@")[0]).stem if ("/" in rest or rest.endswith(".pt")) else rest
        base = f"{kind}:{rest}"
    base = base.replace("imagenet-efficientnet-lite0", "imagenet-lite0")
    base = "#".join([base, *(o for o in options if not o.startswith("size="))])
    return base if len(base) <= width else base[:width - 1] + "…"


def display_names(specs: Sequence[str], width: int = 24) -> list[str]:
    """:func:`short_name` of each spec, or the full specs where short names would collide."""
    short = [short_name(s, width) for s in specs]
    return short if len(set(short)) == len(short) else list(specs)


# --------------------------------------------------------------------------------- figures
def _class_colors(num_classes: int):
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if num_classes <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(num_classes)]


def plot_guidance_space(state: Mapping, *, fig: Figure | None = None,
                        figsize: tuple[float, float] = (11.0, 3.4), max_matrix: int = 400
                        ) -> Figure:
    """The fused guidance space of one weighting: weights, similarity matrix, 2-D PCA.

    Args:
        state: :meth:`GuidanceSpace.evaluate` output.
        fig: a figure this function returned before for the *same videos and teachers*: its
            artists are updated in place (about 3x faster than a new figure; the widget's path).
        figsize: figure size in inches (new figures).
        max_matrix: the similarity panel shows at most this many videos (evenly spaced).

    Returns:
        The figure (not shown): (a) the teacher weights, (b) the fused cosine similarity of
        the videos sorted by class (lines between classes), (c) the 2-D PCA of the fused space
        coloured by class (o: train / bank videos, x: test / query videos).
    """
    labels = np.asarray(state["labels"])
    w = np.asarray(state["weights"])
    order = np.argsort(labels, kind="stable")
    if len(order) > max_matrix:
        order = order[np.linspace(0, len(order) - 1, max_matrix).round().astype(int)]
    sim = np.asarray(state["similarity"])[np.ix_(order, order)]
    pca = state.get("pca")
    sim_title = f"fused cosine, videos by class (separation {state['separation']:.3f})"
    pca_title = (f"PCA of the fused space: kNN {state['knn_acc']:.1f}%, "
                 f"silhouette {state['silhouette']:.3f}")
    art = getattr(fig, "_dtgkit_guidance", None) if fig is not None else None
    if art is None:
        fig, art = _guidance_figure(state, labels, order, figsize)
    for bar, text, wi in zip(art["bars"], art["bar_texts"], w):
        bar.set_width(wi)
        inside = wi > 0.7  # long bars carry their number inside, in white
        text.set_x(wi - 0.02 if inside else wi + 0.02)
        text.set_horizontalalignment("right" if inside else "left")
        text.set_color("white" if inside else "black")
        text.set_text(f"{wi:.2f}")
    art["image"].set_data(sim)
    art["sim_title"].set_text(sim_title)
    art["pca_title"].set_text(pca_title)
    if pca is not None:
        for sel, coll in art["points"]:
            coll.set_offsets(pca[sel])
        lo, hi = pca.min(0), pca.max(0)
        pad = 0.06 * np.maximum(hi - lo, 1e-6)
        art["ax_pca"].set_xlim(lo[0] - pad[0], hi[0] + pad[0])
        art["ax_pca"].set_ylim(lo[1] - pad[1], hi[1] + pad[1])
    return fig


def _guidance_figure(state: Mapping, labels: np.ndarray, order: np.ndarray,
                     figsize: tuple[float, float]) -> tuple[Figure, dict]:
    """The figure of :func:`plot_guidance_space` with empty artists (fixed layout: a
    constrained layout would cost more than the whole update)."""
    names = display_names(state["names"], 16)
    class_names = state.get("class_names")
    num_classes = int(labels.max()) + 1 if len(labels) else 1
    colors = _class_colors(num_classes)
    fig = new_figure(figsize=figsize, dpi=DPI)
    ax_w = fig.add_axes((0.13, 0.14, 0.14, 0.74))
    ax_s = fig.add_axes((0.33, 0.06, 0.24, 0.82))
    ax_c = fig.add_axes((0.575, 0.14, 0.008, 0.66))
    ax_p = fig.add_axes((0.63, 0.06, 0.25, 0.82))

    y = np.arange(len(names))
    bars = ax_w.barh(y, np.zeros(len(names)), color=GUIDANCE_COLOR)
    bar_texts = [ax_w.text(0.02, yi, "", va="center", fontsize=8) for yi in y]
    ax_w.set_yticks(y, names, fontsize=8)
    ax_w.invert_yaxis()
    ax_w.set_xlim(0, 1)
    ax_w.set_xticks([0, 0.5, 1])
    ax_w.set_xlabel("weight $w_k$", fontsize=9)
    ax_w.tick_params(axis="x", labelsize=8)
    ax_w.set_title("teacher weights (sum 1)", fontsize=9)

    vmin, vmax = state.get("sim_range", (-0.2, 1.0))
    image = ax_s.imshow(np.zeros((len(order), len(order))), vmin=vmin, vmax=vmax,
                        cmap="viridis", interpolation="nearest")
    for e in np.flatnonzero(np.diff(labels[order])) + 0.5:
        ax_s.axhline(e, color="w", lw=0.4)
        ax_s.axvline(e, color="w", lw=0.4)
    ax_s.set_xticks([])
    ax_s.set_yticks([])
    fig.colorbar(image, cax=ax_c, ticks=np.linspace(vmin, vmax, 3).round(2))
    ax_c.tick_params(labelsize=7)

    train = state.get("train_mask")
    train = np.ones(len(labels), bool) if train is None else np.asarray(train, dtype=bool)
    points = []
    for c in range(num_classes):
        for mask, marker in ((train, "o"), (~train, "x")):
            sel = (labels == c) & mask
            if sel.any():
                label = (class_names[c] if class_names else str(c)) \
                    if marker == "o" or not train.any() else None
                points.append((sel, ax_p.scatter(np.zeros(sel.sum()), np.zeros(sel.sum()), s=22,
                                                 marker=marker, color=colors[c], lw=1.2,
                                                 label=label)))
    if num_classes <= 12:
        ax_p.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False,
                    handletextpad=0.2)
    ax_p.set_xticks([])
    ax_p.set_yticks([])
    art = {"bars": list(bars), "bar_texts": bar_texts, "image": image, "points": points,
           "ax_pca": ax_p, "sim_title": ax_s.set_title("", fontsize=9),
           "pca_title": ax_p.set_title("", fontsize=9)}
    fig._dtgkit_guidance = art
    return fig, art


def plot_teacher_scores(scores: Mapping[str, Mapping], weights: Mapping[str, Sequence[float]]
                        | None = None, *, key: str = "knn_acc",
                        figsize: tuple[float, float] = (9.0, 3.0)) -> Figure:
    """Each teacher's frozen-feature score and, optionally, weightings derived from them.

    Args:
        scores: spec -> scores dict (:meth:`GuidanceSpace.teacher_scores`).
        weights: optional name -> M weights (e.g. ``{"uniform": ..., "offline": ...}``).
        key: which score to plot (``knn_acc`` in %, ``silhouette``, ``separation`` ...).
        figsize: figure size in inches.

    Returns:
        The figure (not shown): left, the score per teacher; right, the weightings.
    """
    names = display_names(list(scores), 22)
    vals = [float(s[key]) for s in scores.values()]
    ncols = 2 if weights else 1
    fig = new_figure(figsize=figsize, dpi=DPI, layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, ncols))
    y = np.arange(len(names))
    axes[0].barh(y, vals, color=GUIDANCE_COLOR)
    for yi, v in zip(y, vals):
        axes[0].text(v, yi, f" {v:.1f}" if key.endswith("acc") else f" {v:.3f}", va="center",
                     fontsize=8)
    axes[0].set_yticks(y, names, fontsize=8)
    axes[0].invert_yaxis()
    axes[0].set_xlabel(key + (" (%)" if key.endswith("acc") else ""))
    axes[0].set_title("each teacher alone (frozen features)", fontsize=9)
    if weights:
        height = 0.8 / len(weights)
        palette = [GUIDANCE_COLOR, ANCHOR_COLOR, "tab:blue", "tab:purple", "tab:gray"]
        for j, (wname, w) in enumerate(weights.items()):
            axes[1].barh(y - 0.4 + height * (j + 0.5), np.asarray(w, dtype=float), height,
                         label=wname, color=palette[j % len(palette)])
        axes[1].set_yticks(y, names, fontsize=8)
        axes[1].invert_yaxis()
        axes[1].set_xlim(0, 1)
        axes[1].set_xlabel("weight")
        axes[1].legend(fontsize=8)
        axes[1].set_title("teacher weightings", fontsize=9)
    return fig

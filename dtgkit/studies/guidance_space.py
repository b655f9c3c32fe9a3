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
weighted sum of V x V matrices (fast enough to follow a slider;
:func:`dtgkit.widgets.weights.time_weight_update` measures it).

``scale="linear"`` gives the other reading, the one ``DTGNet(fusion="feature")`` trains with
by default (``dtg.fusion_scale=linear``, :func:`dtgkit.dtg.fusion.fuse`):
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
from tqdm.auto import tqdm

from dtgkit.data.sampling import tsn_indices
from dtgkit.data.splits import load_ucf101
from dtgkit.data.video import open_video
from dtgkit.dtg import weighting as W
from dtgkit.dtg.fusion import fuse, similarity_weights
from dtgkit.metrics import knn_predict, l2_normalize, silhouette
from dtgkit.models.teacher_cache import CachedGuidance, center_crop_resize
from dtgkit.models.teachers import Teacher, create_teacher
from dtgkit.train.engine import read_metrics

__all__ = [
    "GuidanceSpace",
    "fuse_guidance",
    "guidance_scores",
    "load_split_guidance",
    "run_mean_weights",
    "scores_from_similarity",
    "teacher_weight_series",
    "video_guidance_features",
]


# ------------------------------------------------------------------------------ features
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
    return fuse([torch.from_numpy(l2_normalize(f)) for f in blocks], w, scale).numpy()


# ---------------------------------------------------------------------------------- scores
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
        votes = knn_predict(s, y[b_idx], len(classes), k=kk, tau=tau)  # n x C
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
    return {"knn_acc": 100.0 * knn, "nn1_acc": 100.0 * nn1,
            "silhouette": silhouette(1.0 - sim, y),  # cosine distance
            "intra_sim": intra, "inter_sim": inter, "separation": intra - inter,
            "num_queries": len(q_idx)}


def guidance_scores(fused: np.ndarray, labels, train_mask=None, *, k: int = 200,
                    tau: float = 0.1) -> dict[str, float]:
    """:func:`scores_from_similarity` of features (normalised here), e.g. a fused space.

    Args:
        fused: V x D features (:func:`fuse_guidance` output or one teacher's features).
        labels, train_mask, k, tau: see :func:`scores_from_similarity`.
    """
    z = l2_normalize(fused)  # V x D
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
            z = l2_normalize(f)  # V x D_k
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


def teacher_weight_series(run: str | os.PathLike | Sequence[Mapping], *, x: str | None = "step"
                          ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The per-teacher weights a DTG run logged over training (Figure 3's data).

    Args:
        run: a run directory (its ``metrics.jsonl``), that file, or its rows (e.g.
            ``Trainer.history``). Rows with ``kind`` other than ``"train"`` are ignored; rows
            without ``kind`` count as train rows.
        x: the row key of the x axis (``"step"`` or ``"epoch"``; None: the row number).

    Returns:
        ``(x values R, {teacher name: R weights})`` over the R rows that logged any
        ``weight/<name>`` (NaN where a row lacks one teacher).

    Raises:
        FileNotFoundError: no ``metrics.jsonl``. ValueError: a bad line (named) or no weights.
    """
    if isinstance(run, (str, os.PathLike)):
        folder = Path(run) if Path(run).is_dir() else Path(run).parent
        if not (folder / "metrics.jsonl").is_file():
            raise FileNotFoundError(f"no metrics file {folder / 'metrics.jsonl'}")
        rows, what = read_metrics(folder), str(run)
    else:
        rows, what = [dict(r) for r in run], "the given rows"
    rows = [r for r in rows
            if r.get("kind", "train") == "train" and any(k.startswith("weight/") for k in r)]
    names = list(dict.fromkeys(k[len("weight/"):] for r in rows for k in r
                               if k.startswith("weight/")))
    if not names:
        raise ValueError(f"no 'weight/<teacher>' values in the train rows of {what}")
    if x is not None and any(x not in r for r in rows):
        raise ValueError(f"{what}: a train row lacks {x!r}")
    xs = np.array([float(r[x]) for r in rows]) if x is not None else np.arange(len(rows), dtype=float)
    series = {n: np.array([np.nan if r.get(f"weight/{n}") is None else float(r[f"weight/{n}"])
                           for r in rows]) for n in names}
    return xs, series


def run_mean_weights(run: str | os.PathLike | Sequence[Mapping], names: Sequence[str] | None = None
                     ) -> dict[str, float]:
    """Mean per-teacher weights logged by a DTG run (``weight/<name>`` of its train rows).

    With ``online1`` / ``online2`` these are the mean online weights of the whole run.

    Args:
        run: as for :func:`teacher_weight_series`.
        names: teacher names to return, in this order (default: every logged teacher).

    Returns:
        dict name -> mean weight (normalised to sum 1).

    Raises:
        ValueError: no weights were logged (or a name is missing).
    """
    _, series = teacher_weight_series(run, x=None)
    names = list(names) if names is not None else list(series)
    missing = [n for n in names if n not in series]
    if not names or missing:
        raise ValueError(f"no logged weights for {missing or 'any teacher'} in {run!s:.200}")
    w = W.fixed([np.nanmean(series[n]) for n in names]).numpy()
    return dict(zip(names, w.tolist()))

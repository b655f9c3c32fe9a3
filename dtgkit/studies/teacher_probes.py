"""What each teacher sees: frozen-feature probes, retrieval and similarity (paper Sec. 3.3, 4.3.3).

DTG-Net's teachers are frozen image networks; a teacher helps the student only through the
similarities of its guidance features (Eq. 2). This module measures those features directly,
per teacher, before any student is trained:

* :func:`top_k_predictions` - an ImageNet teacher's own classifier on real photos (is it the
  real thing?);
* :func:`load_teacher_features` - per-video teacher features of a UCF101-layout split, the mean
  over the TSN test frames, read from a teacher feature cache (built only where missing);
* :func:`nearest_neighbours` - retrieval by cosine similarity;
* :func:`class_similarity` - class-by-class mean cosine;
* :func:`teacher_probes` - kNN and linear-probe accuracy of each teacher's frozen features, the
  raw material of the *offline* weighting (:func:`dtgkit.dtg.weighting.offline`; the paper
  softmaxes the top-1 accuracy of single-teacher DTG runs, a frozen probe is the cheap proxy);
* :func:`pair_separation` - whether a teacher tells the two classes of each confusable pair
  apart (:data:`dtgkit.data.synth.CONFUSABLE_PAIRS`): a teacher sees one frame at a time and
  averages over frames, so it should fail on *motion-only* pairs (the same poses at another
  rate, which a frame shows only as motion blur, or the same frames in another order) and may
  succeed on *appearance-only* pairs (other held object) and the *scene* pair (other place).

Their pictures are in :mod:`dtgkit.viz.teachers`.
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from dtgkit.data.sampling import tsn_indices
from dtgkit.data.splits import load_ucf101
from dtgkit.data.video import open_video
from dtgkit.metrics import evaluate_knn, l2_normalize, linear_probe
from dtgkit.models.teacher_cache import (
    CachedGuidance,
    cache_covers,
    cache_teacher_features,
    center_crop_resize,
)
from dtgkit.models.teachers import short_name
from dtgkit.studies.guidance_space import video_guidance_features

__all__ = [
    "PHOTOS",
    "class_similarity",
    "load_teacher_features",
    "nearest_neighbours",
    "other_group",
    "pair_cells",
    "pair_separation",
    "probe_table",
    "real_photos",
    "summarise_pairs",
    "teacher_probes",
    "top_k_predictions",
    "video_thumbnails",
    "weight_of",
]

#: real photos shipped with scikit-image (no download): name -> what is in them
PHOTOS = {"chelsea": "a tabby cat", "coffee": "a cup of coffee", "astronaut": "an astronaut",
          "rocket": "a rocket on its launch pad"}


# ------------------------------------------------------------------ ImageNet on real photos
def real_photos(names: Sequence[str] = tuple(PHOTOS)) -> dict[str, np.ndarray]:
    """Real RGB photos from ``skimage.data`` (bundled with scikit-image, no download).

    Args:
        names: ``skimage.data`` function names (default :data:`PHOTOS`).

    Returns:
        dict name -> uint8 H x W x 3.
    """
    import skimage.data  # scikit-image: only for these photos

    out = {}
    for name in names:
        img = np.asarray(getattr(skimage.data, name)())
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        out[name] = np.ascontiguousarray(img[..., :3])  # drop an alpha channel
    return out


def top_k_predictions(teacher, images: Mapping[str, np.ndarray] | Sequence[np.ndarray], *,
                      k: int = 5) -> list[list[tuple[str, float]]]:
    """A teacher's own classifier on still images: the top-k classes with probabilities.

    Each image is centre-cropped to a square and resized to the teacher's input size (224 px
    for ``imagenet-efficientnet-lite0``; the crop keeps the whole short side, where the usual
    ImageNet evaluation keeps 87.5 % of it).

    Args:
        teacher: a :class:`~dtgkit.models.teachers.Teacher` with a classifier.
        images: uint8 H x W x 3 images (a dict keeps its order), any sizes.
        k: classes per image (clamped to the classifier size).

    Returns:
        per image, k ``(class name, softmax probability)`` pairs, most probable first. Class
        names are ``teacher.classes`` (ImageNet's 1000 for the ImageNet teacher), else
        ``"class <i>"``.
    """
    imgs = list(images.values()) if isinstance(images, Mapping) else list(images)
    names = teacher.classes
    out = []
    for img in imgs:
        size = teacher.input_size or min(img.shape[:2])
        x = center_crop_resize(np.asarray(img)[None, ..., :3], size)  # 1 x 3 x S x S
        probs = torch.softmax(teacher.classify(x).float(), dim=1)[0]  # num_classes
        p, idx = probs.topk(min(k, probs.numel()))
        out.append([(names[i] if names else f"class {i}", float(pi))
                    for pi, i in zip(p.tolist(), idx.tolist())])
    return out


# ---------------------------------------------------------------- per-video teacher features
def load_teacher_features(video_root: str | os.PathLike, split_dir: str | os.PathLike,
                          teachers: Sequence[str], cache_dir: str | os.PathLike, *,
                          num_segments: int = 8, split: int = 1, size: int = 112,
                          backend: str = "decord", progress: bool = False) -> dict:
    """Each teacher's feature of each video of a UCF101-layout split, from a feature cache.

    The video feature is the mean of the teacher's frame features over the TSN test view (the
    ``num_segments`` segment centres, :func:`dtgkit.data.sampling.tsn_indices` with
    ``train=False``), as :func:`dtgkit.studies.guidance_space.video_guidance_features` reads them. A
    complete cache in ``cache_dir`` holding those frames is re-used; for the other teachers
    :func:`~dtgkit.models.teacher_cache.cache_teacher_features` caches only the frames needed
    (every s-th frame, s the largest stride that hits every segment centre exactly).

    Args:
        video_root: the ``videos/`` folder; split_dir: ``classInd.txt``, ``trainlist0N.txt`` ...
        teachers: teacher specs.
        cache_dir: teacher feature cache directory (created).
        num_segments: T frames per video.
        split: split number.
        size: square frame size of the cache's centre-crop view (each teacher then resizes to
            its own input size).
        backend: ``open_video`` backend.
        progress: tqdm bars while caching.

    Returns:
        dict(feats={spec: V x D_k float32}, labels V int64, train_mask V bool (train videos
        first), class_names, groups (V ids, ``"<label>:<gXX>"``: UCF101 groups share a
        setting), records, paths (V absolute paths), cache={spec: "re-used" or "computed"},
        cache_dir).
    """
    root = Path(video_root).resolve()
    cache_dir = Path(cache_dir)
    train, class_names = load_ucf101(root, split_dir, split, "train")
    test, _ = load_ucf101(root, split_dir, split, "test")
    records = list(train) + list(test)
    keys = [Path(r.path).resolve().relative_to(root).as_posix() for r in records]
    needed = {}
    for key in keys:
        with open_video(str(root / key), backend=backend) as reader:
            n = int(reader.num_frames)
        needed[key] = (n, tsn_indices(n, num_segments, train=False))
    status = {spec: "re-used" if cache_covers(cache_dir, spec, needed, size) else "computed"
              for spec in teachers}
    todo = [spec for spec, s in status.items() if s == "computed"]
    if todo:
        frames = np.concatenate([idx for _, idx in needed.values()])
        stride = max(1, int(np.gcd.reduce(frames))) if frames.size else 1
        info = cache_teacher_features(root, todo, cache_dir, videos=keys, size=size,
                                      backend=backend, frame_stride=stride, progress=progress)
        if info["skips"]:
            raise ValueError(f"videos could not be decoded: {info['skips']}")
    cache = CachedGuidance(cache_dir, list(teachers), root=root)
    feats = video_guidance_features(cache, records, num_segments)
    groups = np.array([f"{r.label}:{r.group}" if r.group else f"video:{i}"
                       for i, r in enumerate(records)])
    return {"feats": feats, "labels": np.array([r.label for r in records], dtype=np.int64),
            "train_mask": np.arange(len(records)) < len(train), "class_names": list(class_names),
            "groups": groups, "records": records, "paths": [str(root / k) for k in keys],
            "cache": status, "cache_dir": str(cache_dir)}


def video_thumbnails(paths: Sequence[str | os.PathLike], size: int = 64, *,
                     backend: str = "decord") -> np.ndarray:
    """The middle frame of each video, centre-cropped and resized (for retrieval figures).

    Args:
        paths: V video files (or records with ``.path``).
        size: thumbnail side in px.
        backend: ``open_video`` backend.

    Returns:
        uint8 V x size x size x 3.
    """
    out = []
    for p in paths:
        with open_video(str(getattr(p, "path", p)), backend=backend) as reader:
            frame = reader.get_frames(np.array([reader.num_frames // 2]))  # 1 x H x W x 3
        x = center_crop_resize(frame, size)[0]  # 3 x size x size in [0, 1]
        out.append((x.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
    return np.stack(out) if out else np.zeros((0, size, size, 3), np.uint8)


# ------------------------------------------------------------------------------ retrieval
def nearest_neighbours(feats, queries, *, k: int = 5, bank_mask=None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """The k most cosine-similar videos of each query (never the query itself).

    Args:
        feats: V x D features (one teacher).
        queries: Q video indices into ``feats``.
        k: neighbours per query (clamped to the candidates).
        bank_mask: V booleans, the candidate neighbours (default: every video).

    Returns:
        (indices Q x k int64, cosine similarities Q x k), most similar first; ties keep the
        lower index first.
    """
    z = l2_normalize(feats.detach().cpu().numpy() if isinstance(feats, torch.Tensor) else feats)
    queries = np.atleast_1d(np.asarray(queries, dtype=np.int64))  # Q
    sim = z[queries] @ z.T  # Q x V
    allowed = np.ones(len(z), bool) if bank_mask is None else np.asarray(bank_mask, bool).copy()
    sim = np.where(allowed[None, :], sim, -np.inf)
    sim[np.arange(len(queries)), queries] = -np.inf  # not its own neighbour
    k = max(0, min(int(k), int(np.isfinite(sim).sum(axis=1).min(initial=len(z)))))
    idx = np.argsort(-sim, axis=1, kind="stable")[:, :k]  # Q x k
    return idx.astype(np.int64), np.take_along_axis(sim, idx, axis=1)


# ----------------------------------------------------------------------------- similarity
def other_group(groups, n: int) -> np.ndarray:
    """n x n booleans: True where two videos are different videos of different groups
    (``groups=None``: different videos)."""
    if groups is None:
        return ~np.eye(n, dtype=bool)
    g = np.asarray(groups)
    return (g[:, None] != g[None, :]) & ~np.eye(n, dtype=bool)


def class_similarity(feats, labels, num_classes: int | None = None, *,
                     center: bool = False, groups=None) -> np.ndarray:
    """Mean cosine similarity between the videos of each pair of classes.

    Args:
        feats: V x D features (one teacher).
        labels: V integer labels in ``0..num_classes-1``.
        num_classes: C (default ``max(labels) + 1``).
        center: subtract the mean feature of all videos first (cosines of ReLU features are
            all positive and close; centring shows the structure, but is a different metric
            than the one DTG uses).
        groups: V group ids; pairs of videos of the same group (UCF101's ``gXX``: same actor
            and setting) are left out, so that the diagonal does not measure the setting.

    Returns:
        C x C symmetric matrix: entry (a, b) is the mean of ``cos(g_i, g_j)`` over videos i of
        class a and j of class b, ``i != j`` and, with ``groups``, of different groups (NaN
        where no such pair exists).
    """
    x = np.asarray(feats, dtype=np.float64)
    if center:
        x = x - x.mean(axis=0, keepdims=True)
    z = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)  # V x D
    labels = np.asarray(labels, dtype=np.int64)
    c = int(labels.max()) + 1 if num_classes is None else int(num_classes)
    onehot = np.eye(c)[labels]  # V x C
    keep = other_group(groups, len(labels)).astype(np.float64)  # V x V
    sums = onehot.T @ (z @ z.T * keep) @ onehot  # C x C summed cosines
    pairs = onehot.T @ keep @ onehot  # C x C numbers of pairs
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, sums / np.maximum(pairs, 1), np.nan)


def pair_cells(class_names: Sequence[str], pairs) -> list[tuple[int, int, str]]:
    """(index of a, index of b, kind) of each confusable pair whose classes are both named."""
    index = {n: i for i, n in enumerate(class_names)}
    return [(index[p.a], index[p.b], p.kind) for p in pairs if p.a in index and p.b in index]




# ------------------------------------------------------------------------------ probes
def teacher_probes(feats: Mapping[str, np.ndarray], labels, train_mask, *, k: int = 200,
                   tau: float = 0.1, C: float = 1.0, seed: int = 0) -> dict[str, dict]:
    """kNN and linear-probe accuracy of each teacher's frozen features (train -> test).

    Uses :func:`dtgkit.metrics.evaluate_knn` (cosine, k nearest, votes
    ``exp(sim / tau)``; k clamps to the train set) and
    :func:`dtgkit.metrics.linear_probe` (logistic regression on L2-normalised
    features).

    Args:
        feats: teacher -> V x D_k video features.
        labels: V labels.
        train_mask: V booleans (True: train / bank video, False: test / query video).
        k, tau: kNN neighbours (200, as the MoCo monitor) and vote temperature (0.1).
        C: inverse L2 strength of the linear probe (1.0).
        seed: seed of the linear probe's solver.

    Returns:
        teacher -> dict(knn_acc, knn_acc5, linear_acc, linear_acc5, knn_mAP, linear_mAP, all
        in %, num_train, num_test).
    """
    labels = np.asarray(labels, dtype=np.int64)
    tr = np.asarray(train_mask, dtype=bool)
    num_classes = int(labels.max()) + 1
    out = {}
    for name, f in feats.items():
        f = np.asarray(f, dtype=np.float32)
        knn = evaluate_knn(f[tr], labels[tr], f[~tr], labels[~tr], num_classes, k=k, tau=tau)
        lin = linear_probe(f[tr], labels[tr], f[~tr], labels[~tr], num_classes, C=C, seed=seed)
        out[name] = {"knn_acc": knn["acc1"], "knn_acc5": knn["acc5"], "knn_mAP": knn["mAP"],
                     "linear_acc": lin["acc1"], "linear_acc5": lin["acc5"],
                     "linear_mAP": lin["mAP"], "num_train": int(tr.sum()),
                     "num_test": int((~tr).sum())}
    return out


def weight_of(w, name: str, i: int) -> float:
    """Teacher ``name``'s (the i-th) weight in a weighting given as a list or a dict (NaN if absent)."""
    if isinstance(w, Mapping):
        return float(w[name]) if name in w else float("nan")
    return float(np.asarray(w, dtype=float)[i])


def probe_table(probes: Mapping[str, Mapping], weights: Mapping[str, Sequence[float] |
                Mapping[str, float]] | None = None) -> str:
    """A plain-text table of :func:`teacher_probes`, with optional weightings as columns.

    Args:
        probes: teacher -> probe dict.
        weights: column name -> weights, either one per teacher in ``probes`` order or a dict
            teacher -> weight (teachers left out of a weighting show ``-``).

    Returns:
        The table (a header, a rule, one line per teacher).
    """
    weights = dict(weights or {})
    widths = {col: max(len(col), 8) + 2 for col in weights}
    head = f"{'teacher':<26}{'kNN top-1':>10}{'linear top-1':>13}"
    head += "".join(f"{col:>{widths[col]}}" for col in weights)
    lines = [head, "-" * len(head)]
    for i, (name, p) in enumerate(probes.items()):
        line = f"{short_name(name, 25):<26}{p['knn_acc']:>9.1f}%{p['linear_acc']:>12.1f}%"
        for col, w in weights.items():
            v = weight_of(w, name, i)
            line += f"{'-' if math.isnan(v) else f'{v:.3g}':>{widths[col]}}"
        lines.append(line)
    return "\n".join(lines)


# ------------------------------------------------------------------------ confusable pairs
def pair_separation(feats: Mapping[str, np.ndarray], labels, class_names: Sequence[str],
                    pairs: Sequence, *, groups=None) -> list[dict]:
    """How well each teacher tells the two classes of each confusable pair apart.

    For a pair (a, b) only the videos of a and b are used, train and test together (a small
    sample has few of either; this asks whether the features *can* separate the pair, not
    how a classifier generalises):

    * ``nn1_acc``: leave-one-out 1-nearest-neighbour accuracy (cosine) among those videos, in
      % (with ``groups``: leave-one-*group*-out, a video's neighbour never comes from its own
      group, whose clips share actor and setting); ``chance`` is its expected value for a
      neighbour drawn at random among the allowed ones (below 50: with 4 + 4 videos, 3 of the
      7 others share a video's class, 43 %);
    * ``separation``: mean cosine between videos of the same class minus mean cosine between
      a video of a and one of b (0: the teacher sees no difference), over the same allowed
      pairs.

    Args:
        feats: teacher -> V x D_k video features.
        labels: V labels; class_names: their names.
        pairs: :class:`~dtgkit.data.synth.ConfusablePair` s; pairs with a class absent from
            ``class_names`` are left out.
        groups: V group ids (:func:`load_teacher_features`' ``groups``), or None.

    Returns:
        one dict per (pair, teacher), pairs in the given order: pair ("A/B"), kind, teacher,
        nn1_acc, chance, separation, num_videos.
    """
    labels = np.asarray(labels, dtype=np.int64)
    rows = []
    for a, b, kind in pair_cells(class_names, pairs):
        sel = np.flatnonzero((labels == a) | (labels == b))
        y = labels[sel]
        same = y[:, None] == y[None, :]
        off = other_group(None if groups is None else np.asarray(groups)[sel], len(sel))
        has = off.any(1)  # videos with an allowed neighbour
        chance = 100.0 * float(np.mean((same & off).sum(1)[has] / off.sum(1)[has])) \
            if has.any() else float("nan")
        for name, f in feats.items():
            z = l2_normalize(np.asarray(f)[sel])
            sim = z @ z.T  # n x n
            masked = np.where(off, sim, -np.inf)
            nn1 = 100.0 * float(np.mean(y[masked.argmax(1)][has] == y[has])) if has.any() \
                else float("nan")
            intra = sim[same & off].mean() if (same & off).any() else float("nan")
            inter = sim[~same & off].mean() if (~same & off).any() else float("nan")
            rows.append({"pair": f"{class_names[a]}/{class_names[b]}", "kind": kind,
                         "teacher": name, "nn1_acc": nn1, "chance": chance,
                         "separation": float(intra - inter), "num_videos": len(sel)})
    return rows


def summarise_pairs(rows: Sequence[Mapping], key: str = "nn1_acc") -> dict[str, dict[str, float]]:
    """Mean of a :func:`pair_separation` score over the pairs of each kind, per teacher.

    Returns:
        teacher -> {kind ("motion", "appearance", "scene"): mean score}.
    """
    acc: dict[str, dict[str, list[float]]] = {}
    for r in rows:
        acc.setdefault(r["teacher"], {}).setdefault(r["kind"], []).append(float(r[key]))
    return {t: {kind: float(np.mean(v)) for kind, v in kinds.items()} for t, kinds in acc.items()}

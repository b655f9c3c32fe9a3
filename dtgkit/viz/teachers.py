"""What each teacher sees: frozen-feature probes, retrieval and similarity (paper Sec. 3.3, 4.3.3).

DTG-Net's teachers are frozen image networks; a teacher helps the student only through the
similarities of its guidance features (Eq. 2). This module measures those features directly,
per teacher, before any student is trained:

* :func:`top_k_predictions` - an ImageNet teacher's own classifier on real photos (is it the
  real thing?);
* :func:`load_teacher_features` - per-video teacher features of a UCF101-layout split, the mean
  over the TSN test frames, read from a teacher feature cache (built only where missing);
* :func:`nearest_neighbours` / :func:`plot_neighbours` - retrieval by cosine similarity;
* :func:`class_similarity` / :func:`plot_class_similarity` - class-by-class mean cosine;
* :func:`teacher_probes` - kNN and linear-probe accuracy of each teacher's frozen features, the
  raw material of the *offline* weighting (:func:`dtgkit.dtg.weighting.offline`; the paper
  softmaxes the top-1 accuracy of single-teacher DTG runs, a frozen probe is the cheap proxy);
* :func:`pair_separation` - whether a teacher tells the two classes of each confusable pair
  apart (:data:`dtgkit.data.synth.CONFUSABLE_PAIRS`): a teacher sees one frame at a time and
  averages over frames, so it should fail on *motion-only* pairs (same frames, other order or
  rate) and may succeed on *appearance-only* pairs (other held object).

Figures are returned, never shown (:func:`dtgkit.viz.plots.new_figure`).
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from dtgkit.viz.guidance import short_name
from dtgkit.viz.plots import GUIDANCE_COLOR, new_figure

__all__ = [
    "PAIR_COLORS",
    "PHOTOS",
    "available_teachers",
    "class_similarity",
    "load_teacher_features",
    "nearest_neighbours",
    "pair_separation",
    "plot_class_similarity",
    "plot_neighbours",
    "plot_pair_separation",
    "plot_probes",
    "plot_top_k_predictions",
    "probe_table",
    "real_photos",
    "summarise_pairs",
    "teacher_probes",
    "top_k_predictions",
    "video_thumbnails",
]

#: real photos shipped with scikit-image (no download): name -> what is in them
PHOTOS = {"chelsea": "a tabby cat", "coffee": "a cup of coffee", "astronaut": "an astronaut",
          "rocket": "a rocket on its launch pad"}
#: outline colours of the confusable pairs in the figures
PAIR_COLORS = {"motion": "tab:red", "appearance": "tab:blue"}
DPI = 80


def _l2n(x, eps: float = 1e-12) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), eps)


# ------------------------------------------------------------------ ImageNet on real photos
def real_photos(names: Sequence[str] = tuple(PHOTOS)) -> dict[str, np.ndarray]:
    """Real RGB photos from ``skimage.data`` (bundled with scikit-image, no download).

    Args:
        names: ``skimage.data`` function names (default :data:`PHOTOS`).

    Returns:
        dict name -> uint8 H x W x 3.
    """
    import skimage.data

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
    from dtgkit.models.teacher_cache import center_crop_resize

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


def plot_top_k_predictions(images: Mapping[str, np.ndarray],
                           predictions: Sequence[Sequence[tuple[str, float]]], *,
                           width: float = 2.6) -> Figure:
    """Photos above bar charts of their top-k predicted classes.

    Args:
        images: name -> uint8 H x W x 3 (titles are the names).
        predictions: :func:`top_k_predictions` output, same order.
        width: inches per image column.

    Returns:
        The figure (not shown).
    """
    n = len(images)
    fig = new_figure(figsize=(width * n, 2 * width), dpi=DPI, layout="constrained")
    axes = np.asarray(fig.subplots(2, n, squeeze=False, height_ratios=[1.15, 1.0]))
    for j, ((name, img), preds) in enumerate(zip(images.items(), predictions)):
        axes[0, j].imshow(img)
        axes[0, j].set_title(name, fontsize=9)
        axes[0, j].axis("off")
        labels = [c if len(c) <= 22 else c[:21] + "…" for c, _ in preds]
        probs = [p for _, p in preds]
        y = np.arange(len(preds))
        axes[1, j].barh(y, probs, color=GUIDANCE_COLOR)
        axes[1, j].set_yticks(y, labels, fontsize=8)
        axes[1, j].invert_yaxis()
        axes[1, j].set_xlim(0, 1)
        axes[1, j].tick_params(axis="x", labelsize=7)
        axes[1, j].set_xlabel("probability", fontsize=8)
    return fig


# ---------------------------------------------------------------- per-video teacher features
def available_teachers(specs: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split teacher specs into those whose weights are here and those that are not.

    Only files are checked (``synth:<name>`` -> ``data_samples/teachers/<name>.pt``,
    ``checkpoint:<path>``); other kinds are kept (their weights ship with a package or a seed).

    Returns:
        (available specs, missing specs), each in the given order.
    """
    from dtgkit.models.teachers import SYNTH_TEACHER_DIR

    keep, missing = [], []
    for spec in specs:
        kind, _, arg = spec.split("#")[0].partition(":")
        path = {"synth": SYNTH_TEACHER_DIR / f"{arg}.pt", "checkpoint": Path(arg)}.get(kind)
        (missing if path is not None and not path.is_file() else keep).append(spec)
    return keep, missing


def _weights_file_sha256(spec: str) -> str | None:
    """sha256 of the weights file behind a checkpoint / synth teacher spec (None for others,
    whose weights a spec fixes: verified ImageNet weights, seeded tiny nets)."""
    from dtgkit.models.teachers import SYNTH_TEACHER_DIR, sha256_file

    base = spec.split("#")[0]
    kind, _, arg = base.partition(":")
    path = {"synth": SYNTH_TEACHER_DIR / f"{arg}.pt", "checkpoint": Path(arg)}.get(kind)
    return sha256_file(path) if path is not None and path.is_file() else None


def _cache_usable(cache_dir: Path, spec: str, keys: Sequence[str], frames_needed: Mapping,
                  size: int) -> bool:
    """A complete cache of ``spec`` (same weights, same frame size) holding every needed frame
    of every video exactly."""
    from dtgkit.models.teacher_cache import cache_stem

    path = cache_dir / f"{cache_stem(spec)}.json"
    if not path.is_file() or not path.with_suffix(".npy").is_file():
        return False
    index = json.loads(path.read_text())
    done = set(index.get("done", []))
    stride = int(index.get("frame_stride", 1))
    if not index.get("complete") or int(index.get("size", -1)) != size:
        return False
    sha = _weights_file_sha256(spec)
    if sha is not None and index.get("weights_sha256") != sha:
        return False  # the checkpoint was rewritten since the cache was built
    for key in keys:
        if key not in done or int(index["videos"][key][1]) != frames_needed[key][0]:
            return False
        if np.any(np.asarray(frames_needed[key][1]) % stride):
            return False  # a needed frame is not cached (it would be the nearest cached one)
    return True


def load_teacher_features(video_root: str | os.PathLike, split_dir: str | os.PathLike,
                          teachers: Sequence[str], cache_dir: str | os.PathLike, *,
                          num_segments: int = 8, split: int = 1, size: int = 112,
                          backend: str = "decord", progress: bool = False) -> dict:
    """Each teacher's feature of each video of a UCF101-layout split, from a feature cache.

    The video feature is the mean of the teacher's frame features over the TSN test view (the
    ``num_segments`` segment centres, :func:`dtgkit.data.sampling.tsn_indices` with
    ``train=False``), as :func:`dtgkit.viz.guidance.video_guidance_features` reads them. A
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
    from dtgkit.data.datasets import load_ucf101
    from dtgkit.data.sampling import tsn_indices
    from dtgkit.data.video import open_video
    from dtgkit.models.teacher_cache import CachedGuidance, cache_teacher_features
    from dtgkit.viz.guidance import video_guidance_features

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
    status = {spec: "re-used" if _cache_usable(cache_dir, spec, keys, needed, size)
              else "computed" for spec in teachers}
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
    from dtgkit.data.video import open_video
    from dtgkit.models.teacher_cache import center_crop_resize

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
    z = _l2n(feats.detach().cpu().numpy() if isinstance(feats, torch.Tensor) else feats)
    queries = np.atleast_1d(np.asarray(queries, dtype=np.int64))  # Q
    sim = z[queries] @ z.T  # Q x V
    allowed = np.ones(len(z), bool) if bank_mask is None else np.asarray(bank_mask, bool).copy()
    sim = np.where(allowed[None, :], sim, -np.inf)
    sim[np.arange(len(queries)), queries] = -np.inf  # not its own neighbour
    k = max(0, min(int(k), int(np.isfinite(sim).sum(axis=1).min(initial=len(z)))))
    idx = np.argsort(-sim, axis=1, kind="stable")[:, :k]  # Q x k
    return idx.astype(np.int64), np.take_along_axis(sim, idx, axis=1)


def plot_neighbours(thumbs: np.ndarray, labels, class_names: Sequence[str],
                    neighbours: Mapping[str, tuple[np.ndarray, np.ndarray]], query: int, *,
                    cell: float = 1.05) -> Figure:
    """One query video and its nearest neighbours under each teacher (one row per teacher).

    Args:
        thumbs: V x s x s x 3 uint8 thumbnails (:func:`video_thumbnails`).
        labels: V labels; class_names: their names.
        neighbours: teacher -> (indices, sims) of this query, each ``k`` long (a row of
            :func:`nearest_neighbours`'s output).
        query: the query's video index.
        cell: inches per thumbnail.

    Returns:
        The figure (not shown): titles give the class and cosine similarity, green if the
        neighbour has the query's class, red otherwise.
    """
    labels = np.asarray(labels)
    k = max((len(np.ravel(i)) for i, _ in neighbours.values()), default=0)
    rows = len(neighbours)
    fig = new_figure(figsize=(cell * (k + 1) + 1.4, cell * 1.25 * rows + 0.3), dpi=DPI)
    axes = np.asarray(fig.subplots(rows, k + 1, squeeze=False))
    fig.subplots_adjust(left=0.13, right=0.99, top=0.9, bottom=0.02, wspace=0.08, hspace=0.45)
    q_label = int(labels[query])
    for r, (name, (idx, sims)) in enumerate(neighbours.items()):
        axes[r, 0].imshow(thumbs[query])
        axes[r, 0].set_title(f"query\n{class_names[q_label]}", fontsize=7, fontweight="bold")
        axes[r, 0].set_ylabel(short_name(name, 16), fontsize=8, rotation=0, ha="right",
                              va="center")
        for c, (j, s) in enumerate(zip(np.ravel(idx), np.ravel(sims)), start=1):
            axes[r, c].imshow(thumbs[j])
            same = int(labels[j]) == q_label
            axes[r, c].set_title(f"{class_names[int(labels[j])]}\n{s:.3f}", fontsize=7,
                                 color="tab:green" if same else "tab:red")
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
    return fig


# ----------------------------------------------------------------------------- similarity
def _other_group(groups, n: int) -> np.ndarray:
    """n x n booleans: True where two videos are different videos of different groups."""
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
    keep = _other_group(groups, len(labels)).astype(np.float64)  # V x V
    sums = onehot.T @ (z @ z.T * keep) @ onehot  # C x C summed cosines
    pairs = onehot.T @ keep @ onehot  # C x C numbers of pairs
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, sums / np.maximum(pairs, 1), np.nan)


def _pair_cells(class_names: Sequence[str], pairs) -> list[tuple[int, int, str]]:
    index = {n: i for i, n in enumerate(class_names)}
    return [(index[p.a], index[p.b], p.kind) for p in pairs if p.a in index and p.b in index]


def plot_class_similarity(mats: Mapping[str, np.ndarray], class_names: Sequence[str],
                          pairs: Sequence = (), *, title: str = "mean cosine",
                          cell: float = 3.3) -> Figure:
    """One class-by-class similarity matrix per teacher, confusable pairs outlined.

    Args:
        mats: teacher -> C x C (:func:`class_similarity`).
        class_names: the C names.
        pairs: :class:`~dtgkit.data.synth.ConfusablePair` s to outline (both cells), red for
            motion-only, blue for appearance-only pairs (:data:`PAIR_COLORS`).
        title: what the values are (panel titles).
        cell: inches per panel.

    Returns:
        The figure (not shown); each panel has its own colour scale (the teachers' cosines live
        on different ranges).
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle

    n = len(mats)
    fig = new_figure(figsize=(cell * n + 0.4, cell + 0.9), dpi=DPI, layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n))
    cells = _pair_cells(class_names, pairs)
    ticks = np.arange(len(class_names))
    for ax, (name, m) in zip(axes, mats.items()):
        im = ax.imshow(m, cmap="viridis", interpolation="nearest")
        fig.colorbar(im, ax=ax, shrink=0.75, pad=0.02).ax.tick_params(labelsize=7)
        for a, b, kind in cells:
            for r, c in ((a, b), (b, a)):
                ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, lw=1.8,
                                       edgecolor=PAIR_COLORS.get(kind, "k")))
        ax.set_xticks(ticks, class_names, rotation=90, fontsize=7)
        ax.set_yticks(ticks, class_names if ax is axes[0] else [], fontsize=7)
        ax.set_title(f"{short_name(name, 22)}: {title}", fontsize=9)
    if cells:
        kinds = sorted({kind for _, _, kind in cells})
        fig.legend([Line2D([], [], color=PAIR_COLORS.get(k, "k"), lw=2) for k in kinds],
                   [f"{k}-only pair" for k in kinds], loc="outside lower center",
                   ncols=len(kinds), fontsize=8, frameon=False)
    return fig


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
    from dtgkit.metrics import evaluate_knn, linear_probe

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


def _weight_of(w, name: str, i: int) -> float:
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
            v = _weight_of(w, name, i)
            line += f"{'-' if math.isnan(v) else f'{v:.3g}':>{widths[col]}}"
        lines.append(line)
    return "\n".join(lines)


def plot_probes(probes: Mapping[str, Mapping], weights: Mapping[str, Sequence[float]]
                | None = None, *, chance: float | None = None,
                figsize: tuple[float, float] = (10.0, 3.0)) -> Figure:
    """Each teacher's kNN and linear-probe accuracy and, optionally, weightings from them.

    Args:
        probes: teacher -> :func:`teacher_probes` dict.
        weights: weighting name -> weights, as for :func:`probe_table` (e.g. uniform, offline).
        chance: chance accuracy in % (a dashed line), e.g. ``100 / num_classes``.
        figsize: inches.

    Returns:
        The figure (not shown).
    """
    names = [short_name(n, 22) for n in probes]
    y = np.arange(len(names))
    fig = new_figure(figsize=figsize, dpi=DPI, layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, 2 if weights else 1))
    for j, (key, label, color) in enumerate((("knn_acc", "kNN", GUIDANCE_COLOR),
                                             ("linear_acc", "linear probe", "tab:blue"))):
        vals = [float(p[key]) for p in probes.values()]
        pos = y - 0.2 + 0.4 * j
        axes[0].barh(pos, vals, 0.4, color=color, label=label)
        for yi, v in zip(pos, vals):
            axes[0].text(v, yi, f" {v:.0f}", va="center", fontsize=7)
    if chance is not None:
        axes[0].axvline(chance, color="k", ls="--", lw=0.8, label="chance")
    axes[0].set_yticks(y, names, fontsize=8)
    axes[0].invert_yaxis()
    axes[0].set_xlim(0, 105)
    axes[0].set_xlabel("top-1 on the test videos (%)", fontsize=8)
    axes[0].legend(fontsize=7, loc="lower right")
    axes[0].set_title("frozen teacher features, train -> test", fontsize=9)
    if weights:
        height = 0.8 / len(weights)
        palette = [GUIDANCE_COLOR, "tab:orange", "tab:blue", "tab:purple", "tab:gray"]
        for j, (wname, w) in enumerate(weights.items()):
            vals = np.nan_to_num([_weight_of(w, n, i) for i, n in enumerate(probes)])
            axes[1].barh(y - 0.4 + height * (j + 0.5), vals, height, label=wname,
                         color=palette[j % len(palette)])
        axes[1].set_yticks(y, names, fontsize=8)
        axes[1].invert_yaxis()
        axes[1].set_xlim(0, 1)
        axes[1].set_xlabel("weight $w_k$", fontsize=8)
        axes[1].legend(fontsize=7)
        axes[1].set_title("teacher weightings", fontsize=9)
    return fig


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
    for a, b, kind in _pair_cells(class_names, pairs):
        sel = np.flatnonzero((labels == a) | (labels == b))
        y = labels[sel]
        same = y[:, None] == y[None, :]
        off = _other_group(None if groups is None else np.asarray(groups)[sel], len(sel))
        has = off.any(1)  # videos with an allowed neighbour
        chance = 100.0 * float(np.mean((same & off).sum(1)[has] / off.sum(1)[has])) \
            if has.any() else float("nan")
        for name, f in feats.items():
            z = _l2n(np.asarray(f)[sel])
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
        teacher -> {kind ("motion", "appearance"): mean score}.
    """
    acc: dict[str, dict[str, list[float]]] = {}
    for r in rows:
        acc.setdefault(r["teacher"], {}).setdefault(r["kind"], []).append(float(r[key]))
    return {t: {kind: float(np.mean(v)) for kind, v in kinds.items()} for t, kinds in acc.items()}


def plot_pair_separation(rows: Sequence[Mapping], *, key: str = "nn1_acc",
                         cell: float = 1.15) -> Figure:
    """Pairs x teachers heat map of :func:`pair_separation` (motion-only pairs first).

    Args:
        rows: :func:`pair_separation` output.
        key: ``"nn1_acc"`` (%, colours centred on the rows' mean ``chance``) or
            ``"separation"`` (centred on 0).
        cell: inches per column.

    Returns:
        The figure (not shown); pair labels are coloured by kind (:data:`PAIR_COLORS`).
    """
    teachers = list(dict.fromkeys(r["teacher"] for r in rows))
    pairs = list(dict.fromkeys((r["pair"], r["kind"]) for r in rows))
    pairs.sort(key=lambda p: p[1] != "motion")  # stable: motion-only pairs on top
    value = {(r["pair"], r["teacher"]): float(r[key]) for r in rows}
    m = np.array([[value.get((p, t), np.nan) for t in teachers] for p, _ in pairs])
    chance = float(np.mean([r.get("chance", 50.0) for r in rows])) if rows else 50.0
    if key == "nn1_acc":  # diverging colours centred on chance
        half = max(chance, 100.0 - chance)
        vmin, vmax, cmap, fmt = chance - half, chance + half, "RdBu_r", "{:.0f}"
    else:
        lim = float(np.nanmax(np.abs(m))) if np.isfinite(m).any() else 1.0
        vmin, vmax, cmap, fmt = -lim, lim, "RdBu_r", "{:.3f}"
    fig = new_figure(figsize=(cell * len(teachers) + 3.2, 0.42 * len(pairs) + 1.3), dpi=DPI,
                     layout="constrained")
    ax = fig.subplots()
    im = ax.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    for (i, j), v in np.ndenumerate(m):
        if math.isfinite(v):
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=8,
                    color="w" if abs(v - (vmin + vmax) / 2) > 0.35 * (vmax - vmin) else "k")
    ax.set_xticks(np.arange(len(teachers)), [short_name(t, 18) for t in teachers], fontsize=8,
                  rotation=20, ha="right")
    ax.set_yticks(np.arange(len(pairs)), [f"{p} ({k})" for p, k in pairs], fontsize=8)
    for tick, (_, kind) in zip(ax.get_yticklabels(), pairs):
        tick.set_color(PAIR_COLORS.get(kind, "k"))
    label = f"leave-one-out 1-NN accuracy (%, chance {chance:.0f})" if key == "nn1_acc" else key
    cbar = fig.colorbar(im, ax=ax, shrink=0.8)
    cbar.set_label(label, fontsize=8)
    if key == "nn1_acc":
        cbar.ax.set_ylim(0, 100)
    ax.set_title("can a teacher tell the two classes of a pair apart?", fontsize=9)
    return fig

"""The teachers of the experiments: the paper's four teacher tasks and their SynthActions /
offline stand-ins (:data:`TEACHER_ROLES`), making the missing ones (:func:`ensure_teachers`),
and the cheap proxy for the *offline* weights (:func:`teacher_proxy_accuracies`).

**Offline teacher weights** (Sec. 4.3.3) are a softmax over single-teacher accuracies (in
percent, temperature 1, :func:`offline_weights`). The paper takes them from single-teacher DTG
runs (the ``table3`` suite runs those arms anyway: ``Arm.offline_from``); the ``teacher-knn``
proxy scores each teacher's own frozen features on the *training* split by leave-one-group-out
kNN accuracy (:func:`dtgkit.metrics.loo_knn_accuracy`: a video's neighbours from its own
UCF-style group, which share a setting, are excluded). ``dtgkit demo`` uses it: it cannot
afford four extra pre-training runs. No test label is read for it.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from dtgkit.config import Config
from dtgkit.data.synth import ensure_synth
from dtgkit.dtg import weighting as W
from dtgkit.files import write_text_atomic
from dtgkit.metrics import loo_knn_accuracy
from dtgkit.models.teacher_training import train_teacher
from dtgkit.models.teachers import SYNTH_TEACHER_DIR, create_teacher
from dtgkit.train import data as TD
from dtgkit.train.evaluate import split_features

__all__ = ["ROLE_ORDER", "TEACHER_ROLES", "ensure_teachers", "offline_weights", "parse_teacher_roles",
           "teacher_proxy_accuracies"]


#: the four teacher tasks of the paper and their SynthActions / offline counterparts
TEACHER_ROLES: dict[str, dict[str, str]] = {
    "imagenet": {"spec": "imagenet-efficientnet-lite0", "quick": "tiny#seed=0",
                 "paper": "ImageNet objects", "what": "EfficientNet-Lite0, real ImageNet weights"},
    "scenes": {"spec": "synth:scenes", "quick": "tiny#seed=1", "paper": "Places365 scenes",
               "what": "SynthActions scene stills (Places analogue)"},
    "action_a": {"spec": "synth:action_a", "quick": "tiny#seed=2", "paper": "BU101 still actions",
                 "what": "SynthActions still actions, set A (BU101 analogue)"},
    "action_b": {"spec": "synth:action_b", "quick": "tiny#seed=3", "paper": "Stanford40 still actions",
                 "what": "SynthActions still actions, set B (Stanford40 analogue)"},
}
ROLE_ORDER = ("imagenet", "scenes", "action_a", "action_b")

#: fallback training of a missing SynthActions teacher (fine-tuned from ImageNet Lite0)
TEACHER_TRAIN = {"epochs": 3, "size": 112, "tune_last": 4, "lr": 1e-3, "batch_size": 32}
#: the still-image sets the fallback teachers learn from (a seed disjoint from the videos')
TEACHER_STILLS = {"classes": 16, "videos_per_class": 1, "clips_per_group": 1, "test_groups": 0,
                  "frames": 2, "size": 32, "stills_per_class": 60, "seed": 1000}

def ensure_teachers(roles: Sequence[str] = ROLE_ORDER, *, quick: bool = False,
                    work_dir: str | os.PathLike = "runs/teachers", size: int | None = None,
                    progress: bool = True, say: Callable[[str], None] = print) -> dict[str, str]:
    """The teacher spec of each role, training a SynthActions teacher that is missing.

    ``imagenet`` is the real EfficientNet-Lite0 (always available offline). The SynthActions
    teachers are looked up as committed files (``synth:<role>``, ``data_samples/teachers``); a
    missing one is fine-tuned from ImageNet Lite0 on a still-image set generated under
    ``work_dir`` (seed 1000, disjoint from the videos) with :data:`TEACHER_TRAIN`, or re-used
    from an earlier call. ``quick``: seeded random ``tiny`` nets stand in for every role (tests).

    Args:
        size: the teachers' input size (``#size=`` option), None: each teacher's default.
        say: where progress messages go (:func:`~dtgkit.experiments.resources.quiet`: nowhere).

    Returns:
        role -> teacher spec for :func:`dtgkit.models.teachers.create_teacher`.
    """
    out: dict[str, str] = {}
    for role in roles:
        info = TEACHER_ROLES[role]
        if quick:
            out[role] = info["quick"]
            continue
        spec = info["spec"]
        if not spec.startswith("synth:"):
            out[role] = spec
            continue
        name = spec.split(":", 1)[1]
        if (SYNTH_TEACHER_DIR / f"{name}.pt").is_file():
            say(f"teacher {role}: committed {SYNTH_TEACHER_DIR / f'{name}.pt'} ({spec})")
            out[role] = spec
            continue
        path = Path(work_dir) / f"{name}.pt"
        if path.is_file():
            say(f"teacher {role}: re-using {path} (trained by an earlier run)")
        else:
            stills = Path(work_dir) / "stills-set"
            ensure_synth(stills, verbose=progress, progress=progress, **TEACHER_STILLS)
            say(f"teacher {role}: no committed {SYNTH_TEACHER_DIR / f'{name}.pt'}; fine-tuning "
                f"ImageNet Lite0 on {stills / 'stills' / name} ({TEACHER_TRAIN['epochs']} epochs)")
            res = train_teacher(stills / "stills" / name, "imagenet-efficientnet-lite0", path,
                                name=f"synth-{name}", progress=progress, **TEACHER_TRAIN)
            say(f"teacher {role}: held-out still accuracy {100 * res['acc']:.1f}% -> {path}")
        out[role] = f"checkpoint:{path}"
    if size and not quick:
        out = {r: f"{s}#size={int(size)}" for r, s in out.items()}
    return out


def parse_teacher_roles(items: Sequence[str]) -> dict[str, str]:
    """``--teacher ROLE=SPEC`` values -> {role: spec}; roles are those of :data:`ROLE_ORDER`
    (imagenet, scenes, action_a, action_b)."""
    out = {}
    for item in items:
        role, sep, spec = item.partition("=")
        if not sep or not spec or role not in ROLE_ORDER:
            raise ValueError(f"--teacher {item!r}: expected ROLE=SPEC with ROLE one of "
                             f"{', '.join(ROLE_ORDER)}")
        out[role] = spec
    return out


def teacher_proxy_accuracies(cfg: Config, specs: Sequence[str], out_dir: str | os.PathLike, *,
                             say: Callable[[str], None] = print) -> dict[str, float]:
    """The ``teacher-knn`` offline-weight proxy: each teacher's leave-one-group-out kNN
    accuracy (percent) on its frozen features of the training split's test-time clips
    (``data.num_segments`` frames at ``data.size`` px, features averaged over frames; with
    ``dtg.use_cache`` the same frames' features from the teacher feature cache, as DTG's
    guidance sees them: each teacher at its own input size, the cache built where missing).

    Cached in ``out_dir/teacher_knn.json`` (keyed by spec and data settings).
    """
    path = Path(out_dir) / "teacher_knn.json"
    d = cfg.data
    key = json.dumps([d.dataset, str(d.root), d.num_segments, d.size, d.fraction, cfg.run.seed]
                     + ([cfg.dtg.cache_dir] if cfg.dtg.use_cache else []))
    cache = json.loads(path.read_text()) if path.is_file() else {}
    todo = [s for s in specs if f"{s}|{key}" not in cache]
    if not todo:
        say(f"teacher kNN proxy: re-using {path}")
    else:
        records, _ = TD.load_split(d, "train")
        groups = TD.group_ids(records).numpy()
        cached = _cached_features(cfg, todo, records) if cfg.dtg.use_cache else {}
        for spec in todo:
            t0 = time.perf_counter()
            if cached:
                feats, labels = cached[spec], [r.label for r in records]
            else:
                feats, labels, _ = split_features(cfg, create_teacher(spec), records,
                                                  batch_size=max(1, cfg.pretrain.batch_size))
            acc = loo_knn_accuracy(feats, labels, groups)
            cache[f"{spec}|{key}"] = acc
            say(f"teacher kNN proxy: {spec}: {acc:.2f}% on {len(labels)} training videos "
                f"({time.perf_counter() - t0:.0f} s)")
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps(cache, indent=1) + "\n")
    return {s: float(cache[f"{s}|{key}"]) for s in specs}


def _cached_features(cfg: Config, specs: Sequence[str], records) -> dict:
    """Each teacher's features of the TSN test view of ``records`` from the teacher feature
    cache ``dtg.cache_dir`` (built for those videos where missing): spec -> V x D."""
    from dtgkit.models.teacher_cache import CachedGuidance
    from dtgkit.studies.guidance_space import video_guidance_features
    from dtgkit.train.pretrain import ensure_teacher_cache

    ensure_teacher_cache(cfg, [create_teacher(s) for s in specs], records)
    cache = CachedGuidance(cfg.dtg.cache_dir, list(specs), root=TD.video_root(cfg.data))
    return video_guidance_features(cache, records, cfg.data.num_segments)


def offline_weights(accs: Sequence[float], temperature: float = 1.0) -> list[float]:
    """The offline weights of :func:`dtgkit.dtg.weighting.offline` as a plain list:
    ``softmax(accs / temperature)`` with accuracies in percent; a proxy can legitimately score
    all teachers <= 1 % (e.g. random teachers), so the fraction check is off."""
    return [float(w) for w in W.offline(list(accs), temperature, percent_check=False)]

"""Arms: one row of a comparison (paper Tables 1-4), trained under a shared budget and evaluated
the same way.

An :class:`Arm` is a pre-training method with its teachers, weighting and input type, or a
supervised run. :func:`run_arm` trains it from a base :class:`~dtgkit.config.Config` (the
*budget*: same student, data, epochs and batch for every arm) and evaluates it three ways:

* **kNN** (cosine, k = 200, tau = 0.1) and a **linear probe** on the frozen student features
  (train split as bank / training set, test split as queries; :func:`frozen_eval`),
* **fine-tuning** student + classifier on the labelled training split, tested on the test
  split: acc@1, acc@5, mAP, mean class accuracy (:func:`dtgkit.train.finetune.finetune`).

Supervised arms (Table 4) run :func:`dtgkit.train.finetune.joint` instead and report its test.
:func:`run_arms` runs a list of arms for several seeds, resolving the arms that start from
another arm's student (``init_from``) or take their offline weights from other arms
(``offline_from``).

**Resumable.** Every arm and seed has its own folder ``OUT/<arm>/seed<S>-<hash>`` (the hash is
of the arm's resolved config, so a changed budget never re-uses a stale run). A finished arm
leaves ``row.json`` and is re-used on the next call; an interrupted one continues from its
stage checkpoints (``pretrain/``, ``finetune/``), each of which re-uses its own
``results.json``. A run with the same hash and seed that finished under another suite of
the same ``OUT`` parent (e.g. ``table1``'s DTG-ImageNet arm and ``table3``'s single-ImageNet
arm) is re-used too, under this suite's arm name. Every re-use is printed.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dtgkit.config import VOLATILE_KEYS, Config, apply_overrides, validate
from dtgkit.data.synth import ConfusablePair, load_meta
from dtgkit.dtg import weighting as W
from dtgkit.experiments.resources import cpu_seconds
from dtgkit.experiments.teachers import offline_weights
from dtgkit.files import write_text_atomic
from dtgkit.metrics import METRICS
from dtgkit.studies.calibration import student_pair_accuracy
from dtgkit.train import distributed as D
from dtgkit.train import engine as E
from dtgkit.train.evaluate import frozen_evaluation
from dtgkit.train.finetune import finetune, joint
from dtgkit.train.pretrain import build_student, pretrain

__all__ = ["Arm", "config_hash", "frozen_eval", "run_arm", "run_arms"]


def frozen_eval(cfg: Config, ckpt: str | os.PathLike | None, out_dir: str | os.PathLike, *,
                say: Callable[[str], None] = print) -> dict[str, Any]:
    """kNN and linear probe of frozen student features (train split -> test split).

    Args:
        cfg: data / student / seed settings.
        ckpt: a pre-training checkpoint (or run folder) whose student is evaluated; None: the
            student as initialised with ``run.seed`` (random init, or ``model.init``).
        out_dir: ``frozen_eval.json`` is written here and re-used when present.

    Returns:
        ``{"knn": metrics, "linear_probe": metrics}`` (percent, see
        :func:`dtgkit.train.evaluate.classification_metrics`).
    """
    path = Path(out_dir) / "frozen_eval.json"
    if path.is_file():
        say(f"{out_dir}: frozen-feature evaluation found, re-using {path.name}")
        return json.loads(path.read_text())
    E.seed_everything(cfg.run.seed)  # the same initial weights as pretrain / finetune draw
    student = build_student(cfg)
    if ckpt is not None:
        student.load_state_dict(E.student_state_dict(E.load_checkpoint(ckpt)))
    device = D.select_device(cfg.run.device)
    student.to(device)
    fe = frozen_evaluation(cfg, student, device=device, batch_size=max(1, cfg.pretrain.batch_size))
    res = {"knn": fe["knn"], "linear_probe": fe["linear_probe"], "checkpoint": str(ckpt) if ckpt else ""}
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_json(path, res)
    return res


@dataclass
class Arm:
    """One row of a comparison.

    Args:
        key: folder-safe id, unique in a suite (``dtg-all-offline``).
        label: the row label in tables (``DTG, all teachers, offline``).
        pretrain: pre-training method (``dtg``, ``distinit-l1``, ``distinit-ce``, ``moco``) or
            None (no pre-training: the random / ``model.init`` student is evaluated).
        overrides: ``section.key=value`` overrides for every stage of this arm.
        pretrain_overrides: overrides for the pre-training stage only (e.g. ``data.fraction``,
            ``pretrain.epochs``: the data-efficiency study fine-tunes on all videos).
        supervised: None, or the contrastive method of a supervised run (Table 4):
            :func:`dtgkit.train.finetune.joint` with ``dtg.method`` = this (``none`` = plain TSN).
        init_from: key of another arm of the same seed whose pre-trained student initialises
            this arm's student (Table 4's SSL column).
        offline_from: keys of single-teacher arms (same seed, one per teacher, in teacher order)
            whose fine-tuned acc@1 give the offline weights; empty: the teacher-kNN proxy.
        skip: a reason this arm cannot run here (recorded in the results, not run).
        info: extra columns for the results row (teachers, weighting ...).
    """

    key: str
    label: str
    pretrain: str | None = "dtg"
    overrides: list[str] = field(default_factory=list)
    pretrain_overrides: list[str] = field(default_factory=list)
    supervised: str | None = None
    init_from: str = ""
    offline_from: tuple[str, ...] = ()
    skip: str = ""
    info: dict[str, Any] = field(default_factory=dict)


#: keys added after runs were recorded: left out of the hash while at these defaults, so a new
#: option does not orphan finished runs
_ADDED_LATER = {("dtg", "fusion_scale"): "linear", ("run", "deterministic"): False,
                ("run", "sync_bn"): False, ("data", "clip_cache"): "",
                ("dtg", "distinit_l1_dims"): "mean", ("dtg", "cache_frame_stride"): 1,
                ("pretrain", "schedule"): "step", ("finetune", "schedule"): "step"}


def _hashable(d: dict) -> dict:
    """A copy of a config dict without the volatile keys and the later-added keys at default."""
    d = {sec: dict(v) if isinstance(v, dict) else v for sec, v in d.items()}
    for sec, key in VOLATILE_KEYS:
        if isinstance(d.get(sec), dict):
            d[sec].pop(key, None)
    for (sec, key), default in _ADDED_LATER.items():
        if isinstance(d.get(sec), dict) and d[sec].get(key, default) == default:
            d[sec].pop(key, None)
    return d


def world_identity(root: str | os.PathLike) -> tuple[dict[str, int], ...]:
    """What the config hash adds about the data at ``root``: ``({"synth_version": v},)`` for a
    SynthActions world generated by renderer version v >= 3 (the v2 world of issue 13), else ()
    (real data sets, no world yet, and the first world, versions 1-2, whose committed runs keep
    their hashes). The data root is a path in the config, so without this a finished run of
    the old world would be re-used for the new world at the same path."""
    meta = load_meta(root) if root else None
    version = int(meta.get("version", 0)) if meta else 0
    return ({"synth_version": version},) if version >= 3 else ()


def config_hash(cfg: Config, *extra: Any) -> str:
    """8 hex digits of the config (without volatile keys: progress, folders, workers, device,
    logging interval), and of ``extra`` (config dicts among them cleaned the same way)."""
    d = cfg.to_dict()
    extra = tuple(_hashable(x) if isinstance(x, dict) else x for x in extra)
    blob = json.dumps([_hashable(d), *extra], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:8]


def _metrics_of(res: dict | None, prefix: str = "") -> dict[str, float]:
    if not res:
        return {}
    return {f"{prefix}{k}": float(res[k]) for k in ("acc1", "acc5", "mAP", "mean_class_acc") if k in res}


def pair_accuracies(stage_dir: str | os.PathLike, data_root: str | os.PathLike) -> dict[str, float]:
    """Within-pair test accuracy (percent) of each confusable pair of the SynthActions world at
    ``data_root`` (:func:`dtgkit.studies.calibration.student_pair_accuracy` on the run stage's
    ``scores_test.npz``), e.g. ``{"Walk/Run": 58.6, ...}``; empty when the world names no
    pairs (or is not SynthActions) or the stage saved no test scores.

    Stored in each result row (``pair_acc``), so premise 4's question (does a student separate
    classes only motion tells apart?) can be read for every arm and seed from the committed CSV
    after the run folders are gone."""
    meta = load_meta(data_root) if data_root else None
    scores = Path(stage_dir) / "scores_test.npz"
    if not meta or not meta.get("confusable_pairs") or not scores.is_file():
        return {}
    with np.load(scores) as z:  # the class order of the scores (saved with them), else the world's
        names = [str(n) for n in z["class_names"]] if "class_names" in z.files \
            else [c["name"] for c in meta["classes"]]
        got = student_pair_accuracy(z["scores"], z["labels"], names,
                                    [ConfusablePair(**p) for p in meta["confusable_pairs"]])
    return {r["pair"]: round(r["acc"], 2) for r in got}


def _stage_dir(run_root: Path) -> Path:
    """The stage whose test scores are the row's: ``joint`` for supervised arms, else ``finetune``."""
    return run_root / ("joint" if (run_root / "joint").is_dir() else "finetune")


def run_arm(base: Config, arm: Arm, out_dir: str | os.PathLike, seed: int, *,
            offline_accs: dict[str, float] | None = None, init_ckpt: str | None = None,
            frozen: bool = True, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Train and evaluate one arm with one seed; re-use its finished folder if present.

    Args:
        base: the budget (student, data, epochs, batch ...) shared by all arms.
        arm: what differs.
        out_dir: the suite's folder; the arm runs in ``out_dir/<key>/seed<S>-<hash>``.
        seed: ``run.seed``.
        offline_accs: teacher spec -> accuracy (percent) for ``dtg.weighting=offline`` arms
            whose config gives none.
        init_ckpt: a pre-training checkpoint initialising the student (``arm.init_from``).
        frozen: also run the kNN / linear-probe evaluation (not for supervised arms).

    Returns:
        The result row: ``arm``, ``label``, ``seed``, the metrics of :data:`METRICS` (NaN when
        not measured), ``mean_class_acc``, stage seconds, ``offline_weights``, ``pair_acc``
        (:func:`pair_accuracies`), ``run_dir``, ``skipped`` (the reason, or "").
    """
    row: dict[str, Any] = {"arm": arm.key, "label": arm.label, "seed": seed, **arm.info}
    row.update({m: float("nan") for m in (*METRICS, "mean_class_acc")})
    if arm.skip:
        say(f"[{arm.key} seed {seed}] skipped: {arm.skip}")
        return {**row, "skipped": arm.skip, "run_dir": ""}
    cfg = apply_overrides(base, arm.overrides)
    cfg.run.seed = seed
    if arm.supervised is not None:
        cfg.dtg.method = arm.supervised
    elif arm.pretrain:
        cfg.dtg.method = arm.pretrain
    if cfg.dtg.weighting == "offline" and not cfg.dtg.offline_accs and cfg.dtg.method == "dtg":
        if not offline_accs or any(s not in offline_accs for s in cfg.dtg.teachers):
            raise ValueError(f"arm {arm.key}: offline weighting needs an accuracy for each of "
                             f"{cfg.dtg.teachers}")
        cfg.dtg.offline_accs = [float(offline_accs[s]) for s in cfg.dtg.teachers]
    weights = None
    if cfg.dtg.weighting == "offline" and cfg.dtg.method == "dtg":
        weights = offline_weights(cfg.dtg.offline_accs, W.temperature_for("offline", cfg.dtg.weight_temperature))
        if max(cfg.dtg.offline_accs) <= 1:  # weighting.offline would reject these as fractions
            say(f"[{arm.key}] offline accuracies {cfg.dtg.offline_accs} are all <= 1 %: passing their "
                f"softmax {weights} as fixed weights")
            cfg.dtg.weighting, cfg.dtg.weights = "fixed", weights
    pre_cfg = apply_overrides(cfg, arm.pretrain_overrides)
    validate(cfg), validate(pre_cfg)
    h = config_hash(pre_cfg, cfg.to_dict(), arm.pretrain, arm.supervised, init_ckpt and str(init_ckpt),
                    *world_identity(cfg.data.root))
    run_root = Path(out_dir) / arm.key / f"seed{seed}-{h}"
    done = run_root / "row.json"
    if not done.is_file():  # the same run (same config hash and seed) finished for another suite?
        twins = sorted(Path(out_dir).parent.glob(f"*/*/{run_root.name}/row.json"))
        if twins:
            done = twins[0]
    if done.is_file():
        say(f"[{arm.key} seed {seed}] finished run found in {done.parent}: re-using row.json")
        old = json.loads(done.read_text())
        if "pair_acc" not in old and old.get("run_dir"):  # a row written before the column
            old["pair_acc"] = pair_accuracies(_stage_dir(Path(old["run_dir"])), cfg.data.root)
        # the metrics are the run's; the arm's key, label and info are this suite's
        return {**old, "arm": arm.key, "label": arm.label, "seed": seed, **arm.info, "reused": True}
    run_root.mkdir(parents=True, exist_ok=True)
    if weights is not None:
        row["offline_accs"] = list(cfg.dtg.offline_accs)
        row["offline_weights"] = weights
    init_file = ""
    if init_ckpt:  # the pre-trained student's weights as a model.init state-dict file
        init_file = str(run_root / "init_student.pt")
        torch.save(E.student_state_dict(E.load_checkpoint(init_ckpt)), init_file)
        cfg.model.init = pre_cfg.model.init = init_file

    if arm.supervised is not None:
        say(f"[{arm.key} seed {seed}] supervised run (joint, dtg.method={arm.supervised}) in {run_root}")
        res = _timed(row, "finetune", joint, cfg, resume=True, run_dir=run_root / "joint")
        return _finish(row, res.results.get("test"), run_root, done, cfg.data.root)

    ckpt = None
    if arm.pretrain:
        say(f"[{arm.key} seed {seed}] pre-training ({arm.pretrain}) in {run_root / 'pretrain'}")
        pre = _timed(row, "pretrain", pretrain, pre_cfg, resume=True, run_dir=run_root / "pretrain")
        row["pretrain_final_loss"] = pre.results.get("final_loss")
        ckpt = str(pre.checkpoint)
    if frozen:
        say(f"[{arm.key} seed {seed}] frozen features: kNN + linear probe")
        fe = _timed(row, "eval", frozen_eval, cfg, ckpt, run_root, say=say)
        row["knn_acc1"] = float(fe["knn"]["acc1"])
        row["linear_acc1"] = float(fe["linear_probe"]["acc1"])
    say(f"[{arm.key} seed {seed}] fine-tuning in {run_root / 'finetune'}")
    ft = _timed(row, "finetune", finetune, cfg, init=ckpt, resume=True, run_dir=run_root / "finetune")
    return _finish(row, ft.results.get("test"), run_root, done, cfg.data.root)


def _timed(row: dict[str, Any], stage: str, fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, its wall and CPU seconds stored as ``row[<stage>_s]`` and
    ``row[<stage>_cpu_s]``."""
    t0, c0 = time.perf_counter(), cpu_seconds()
    out = fn(*args, **kwargs)
    row[f"{stage}_s"] = round(time.perf_counter() - t0, 1)
    row[f"{stage}_cpu_s"] = round(cpu_seconds() - c0, 1)
    return out


def _finish(row: dict[str, Any], test: dict | None, run_root: Path, done: Path,
            data_root: str | os.PathLike) -> dict[str, Any]:
    """The test metrics and the within-pair accuracies (:func:`pair_accuracies` of the world at
    ``data_root``) into the row, which is then written as the run's ``row.json``."""
    row.update(_metrics_of(test))
    if test and "num_samples" in test:  # the test-set size, for the claims' binomial error
        row["test_n"] = int(test["num_samples"])
    row["pair_acc"] = pair_accuracies(_stage_dir(run_root), data_root)
    row["run_dir"] = str(run_root)
    row["skipped"] = ""
    _write_json(done, row)
    return row


def _write_json(path: Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=1, default=str) + "\n")


def run_arms(base: Config, arms: Sequence[Arm], out_dir: str | os.PathLike, seeds: Sequence[int], *,
             offline_accs: dict[str, float] | Callable[[int], dict[str, float]] | None = None,
             say: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Run every arm for every seed (seed-major order), resolving ``init_from`` and
    ``offline_from`` from arms of the same seed that ran earlier in ``arms``.

    Args:
        offline_accs: spec -> accuracy for offline arms without ``offline_from``, or a
            function of the seed returning it (computed lazily, only when needed).

    Returns:
        One row per (seed, arm), with ``suite_index`` (the arm's position).
    """
    rows: list[dict[str, Any]] = []
    keys = [a.key for a in arms]
    if len(set(keys)) != len(keys):
        raise ValueError(f"arm keys must be unique, got {keys}")
    total = len(arms) * len(seeds)
    n = 0
    for seed in seeds:
        done: dict[str, dict] = {}
        proxy: dict[str, float] | None = None
        for i, arm in enumerate(arms):
            n += 1
            say(f"=== [{n}/{total}] {arm.label} (seed {seed})")
            if arm.skip:
                row = run_arm(base, arm, out_dir, seed, say=say)
                rows.append({**row, "suite_index": i})
                done[arm.key] = row
                continue
            accs = None
            cfg_w = apply_overrides(base, arm.overrides).dtg
            if cfg_w.weighting == "offline" and not cfg_w.offline_accs:
                if arm.offline_from:
                    src = [done.get(k) for k in arm.offline_from]
                    if any(r is None or r.get("skipped") or math.isnan(r["acc1"]) for r in src):
                        raise ValueError(f"arm {arm.key}: offline weights need the finished arms "
                                         f"{arm.offline_from} earlier in the suite")
                    accs = {s: float(r["acc1"]) for s, r in zip(cfg_w.teachers, src)}
                else:
                    if proxy is None:
                        proxy = offline_accs(seed) if callable(offline_accs) else (offline_accs or {})
                    accs = proxy
            init = None
            if arm.init_from:
                src_row = done.get(arm.init_from)
                if src_row is None or src_row.get("skipped"):
                    row = run_arm(base, Arm(**{**asdict(arm), "skip": f"needs arm {arm.init_from}"}),
                                  out_dir, seed, say=say)
                    rows.append({**row, "suite_index": i})
                    done[arm.key] = row
                    continue
                init = str(Path(src_row["run_dir"]) / "pretrain" / "checkpoint.pt")
            row = run_arm(base, arm, out_dir, seed, offline_accs=accs, init_ckpt=init,
                          frozen=arm.supervised is None, say=say)
            row["suite_index"] = i
            if accs is not None and "offline_source" not in row:
                row["offline_source"] = "single-runs" if arm.offline_from else "teacher-knn"
            rows.append(row)
            done[arm.key] = row
    return rows

"""Self-supervised pre-training: DTG-Net and its baselines on unlabeled videos (Sec. 3, 4.3).

``pretrain(cfg)`` builds, from one :class:`~dtgkit.config.Config`,

* the two-view training set (``data.*``, :func:`dtgkit.train.data.pair_dataset`),
* the student (``model.student``) and the frozen teachers (``dtg.teachers``, specs of
  :func:`dtgkit.models.teachers.create_teacher`),
* the method ``dtg.method``: ``dtg`` (Eq. 1-2), ``distinit-l1`` / ``distinit-ce`` (DistInit),
  ``moco`` (teacher-free: a momentum copy of the student encodes the guidance view),

trains it with :class:`~dtgkit.train.engine.Trainer` (``pretrain.*`` schedule), and ends with a
kNN monitor (train-split features as the bank, test-split features as queries; cosine,
k = 200, tau = 0.1) written to ``results.json`` in the run folder. With ``dtg.use_cache`` the
guidance features come from the teacher feature cache of ``dtgkit cache-teachers`` (the
guidance view then loses its random crop, see :mod:`dtgkit.models.teacher_cache`).

Labels are never used for training here; the kNN monitor reads the split's labels only to
report how useful the features already are.

``metrics.jsonl`` rows carry the method's diagnostics as it names them (:mod:`dtgkit.dtg.net`):
``loss``, ``acc`` (instance discrimination: the positive ranks first among the K + 1 pairs;
for ``distinit-ce`` the agreement with the teacher's argmax), ``pos_sim``, ``neg_sim``,
``hard_neg_sim``, ``queue_fill``, ``queue_age`` and per teacher ``loss/<name>``,
``weight/<name>``, ``acc/<name>``, ``pos_sim/<name>``, ``neg_sim/<name>``; plus the engine's
``step``, ``epoch``, ``lr`` and ``clips_per_s``.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dtgkit.config import Config, validate
from dtgkit.data.clip_cache import cache_key
from dtgkit.dtg import create_method
from dtgkit.files import write_text_atomic
from dtgkit.models import students as S
from dtgkit.models.teacher_cache import (
    CachedGuidance,
    GuidanceSource,
    cache_holds,
    cache_teacher_features,
)
from dtgkit.models.teachers import create_teacher
from dtgkit.train import data as TD
from dtgkit.train import distributed as D
from dtgkit.train import engine as E
from dtgkit.train.evaluate import frozen_evaluation

__all__ = [
    "RunResult",
    "build_method",
    "build_student",
    "build_teachers",
    "ensure_teacher_cache",
    "guidance_source",
    "pretrain",
    "read_results",
    "run_inputs",
    "write_results",
]


@dataclass
class RunResult:
    """What a training stage returns: its folder, its results and its metrics history."""

    run_dir: Path
    results: dict[str, Any] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    cached: bool = False

    @property
    def checkpoint(self) -> Path:
        return self.run_dir / E.CHECKPOINT_NAME


# ------------------------------------------------------------------------------ builders
def build_student(cfg: Config, num_classes: int | None = None) -> nn.Module:
    """``model.student``, optionally with a classifier of ``num_classes`` (dropout ``model.dropout``).

    ``model.init`` initialises the student from, in this order of recognition: a dtgkit
    checkpoint (its student weights) or a state-dict file of this very student (loaded as is);
    any other file: 2D ImageNet-style ResNet weights (loaded into a TSN student, inflated into
    a 3D one); not a file: a torchvision weights name (``IMAGENET1K_V1``).
    """
    def make(**kw):
        if num_classes is None:
            return S.create_student(cfg.model.student, **kw)
        return S.create_student(cfg.model.student, num_classes=num_classes, dropout=cfg.model.dropout, **kw)

    init = os.path.expanduser(cfg.model.init) if cfg.model.init else ""
    if not init:
        return make()
    if not os.path.exists(init):
        return make(weights=init)
    from dtgkit.models.teachers import load_weights

    model = make()
    bare = model.student if num_classes is not None else model
    obj = load_weights(init, hint=f"(model.init={cfg.model.init!r}: a dtgkit checkpoint, a state "
                                  f"dict of {cfg.model.student!r} or 2D ImageNet-style weights)")
    if isinstance(obj, dict) and obj.get("format") == E.CHECKPOINT_FORMAT:
        obj = E.student_state_dict(obj)
    if isinstance(obj, dict) and set(obj) == set(bare.state_dict()):
        bare.load_state_dict(obj)  # a whole-student state dict (e.g. from an earlier run)
        return model
    # `pretrained=` takes 2D files (TSN; inflated for 3D nets) and 3D / dtgkit checkpoints alike
    if not S.accepts_2d_init(cfg.model.student):
        raise ValueError(f"model.init={cfg.model.init!r}: not a dtgkit checkpoint or a state dict of "
                         f"{cfg.model.student!r}, and that student takes no 2D weights")
    return make(pretrained=init)


def build_teachers(cfg: Config) -> dict[str, nn.Module]:
    """The frozen teachers of ``dtg.teachers``, keyed by unique names (``tiny``, ``tiny-2`` ...)."""
    out: dict[str, nn.Module] = {}
    for spec in cfg.dtg.teachers:
        t = create_teacher(spec)
        base = str(getattr(t, "name", spec)).replace(".", "_") or "teacher"
        name, i = base, 2
        while name in out:
            name, i = f"{base}-{i}", i + 1
        out[name] = t
    return out


def build_method(cfg: Config, student: nn.Module, teachers: dict[str, nn.Module]) -> nn.Module:
    """``dtg.method`` around ``student`` (see :func:`dtgkit.dtg.create_method`)."""
    m = cfg.dtg
    if m.method == "dtg":
        kw: dict[str, Any] = {"weighting": m.weighting, "tau": m.tau, "K": m.queue_size,
                              "fusion": m.fusion, "fusion_scale": m.fusion_scale, "mask": m.mask,
                              "weighting_temperature": m.weight_temperature or None}
        if m.weighting == "fixed":
            kw["weights"] = list(m.weights)
        if m.weighting == "offline":
            kw["accuracies"] = list(m.offline_accs)
        return create_method("dtg", student, teachers, **kw)
    if m.method in ("distinit-l1", "distinit-ce"):
        kw = {"weights": list(m.weights)} if m.weighting == "fixed" else {}
        if m.method == "distinit-l1":
            kw["l1_dims"] = m.distinit_l1_dims
        return create_method(m.method, student, teachers, **kw)
    if m.method == "moco":
        return create_method("moco", student, dim=m.moco_dim, K=m.queue_size, m=m.moco_momentum,
                             tau=m.tau, mask=m.mask)
    raise ValueError(f"dtg.method={m.method!r} is not a pre-training method "
                     f"(dtg, distinit-l1, distinit-ce, moco); 'none' is for `dtgkit joint`")


class PairStep:
    """The step function of pair training: ``model(anchor, guidance, video_ids=, groups=)``.

    With a :class:`~dtgkit.models.teacher_cache.GuidanceSource` in cache mode the guidance clip
    is replaced by the cached features of the guidance view's frames.
    """

    def __init__(self, records, teacher_names: list[str], source=None) -> None:
        self.records = records
        self.video_ids = torch.tensor([r.video_id for r in records], dtype=torch.long)
        self.groups = TD.group_ids(records)
        self.names = teacher_names
        self.source = source

    def inputs(self, batch) -> tuple[tuple, dict]:
        anchor, guidance, index = batch[0], batch[1], batch[2]
        idx = index.cpu()
        kw: dict[str, Any] = {"video_ids": self.video_ids[idx].to(anchor.device),
                              "groups": self.groups[idx].to(anchor.device)}
        if self.source is not None:
            paths = [self.records[i].path for i in idx.tolist()]
            feats = self.source(paths=paths, indices=batch[4].cpu().numpy())
            kw["guidance_feats"] = {n: f.to(anchor.device) for n, f in zip(self.names, feats)}
            return (anchor, None), kw
        return (anchor, guidance), kw

    def __call__(self, model: nn.Module, batch) -> tuple[torch.Tensor, dict]:
        args, kw = self.inputs(batch)
        return model(*args, **kw)


def guidance_source(cfg: Config, teachers: dict[str, nn.Module], records=None):
    """The teacher-feature cache reader for ``dtg.use_cache`` (None when off).

    With ``records`` (the training videos), a teacher whose cache in ``dtg.cache_dir`` is
    missing, unfinished, built from other weights or without one of those videos is cached
    there first (:func:`ensure_teacher_cache`, on the main process; the others wait).

    MoCo-video has no teachers, so it reads no cache (None): ``use_cache`` is part of a budget
    (the ``lab`` preset) that every arm of a comparison shares, MoCo's included.
    """
    if not cfg.dtg.use_cache or cfg.dtg.method == "moco":
        return None
    if cfg.dtg.method == "distinit-ce":
        raise ValueError("dtg.use_cache: distinit-ce needs teacher logits, the cache holds features")
    if records is not None:
        if D.is_main_process():
            ensure_teacher_cache(cfg, list(teachers.values()), records)
        D.barrier()
    cache = CachedGuidance(cfg.dtg.cache_dir, [t.spec for t in teachers.values()])
    return GuidanceSource(list(teachers.values()), cache, use_cache=True)


def ensure_teacher_cache(cfg: Config, teachers: list, records) -> list[str]:
    """Cache in ``dtg.cache_dir`` each of ``teachers`` (:class:`~dtgkit.models.teachers.Teacher`)
    whose cache there is missing, unfinished, made from other weights, at another frame stride
    than ``dtg.cache_frame_stride``, or lacks a video of ``records``: every s-th frame of those
    videos, centre square at 112 px, each teacher then at its own input size
    (:func:`~dtgkit.models.teacher_cache.cache_teacher_features`).

    Returns:
        the specs that were cached (empty: every cache was there).
    """
    root = TD.video_root(cfg.data).resolve()
    keys = sorted({cache_key(r.path, root) for r in records})
    stride = cfg.dtg.cache_frame_stride
    todo = [t for t in teachers if not cache_holds(cfg.dtg.cache_dir, t, keys, stride)]
    if not todo:
        return []
    E.say(f"teacher cache: caching {', '.join(t.spec for t in todo)} for {len(keys)} training "
          f"videos (every {stride} frames) in {cfg.dtg.cache_dir}")
    t0 = time.perf_counter()
    cache_teacher_features(root, todo, cfg.dtg.cache_dir, videos=keys, frame_stride=stride,
                           backend=cfg.data.backend,
                           progress=cfg.run.progress)
    E.say(f"teacher cache: done in {time.perf_counter() - t0:.0f} s")
    return [t.spec for t in todo]


def run_inputs(cfg: Config, init: str | os.PathLike | None = None) -> dict[str, dict[str, str]]:
    """The files a run is made from and their sha256, stored in the run folder's
    ``inputs.json`` and compared by ``--resume``: the fine-tuning ``init`` checkpoint, a
    ``model.init`` file and the weights files of the teachers (``checkpoint:``, ``synth:``,
    ``...@/path`` specs).

    Returns:
        name -> ``{"path", "sha256"}`` (``"init"``, ``"model.init"``, ``"teacher <spec>"``).
    """
    from dtgkit.models.teachers import sha256_file, teacher_weights_path

    files: dict[str, Path] = {}
    if init:
        path = Path(init).expanduser()
        files["init"] = path / E.CHECKPOINT_NAME if path.is_dir() else path
    if cfg.model.init and os.path.isfile(os.path.expanduser(cfg.model.init)):
        files["model.init"] = Path(cfg.model.init).expanduser()
    if cfg.dtg.method not in ("moco", "none"):
        for spec in cfg.dtg.teachers:
            path = teacher_weights_path(spec)
            if path is not None:
                files[f"teacher {spec}"] = path
    return {name: {"path": str(path), "sha256": sha256_file(path)}
            for name, path in files.items() if path.is_file()}


# ------------------------------------------------------------------------------ results
def write_results(run_dir: Path, results: dict) -> None:
    """``run_dir/results.json``, atomically (rank 0)."""
    if not D.is_main_process():
        return
    write_text_atomic(Path(run_dir) / "results.json", json.dumps(results, indent=1, default=str) + "\n")


def read_results(run_dir: str | os.PathLike) -> dict:
    path = Path(run_dir) / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"no results.json in {run_dir}")
    return json.loads(path.read_text(encoding="utf-8"))


def cached_result(run_dir: Path, epochs: int, resume: bool, cfg: Config | None = None,
                  inputs: dict[str, dict] | None = None, *,
                  allow_changed_init: bool = False) -> RunResult | None:
    """A finished run's stored result (``resume=True`` on a completed run), else None.

    With ``cfg`` the folder's run must be this one (:func:`~dtgkit.train.engine.check_same_run`:
    the same config and input files), or a ValueError says what differs.
    """
    if not resume or not (run_dir / "results.json").is_file():
        return None
    if cfg is not None:
        E.check_same_run(run_dir, cfg, inputs, allow_changed_init=allow_changed_init)
    res = read_results(run_dir)
    if res.get("epochs_done") != epochs:
        return None
    E.say(f"{run_dir}: finished run found, using its results.json (nothing retrained)")
    return RunResult(run_dir, res, E.read_metrics(run_dir, "train"), cached=True)


def _num_workers(cfg: Config) -> int:
    return max(0, int(cfg.data.num_workers))


# ------------------------------------------------------------------------------ pretrain
def pretrain(cfg: Config, *, resume: bool = False, overwrite: bool = False,
             callbacks: dict[str, list[Callable]] | None = None,
             run_dir: str | os.PathLike | None = None,
             allow_changed_init: bool = False) -> RunResult:
    """Self-supervised pre-training of ``cfg.model.student`` with ``cfg.dtg.method``.

    Everything (config, data, teachers, the folder) is checked before the run folder is
    touched; ``overwrite`` then moves the old run aside (:func:`~dtgkit.train.engine.start_run_dir`).

    Args:
        cfg: the resolved config (``pretrain.*`` is the schedule).
        resume: continue from ``run_dir/checkpoint.pt`` (exactly; a finished run returns its
            stored results). The folder's run must have the same config and input files.
        overwrite: start afresh even if the folder holds a finished run (moved aside).
        callbacks: event -> functions, passed to :meth:`Trainer.add_callback`.
        run_dir: default ``run.out_dir / (run.name or "<preset>-pretrain-<method>")``.
        allow_changed_init: ``resume`` although a teacher / ``model.init`` file changed.

    Returns:
        :class:`RunResult` (``results`` as in ``results.json``: kNN monitor, losses, timings,
        skipped and short videos).
    """
    cfg = validate(cfg.copy())
    D.init_distributed(cfg.run.device, timeout_s=cfg.run.dist_timeout_s)
    run_dir = Path(run_dir) if run_dir else E.run_dir_for(cfg, f"pretrain-{cfg.dtg.method}")
    inputs = run_inputs(cfg)
    E.check_run_dir(run_dir, cfg, inputs, resume=resume, overwrite=overwrite,
                    allow_changed_init=allow_changed_init)  # also: the same run when resuming
    hit = cached_result(run_dir, cfg.pretrain.epochs, resume)
    if hit is not None:
        return hit
    E.seed_everything(cfg.run.seed)  # same initial weights on every rank
    log_dir = run_dir / E.DATA_LOG

    train_records, class_names = TD.load_split(cfg.data, "train")
    train_records = TD.subsample_records(train_records, cfg.data.fraction, cfg.run.seed)
    student = build_student(cfg)
    teachers = build_teachers(cfg) if cfg.dtg.method != "moco" else {}
    method = build_method(cfg, student, teachers)
    source = guidance_source(cfg, teachers, train_records)
    train_set = TD.pair_dataset(cfg, train_records, cached_guidance=source is not None,
                                log_dir=log_dir)
    step = PairStep(train_records, list(teachers), source)
    optim = cfg.pretrain
    trainer = E.Trainer(method, step, train_set, optim=optim, run=cfg.run, run_dir=run_dir,
                        num_workers=_num_workers(cfg), student=student, stage="pretrain",
                        progress_keys={"acc": "inst_acc"},
                        config=cfg, meta={"method": cfg.dtg.method, "teachers": list(cfg.dtg.teachers),
                                          "class_names": list(class_names or []),
                                          "inputs": inputs})
    for event, fns in (callbacks or {}).items():
        for fn in fns:
            trainer.add_callback(event, fn)

    test_records = None
    try:
        test_records, _ = TD.load_split(cfg.data, "test")
    except (FileNotFoundError, ValueError) as err:
        E.say(f"kNN monitor off: no test split ({err})")
    labelled = test_records is not None and all(r.label >= 0 for r in train_records + test_records)
    num_classes = TD.num_classes_of(train_records, class_names) if labelled else 0
    E.start_run_dir(run_dir, cfg, inputs, resume=resume, overwrite=overwrite)

    def monitor() -> dict[str, Any] | None:
        if not labelled:
            return None
        # every rank extracts its share of the bank and the queries (no rank idles at a barrier)
        res = frozen_evaluation(cfg, student, device=trainer.device, train=train_records,
                                test=test_records, batch_size=max(cfg.pretrain.batch_size, 1),
                                linear=False, num_classes=num_classes,
                                log_dir=log_dir)
        return {**res["knn"], "bank": len(train_records), "queries": len(res["test_features"][1])}

    every = cfg.run.eval_knn_every
    if every > 0:
        def periodic(t: E.Trainer) -> None:
            if t.epoch % every == 0 and t.epoch < optim.epochs:
                knn = monitor()
                if knn is not None:
                    t.log_row({"kind": "eval", "stage": "pretrain", "step": t.step, "epoch": t.epoch,
                               **{f"knn_{k}": v for k, v in knn.items()}})
        trainer.add_callback("on_epoch_end", periodic)

    t0 = time.perf_counter()
    history = trainer.fit(resume=resume)
    seconds = time.perf_counter() - t0
    knn = monitor()
    if knn is not None:
        trainer.log_row({"kind": "eval", "stage": "pretrain", "step": trainer.step,
                         "epoch": trainer.epoch, **{f"knn_{k}": v for k, v in knn.items()}})
    epochs = E.read_metrics(run_dir, "epoch")
    D.barrier()  # every process's data log is complete
    results = {
        "stage": "pretrain",
        "method": cfg.dtg.method,
        "teachers": list(teachers) if teachers else [],
        "teacher_specs": list(cfg.dtg.teachers) if teachers else [],
        "student": cfg.model.student,
        "epochs_done": trainer.epoch,
        "steps": trainer.step,
        "final_loss": epochs[-1]["loss"] if epochs else None,
        "train_seconds_this_session": seconds,
        "world_size": D.get_world_size(),
        "train_videos": len(train_records),
        **TD.data_report(log_dir),
        "inputs": inputs,
        "knn": knn,
        "checkpoint": str(run_dir / E.CHECKPOINT_NAME),
        "run_dir": str(run_dir),
    }
    write_results(run_dir, results)
    D.barrier()
    return RunResult(run_dir, results, history)

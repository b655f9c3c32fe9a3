"""Supervised stages: fine-tuning, supervised DTG-Net (Eq. 3) and checkpoint evaluation.

* :func:`finetune` trains the student plus a classifier (dropout + linear, TSN) on labels,
  initialised from a pre-training checkpoint's student weights (or at random / from
  ``model.init``), then tests it: acc@1, acc@5, mAP and mean class accuracy of video-level
  scores (softmax per clip averaged over ``data.test_clips`` clips), Sec. 4.2's schedule
  ``finetune.*`` (80 epochs, x0.1 at 30 and 60).
* :func:`joint` is the supervised DTG-Net: ``L_joint = alpha * L_contrast + beta * L_CE``
  (Eq. 3, ``dtg.alpha`` = 0.1, ``dtg.beta`` = 1.0) on the two-view set, the classifier reading the
  same student feature the contrastive loss uses (one backbone pass). ``dtg.method: none``
  drops the contrastive term: plain supervised TSN through the same code. Like
  :func:`evaluate` it writes the test features to ``features_test.npz`` (Figure 4).
* :func:`evaluate` evaluates any dtgkit checkpoint: kNN and linear probe on frozen student
  features (train split -> test split), classifier metrics when it has a classifier, and the
  test features saved to ``features_test.npz`` for t-SNE.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dtgkit.config import Config, config_from_dict, resolve_config, validate
from dtgkit.files import check_writable_dir, write_text_atomic
from dtgkit.metrics import classification_metrics
from dtgkit.train import data as TD
from dtgkit.train import distributed as D
from dtgkit.train import engine as E
from dtgkit.train.evaluate import frozen_evaluation, predict_scores, save_features
from dtgkit.train.pretrain import (
    PairStep,
    RunResult,
    build_method,
    build_student,
    build_teachers,
    cached_result,
    guidance_source,
    run_inputs,
    write_results,
)

__all__ = ["SupervisedDTG", "evaluate", "finetune", "finetune_run_name", "joint", "load_student_weights",
           "test_classifier"]


# ------------------------------------------------------------------------------ helpers
def load_student_weights(student: nn.Module, ckpt_path: str | os.PathLike,
                         expect_student: str | None = None) -> dict:
    """Copy a checkpoint's student weights into ``student`` (strict).

    Args:
        student: the bare student (not the classifier).
        ckpt_path: a ``checkpoint.pt`` or its run folder.
        expect_student: ``model.student`` of the current config, checked against the checkpoint's.

    Returns:
        the checkpoint dict.
    """
    ckpt = E.load_checkpoint(ckpt_path)
    made_with = ((ckpt.get("config") or {}).get("model") or {}).get("student")
    if expect_student and made_with and made_with != expect_student:
        raise ValueError(f"{ckpt_path}: the checkpoint's student is {made_with!r}, the config asks "
                         f"for {expect_student!r} (set model.student={made_with})")
    state = E.student_state_dict(ckpt)
    missing, unexpected = student.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"{ckpt_path}: student weights do not fit model.student={expect_student!r}: "
                         f"missing {missing[:5]}, unexpected {unexpected[:5]}")
    return ckpt


def _ce_step(model: nn.Module, batch) -> tuple[torch.Tensor, dict]:
    clip, label = batch[0], batch[1]
    logits = model(clip)  # N x C
    loss = F.cross_entropy(logits, label)
    return loss, {"ce": loss.detach(), "cls_acc": (logits.argmax(1) == label).float().mean().detach()}


def test_classifier(cfg: Config, classifier: nn.Module, records, device: torch.device,
                    class_names: list[str] | None = None, out_dir: Path | None = None,
                    features: nn.Module | None = None,
                    log_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Video-level test metrics of a classifier (``data.test_clips`` clips per video).

    Saves ``scores_test.npz`` (scores V x C, labels, video_ids) in ``out_dir`` when given, and
    with ``features`` (the student inside ``classifier``) also its test features,
    ``features_test.npz``, collected in the same pass. ``log_dir``: where the test set logs
    skipped and short videos.
    """
    loader = TD.eval_loader(cfg, TD.eval_clip_dataset(cfg, records, cfg.data.test_clips,
                                                      log_dir=log_dir),
                            max(1, cfg.finetune.batch_size))
    scores, labels, vids, *feats = predict_scores(classifier, loader, device=device,
                                                  progress=cfg.run.progress, features=features)
    metrics = classification_metrics(scores, labels)
    metrics["test_clips"] = cfg.data.test_clips
    if out_dir is not None and D.is_main_process():
        extra = {"class_names": np.asarray(class_names, dtype=str)} if class_names else {}
        np.savez(Path(out_dir) / "scores_test.npz", scores=scores, labels=labels, video_ids=vids, **extra)
        if feats:
            save_features(Path(out_dir) / "features_test.npz", feats[0], labels, vids, class_names or None)
    return metrics


def _labelled_splits(cfg: Config):
    train_records, class_names = TD.load_split(cfg.data, "train")
    train_records = TD.subsample_records(train_records, cfg.data.fraction, cfg.run.seed)
    test_records, _ = TD.load_split(cfg.data, "test")
    if any(r.label < 0 for r in train_records) or any(r.label < 0 for r in test_records):
        raise ValueError(f"data.dataset={cfg.data.dataset!r}: supervised training needs labels on "
                         "every training and test video")
    return train_records, test_records, class_names, TD.num_classes_of(train_records, class_names)


def _add_callbacks(trainer: E.Trainer, callbacks: dict[str, list[Callable]] | None) -> None:
    for event, fns in (callbacks or {}).items():
        for fn in fns:
            trainer.add_callback(event, fn)


def _supervised_cfg(cfg: Config) -> Config:
    """The trainer reads ``pretrain``-named settings nowhere: pass ``finetune`` explicitly."""
    return validate(cfg.copy())


# ------------------------------------------------------------------------------ finetune
def finetune_run_name(cfg: Config, init: str | os.PathLike | None) -> str:
    """The default folder name of a fine-tuning run: ``<preset>-finetune``, and with an init
    ``<preset>-finetune-from-<init run>-<sha256[:8] of its checkpoint>``, so fine-tuning
    another pre-training never lands in (or resumes) this one's folder."""
    base = f"{cfg.preset or 'run'}-finetune"
    if not init:
        return base
    path = Path(init).expanduser()
    ckpt = path / E.CHECKPOINT_NAME if path.is_dir() else path
    if not ckpt.is_file():
        raise FileNotFoundError(f"checkpoint not found: {ckpt} (--init)")
    from dtgkit.models.teachers import sha256_file

    label = (path if path.is_dir() else path.parent).name if ckpt.name == E.CHECKPOINT_NAME else ckpt.stem
    return f"{base}-from-{label}-{sha256_file(ckpt)[:8]}"


def finetune(cfg: Config, init: str | os.PathLike | None = None, *, resume: bool = False,
             overwrite: bool = False, callbacks: dict[str, list[Callable]] | None = None,
             run_dir: str | os.PathLike | None = None,
             allow_changed_init: bool = False) -> RunResult:
    """Fine-tune student + classifier on the labelled training split, then test it.

    Args:
        cfg: the config (``finetune.*`` schedule, ``data.test_clips`` clips per test video).
        init: a pre-training checkpoint (or its folder) whose student weights start the run;
            None: random (or ``model.init``) weights.
        resume, overwrite, callbacks, run_dir, allow_changed_init: as for
            :func:`dtgkit.train.pretrain.pretrain`; the default folder is
            :func:`finetune_run_name` (it names the init), and ``resume`` refuses a folder
            fine-tuned from another init.

    Returns:
        :class:`RunResult`; ``results["test"]`` holds acc1, acc5, mAP, mean_class_acc (percent).
    """
    cfg = _supervised_cfg(cfg)
    D.init_distributed(cfg.run.device, timeout_s=cfg.run.dist_timeout_s)
    if run_dir:
        run_dir = Path(run_dir)
    elif cfg.run.name:
        run_dir = E.run_dir_for(cfg, "finetune")
    else:
        run_dir = Path(cfg.run.out_dir) / finetune_run_name(cfg, init)
    inputs = run_inputs(cfg, init)
    E.check_run_dir(run_dir, cfg, inputs, resume=resume, overwrite=overwrite,
                    allow_changed_init=allow_changed_init)  # also: the same run when resuming
    hit = cached_result(run_dir, cfg.finetune.epochs, resume)
    if hit is not None:
        return hit
    E.seed_everything(cfg.run.seed)
    log_dir = run_dir / E.DATA_LOG
    train_records, test_records, class_names, num_classes = _labelled_splits(cfg)
    model = build_student(cfg, num_classes=num_classes)  # StudentClassifier
    if init:
        load_student_weights(model.student, init, cfg.model.student)
    train_set = TD.train_clip_dataset(cfg, train_records, log_dir=log_dir)
    trainer = E.Trainer(model, _ce_step, train_set, optim=cfg.finetune, run=cfg.run, run_dir=run_dir,
                        num_workers=cfg.data.num_workers, student=model.student, stage="finetune",
                        progress_keys={"cls_acc": "cls_acc"},
                        config=cfg, meta={"num_classes": num_classes, "fc_prefix": "fc",
                                          "class_names": list(class_names or []),
                                          "init": str(init) if init else "", "inputs": inputs})
    _add_callbacks(trainer, callbacks)
    E.start_run_dir(run_dir, cfg, inputs, resume=resume, overwrite=overwrite)
    t0 = time.perf_counter()
    history = trainer.fit(resume=resume)
    seconds = time.perf_counter() - t0
    # every rank tests its share of the videos; rank 0 writes
    test = test_classifier(cfg, model, test_records, trainer.device, class_names, run_dir,
                           log_dir=log_dir)
    trainer.log_row({"kind": "eval", "stage": "finetune", "step": trainer.step,
                     "epoch": trainer.epoch, **{f"test_{k}": v for k, v in test.items()}})
    results = {"stage": "finetune", "init": str(init) if init else "", "student": cfg.model.student,
               "epochs_done": trainer.epoch, "steps": trainer.step,
               "train_seconds_this_session": seconds, "train_videos": len(train_records),
               "test_videos": len(test_records), "num_classes": num_classes,
               **TD.data_report(log_dir), "inputs": inputs, "test": test,
               "checkpoint": str(run_dir / E.CHECKPOINT_NAME), "run_dir": str(run_dir)}
    write_results(run_dir, results)
    D.barrier()
    return RunResult(run_dir, results, history)


# ------------------------------------------------------------------------------ joint
class _NoContrast(nn.Module):
    """``dtg.method: none``: the student alone, zero contrastive loss (plain supervised TSN)."""

    def __init__(self, student: nn.Module) -> None:
        super().__init__()
        self.student = student

    def forward(self, anchor, guidance=None, **_: Any) -> tuple[torch.Tensor, dict]:
        feats = self.student(anchor)  # N x C (captured by SupervisedDTG)
        return feats.new_zeros(()), {}


class SupervisedDTG(nn.Module):
    """Supervised DTG-Net (Eq. 3): a pre-training method plus a classifier on its student.

    ``forward(anchor, guidance, labels, **kw)`` runs the method (its student encodes the anchor
    once), reads that student feature through a forward hook, classifies it
    (``fc(dropout(feats))``) and returns ``alpha * L_contrast + beta * L_CE``.

    Args:
        method: a module from :func:`dtgkit.train.pretrain.build_method` (or the student alone
            for ``method="none"``), with ``.student``.
        num_classes: C.
        dropout: before ``fc`` (TSN).
        alpha, beta: Eq. 3 weights (paper 0.1 and 1.0).
    """

    def __init__(self, method: nn.Module, num_classes: int, dropout: float = 0.5,
                 alpha: float = 0.1, beta: float = 1.0) -> None:
        super().__init__()
        self.method = method
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(method.student.feat_dim, num_classes)
        nn.init.normal_(self.fc.weight, 0.0, 0.01)
        nn.init.zeros_(self.fc.bias)
        self.alpha, self.beta = float(alpha), float(beta)

    def trainable_parameters(self):
        inner = getattr(self.method, "trainable_parameters", None)
        yield from (inner() if inner else self.method.parameters())
        yield from self.fc.parameters()

    def forward(self, anchor, guidance=None, labels=None, **kw) -> tuple[torch.Tensor, dict]:
        captured: list[torch.Tensor] = []
        hook = self.method.student.register_forward_hook(lambda _m, _i, out: captured.append(out))
        try:
            l_con, diag = self.method(anchor, guidance, **kw)
        finally:
            hook.remove()
        feats = captured[0]  # N x D, the anchor's student feature (with gradient)
        logits = self.fc(self.dropout(feats))  # N x C
        l_ce = F.cross_entropy(logits, labels)
        loss = self.alpha * l_con + self.beta * l_ce  # Eq. 3
        diag = {**diag, "loss": loss.detach(), "contrast": l_con.detach(), "ce": l_ce.detach(),
                "cls_acc": (logits.argmax(1) == labels).float().mean().detach()}
        return loss, diag


class _Classifier(nn.Module):
    """Student + dropout + fc as one logits module (for testing a SupervisedDTG)."""

    def __init__(self, student: nn.Module, dropout: nn.Module, fc: nn.Linear) -> None:
        super().__init__()
        self.student, self.dropout, self.fc = student, dropout, fc

    def forward(self, clip):
        return self.fc(self.dropout(self.student(clip)))


class _JointStep(PairStep):
    def __call__(self, model, batch):
        args, kw = self.inputs(batch)
        return model(*args, labels=batch[3], **kw)


def _plain_step(model, batch):
    return model(batch[0], None, labels=batch[1])


def joint(cfg: Config, *, resume: bool = False, overwrite: bool = False,
          callbacks: dict[str, list[Callable]] | None = None,
          run_dir: str | os.PathLike | None = None, allow_changed_init: bool = False) -> RunResult:
    """Supervised DTG-Net (Eq. 3) with the ``finetune.*`` schedule, then the classifier test.

    ``dtg.method`` picks the contrastive term (``dtg``, ``distinit-*``, ``moco``) or none
    (``none``: cross-entropy only, on one augmented clip per video: plain supervised TSN).
    ``resume``, ``overwrite``, ``allow_changed_init``: as for :func:`dtgkit.train.pretrain.pretrain`.
    """
    cfg = _supervised_cfg(cfg)
    D.init_distributed(cfg.run.device, timeout_s=cfg.run.dist_timeout_s)
    run_dir = Path(run_dir) if run_dir else E.run_dir_for(cfg, f"joint-{cfg.dtg.method}")
    inputs = run_inputs(cfg)
    E.check_run_dir(run_dir, cfg, inputs, resume=resume, overwrite=overwrite,
                    allow_changed_init=allow_changed_init)  # also: the same run when resuming
    hit = cached_result(run_dir, cfg.finetune.epochs, resume)
    if hit is not None:
        return hit
    E.seed_everything(cfg.run.seed)
    log_dir = run_dir / E.DATA_LOG
    train_records, test_records, class_names, num_classes = _labelled_splits(cfg)
    student = build_student(cfg)
    plain = cfg.dtg.method == "none"
    if plain:
        method, teachers, source = _NoContrast(student), {}, None
        train_set, step = TD.train_clip_dataset(cfg, train_records, log_dir=log_dir), _plain_step
    else:
        teachers = build_teachers(cfg) if cfg.dtg.method != "moco" else {}
        method = build_method(cfg, student, teachers)
        source = guidance_source(cfg, teachers, train_records)
        train_set = TD.pair_dataset(cfg, train_records, cached_guidance=source is not None,
                                    log_dir=log_dir)
        step = _JointStep(train_records, list(teachers), source)
    model = SupervisedDTG(method, num_classes, cfg.model.dropout, cfg.dtg.alpha, cfg.dtg.beta)
    trainer = E.Trainer(model, step, train_set, optim=cfg.finetune, run=cfg.run, run_dir=run_dir,
                        num_workers=cfg.data.num_workers, student=student, stage="joint", config=cfg,
                        progress_keys={"acc": "inst_acc", "cls_acc": "cls_acc"},
                        meta={"num_classes": num_classes, "fc_prefix": "fc", "method": cfg.dtg.method,
                              "class_names": list(class_names or []), "inputs": inputs})
    _add_callbacks(trainer, callbacks)
    E.start_run_dir(run_dir, cfg, inputs, resume=resume, overwrite=overwrite)
    t0 = time.perf_counter()
    history = trainer.fit(resume=resume)
    seconds = time.perf_counter() - t0
    clf = _Classifier(student, model.dropout, model.fc)
    # every rank tests its share of the videos, with the student's last-layer test features
    # for Figure 4 (t-SNE); rank 0 writes
    test = test_classifier(cfg, clf, test_records, trainer.device, class_names, run_dir,
                           features=student, log_dir=log_dir)
    trainer.log_row({"kind": "eval", "stage": "joint", "step": trainer.step,
                     "epoch": trainer.epoch, **{f"test_{k}": v for k, v in test.items()}})
    results = {"stage": "joint", "method": cfg.dtg.method, "alpha": cfg.dtg.alpha, "beta": cfg.dtg.beta,
               "teachers": list(teachers), "student": cfg.model.student, "epochs_done": trainer.epoch,
               "steps": trainer.step, "train_seconds_this_session": seconds,
               "train_videos": len(train_records), "test_videos": len(test_records),
               "num_classes": num_classes, **TD.data_report(log_dir), "inputs": inputs,
               "test": test, "checkpoint": str(run_dir / E.CHECKPOINT_NAME), "run_dir": str(run_dir)}
    write_results(run_dir, results)
    D.barrier()
    return RunResult(run_dir, results, history)


# ------------------------------------------------------------------------------ evaluate
def evaluate(cfg: Config | None, ckpt: str | os.PathLike, *, linear: bool = True,
             out: str | os.PathLike | None = None, config_file: str | os.PathLike | None = None,
             overrides: list[str] | None = None) -> dict[str, Any]:
    """Evaluate a checkpoint: kNN + linear probe of frozen student features, and the
    classifier's video-level metrics when the checkpoint has one.

    Args:
        cfg: data / device settings (None: the checkpoint's own config). The student
            architecture always comes from the checkpoint.
        ckpt: a ``checkpoint.pt`` or its run folder.
        linear: also fit the linear probe.
        out: folder for ``evaluation.json`` and ``features_test.npz`` (default: the checkpoint's).
        config_file, overrides: a YAML file and ``section.key=value`` items laid over ``cfg``
            (or over the checkpoint's own config), as ``dtgkit evaluate --config / --set`` do.

    Returns:
        ``{"knn": ..., "linear_probe": ..., "classifier": ... or None, "features": path,
        "skipped_videos": ..., "short_videos": ...}``.
    """
    path = Path(ckpt)
    ck = E.load_checkpoint(path)
    saved = config_from_dict(ck["config"], where=f"{path} (its config)") if ck.get("config") else None
    if cfg is None:
        if saved is None:
            raise ValueError(f"{path}: the checkpoint holds no config; pass one")
        cfg = saved
    cfg = resolve_config(None, config_file, overrides, base=cfg)
    if saved is not None:
        cfg.model = saved.model
    out_dir = Path(out) if out else (path if path.is_dir() else path.parent)
    check_writable_dir(out_dir)
    log_dir = out_dir / "evaluation_data_log"  # this evaluation's skipped / short videos
    shutil.rmtree(log_dir, ignore_errors=True)
    device = D.select_device(cfg.run.device)
    meta = ck.get("meta") or {}
    num_classes = meta.get("num_classes")
    student = build_student(cfg)
    student.load_state_dict(E.student_state_dict(ck))
    student.to(device)

    train_records, class_names = TD.load_split(cfg.data, "train")
    test_records, _ = TD.load_split(cfg.data, "test")
    frozen = frozen_evaluation(cfg, student, device=device, train=train_records, test=test_records,
                               batch_size=max(1, cfg.finetune.batch_size),
                               test_clips=cfg.data.test_clips, linear=linear,
                               num_classes=TD.num_classes_of(train_records, class_names),
                               log_dir=log_dir)
    feats_path = save_features(out_dir / "features_test.npz", *frozen["test_features"], class_names or None)
    res: dict[str, Any] = {"checkpoint": str(path), "stage": ck.get("stage"), "epoch": ck.get("epoch"),
                           "knn": frozen["knn"], "linear_probe": frozen["linear_probe"],
                           "classifier": None, "features": feats_path}
    prefix = meta.get("fc_prefix")
    if prefix and num_classes:
        fc = nn.Linear(student.feat_dim, int(num_classes))
        fc.load_state_dict({k[len(prefix) + 1:]: v for k, v in ck["model"].items()
                            if k.startswith(prefix + ".")})
        clf = _Classifier(student, nn.Identity(), fc).to(device)
        res["classifier"] = test_classifier(cfg, clf, test_records, device, class_names,
                                            log_dir=log_dir)
    res.update(TD.data_report(log_dir))
    res["data"] = {k: getattr(cfg.data, k) for k in ("dataset", "root", "num_segments", "size",
                                                      "test_clips")}
    write_text_atomic(out_dir / "evaluation.json", json.dumps(res, indent=1, default=str) + "\n")
    return res

"""A generic, quiet training loop: a step function, callbacks, checkpoints, metrics.

In the manner of minGPT's ``trainer.py``: the :class:`Trainer` knows nothing about DTG. It is
given a model, a *step function* ``step_fn(model, batch) -> (loss, diag)`` and a training set,
and it

* seeds the data order per epoch: a ``DistributedSampler`` (also with one process) seeded by
  ``(run.seed, epoch)``, plus ``dataset.set_epoch(epoch)`` (the datasets derive every random draw
  from ``(seed, epoch, index)``), so a resumed run sees exactly the batches it would have seen;
* optimises with SGD + MultiStepLR (or a cosine decay, ``schedule``) stepped per epoch
  (Sec. 4.2; :class:`~dtgkit.config.OptimConfig`);
* on CUDA uses autocast (bf16 where the GPU computes it natively, else fp16 with a
  GradScaler; :func:`autocast_dtype`), channels-last weights (``channels_last`` for 2D convs,
  ``channels_last_3d`` for 3D ones; :func:`to_channels_last`), pinned memory and non-blocking
  copies, and never waits for the GPU between log steps: the loss and the diagnostics stay on the
  device and are copied to the host once every ``run.log_every`` steps (one transfer);
* ``run.deterministic`` turns cuDNN's kernel benchmarking off (it is on by default on CUDA and
  makes a resumed GPU run differ from an uninterrupted one in the last bits);
  ``run.sync_bn`` converts BatchNorm to SyncBatchNorm under DDP on CUDA;
* shows one tqdm bar per epoch (``run.progress``; ``tqdm.auto`` picks the notebook widget) with
  loss, instance accuracy and clips/s;
* appends a JSON line to ``run_dir/metrics.jsonl`` every ``run.log_every`` steps (means over the
  steps since the last line of: loss and every scalar of ``diag``, plus step, epoch, lr, clips/s)
  and keeps the same dicts in :attr:`Trainer.history` for notebooks;
* writes ``run_dir/checkpoint.pt`` atomically after every epoch (model state - teachers only by
  reference -, optimizer, scheduler, grad scaler, RNG states, epoch and sampler position) and
  continues from it exactly with ``fit(resume=True)``;
* stops on a NaN / inf loss with :class:`NonFiniteLossError` naming the first bad step and its
  non-finite terms; the check runs at every log step and before every checkpoint, so the last
  checkpoint (of the last finished epoch) stays as it was.

Callbacks (``trainer.add_callback(event, fn)``, ``fn(trainer)``): ``on_train_start``,
``on_epoch_start``, ``on_batch_end``, ``on_log``, ``on_epoch_end`` (after the checkpoint),
``on_train_end``. ``trainer.last_diag`` holds the latest step's diag.
"""
from __future__ import annotations

import json
import math
import os
import random
import shutil
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from dtgkit.config import Config, OptimConfig, RunConfig, config_differences
from dtgkit.files import OutputError, check_writable_dir, write_atomic, write_text_atomic
from dtgkit.train import distributed as D

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_NAME",
    "NonFiniteLossError",
    "StepFn",
    "Trainer",
    "autocast_dtype",
    "build_optimizer",
    "build_scheduler",
    "check_run_dir",
    "check_same_run",
    "effective_lr",
    "epoch_seed",
    "load_checkpoint",
    "prepare_run_dir",
    "read_metrics",
    "rng_state",
    "run_dir_for",
    "save_atomic",
    "saved_config",
    "say",
    "seed_everything",
    "set_rng_state",
    "start_run_dir",
    "student_state_dict",
    "to_channels_last",
]

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = "dtgkit-checkpoint/1"
#: the files of a run folder that hold finished work (never removed without --overwrite)
FINISHED_WORK = (CHECKPOINT_NAME, "results.json")
#: the files (sha256) a run was made from: its init checkpoint, teacher weights ...
INPUTS_NAME = "inputs.json"
#: sub-folder of a run where its datasets log skipped and short videos (every process)
DATA_LOG = "data_log"

#: ``step_fn(model, batch) -> (loss, diag)``: ``batch`` already on the device; ``diag`` maps
#: names to scalars / 0-d tensors (per-teacher values as ``"loss/<teacher>"``, ...).
StepFn = Callable[[nn.Module, Any], "tuple[torch.Tensor, dict[str, Any]]"]


@dataclass
class _StepRecord:
    """One optimizer step waiting for the next log line (values still on the device)."""

    step: int
    epoch: int
    batch: int
    clips: int
    layout: tuple  #: (key, is_scalar, size) per diagnostic; is_scalar None: a host value
    values: torch.Tensor  #: the loss, then the device diagnostics, concatenated
    host: dict[str, Any]


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN / inf; the message names the step and the non-finite terms."""


# ----------------------------------------------------------------------------- seeding
def epoch_seed(seed: int, epoch: int) -> int:
    """A 63-bit seed for epoch ``epoch`` of a run seeded ``seed`` (distinct pairs, distinct seeds)."""
    return int(np.random.SeedSequence([int(seed), int(epoch)]).generate_state(1, np.uint64)[0] >> 1)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA) global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """The global RNG states (python, numpy, torch CPU, CUDA) in a ``weights_only``-safe form."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        try:
            torch.cuda.set_rng_state_all(state["cuda"])
        except RuntimeError:  # a different number of GPUs: keep the current CUDA states
            pass


# ------------------------------------------------------------------------ device set-up
def autocast_dtype(device: torch.device | str, enabled: bool = True) -> torch.dtype | None:
    """The mixed-precision dtype of a run on ``device`` (``None``: no autocast).

    bf16 where the GPU computes it natively (compute capability 8.0+, Ampere and later), else
    fp16, which needs a GradScaler. ``torch.cuda.is_bf16_supported()`` alone answers True on
    older cards too (through emulation), which would pick a slow bf16 and never the fp16 path.
    Off CUDA (CPU, MPS) or when ``enabled`` is False: ``None``.
    """
    device = torch.device(device)
    if not enabled or device.type != "cuda":
        return None
    try:
        native = torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # torch < 2.4 has no including_emulation
        native = torch.cuda.get_device_capability(device)[0] >= 8
    return torch.bfloat16 if native else torch.float16


def _channels_last(t: torch.Tensor) -> torch.Tensor:
    if t.dim() == 4:
        return t.contiguous(memory_format=torch.channels_last)
    if t.dim() == 5:
        return t.contiguous(memory_format=torch.channels_last_3d)
    return t


def to_channels_last(module: nn.Module) -> nn.Module:
    """Channels-last layout for every 4-D (``channels_last``) and 5-D (``channels_last_3d``)
    weight and buffer of ``module``, in place; returns ``module``.

    ``module.to(memory_format=torch.channels_last)`` raises on the 5-D weights of 3D students
    ("required rank 4 tensor to use channels_last format"); this converts tensor by tensor.
    Frozen teachers (whose networks live outside the module tree) are converted too, through
    ``nn.Module._apply`` as ``.to()`` itself does. The students give their convolutions inputs in
    the matching layout (:class:`~dtgkit.models.students.TSNStudent`, ``Video3DStudent``).
    """
    return module._apply(_channels_last)


# ------------------------------------------------------------------------- optimisation
def effective_lr(optim: OptimConfig) -> float:
    """``optim.lr``, times ``batch_size / 256`` when ``optim.lr_scale_batch`` (linear scaling)."""
    return optim.lr * optim.batch_size / 256.0 if optim.lr_scale_batch else optim.lr


def build_optimizer(params: Iterable[nn.Parameter], optim: OptimConfig) -> torch.optim.SGD:
    """SGD with momentum and weight decay (paper Sec. 4.2: lr 0.1, momentum 0.9, wd 5e-4)."""
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError("nothing to train: the model has no parameter with requires_grad=True")
    return torch.optim.SGD(params, lr=effective_lr(optim), momentum=optim.momentum,
                           weight_decay=optim.weight_decay)


def build_scheduler(optimizer: torch.optim.Optimizer, optim: OptimConfig):
    """The per-epoch lr schedule of ``optim.schedule``: ``step`` = MultiStepLR, lr x ``gamma``
    at each of ``milestones`` (Sec. 4.2); ``cosine`` = CosineAnnealingLR over ``epochs + 1``,
    so epoch e (0-based) runs at lr (1 + cos(pi e / (E + 1))) / 2: the last epoch at a small
    lr, never exactly 0."""
    if optim.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=optim.epochs + 1)
    return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(optim.milestones),
                                                gamma=optim.gamma)


# -------------------------------------------------------------------------- checkpoints
def save_atomic(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to ``path.tmp``, fsync, then ``os.replace``: a reader never sees half a
    file; if the write fails (disk full ...) the temporary file is removed and
    :class:`~dtgkit.files.OutputError` names the path."""
    write_atomic(path, lambda fh: torch.save(obj, fh))


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load a dtgkit checkpoint (``weights_only``: no code is unpickled).

    Args:
        path: a ``checkpoint.pt`` or the run directory holding one.

    Raises:
        FileNotFoundError / ValueError naming the file (a truncated or foreign file is "not a
        dtgkit checkpoint"; it is never loaded with ``weights_only=False``).
    """
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # truncated / foreign files; torch's text would suggest unsafe loading
        raise ValueError(f"{path} is not a dtgkit checkpoint (truncated or corrupt: "
                         f"{type(err).__name__} while reading it)") from err
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a dtgkit checkpoint (no format {CHECKPOINT_FORMAT!r})")
    return ckpt


def student_state_dict(ckpt: dict) -> dict[str, torch.Tensor]:
    """The student's own weights inside a checkpoint's model state (keys without prefix)."""
    prefix = ckpt.get("student_prefix")
    state = ckpt["model"]
    if prefix is None:
        raise ValueError("checkpoint has no student (student_prefix missing)")
    if prefix == "":
        return dict(state)
    p = prefix + "."
    return {k[len(p):]: v for k, v in state.items() if k.startswith(p)}


def _module_prefix(root: nn.Module, target: nn.Module | None) -> str | None:
    if target is None:
        return None
    for name, mod in root.named_modules():
        if mod is target:
            return name
    return None


# ------------------------------------------------------------------------------ metrics
def read_metrics(run_dir: str | os.PathLike, kind: str | None = None) -> list[dict]:
    """The lines of ``run_dir/metrics.jsonl`` as dicts (optionally only ``kind``: train / epoch /
    eval); ``[]`` when there is no such file.

    Raises:
        ValueError: a line is not JSON (the message names the file and line).
    """
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{n}: not a JSON line ({err.msg})") from None
        if kind is None or row.get("kind") == kind:
            out.append(row)
    return out


def _scalar(v: Any) -> float | list[float] | None:
    if isinstance(v, torch.Tensor):
        v = v.detach()
        if v.numel() == 1:
            return float(v.float().item())
        if v.dim() == 1:
            return [float(x) for x in v.float().cpu()]
        return None
    if isinstance(v, (bool, np.bool_)):
        return float(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    if isinstance(v, (list, tuple)) and v and all(isinstance(x, (int, float)) for x in v):
        return [float(x) for x in v]
    return None


# ------------------------------------------------------------------------------ run dirs
def run_dir_for(cfg: Config, stage: str) -> Path:
    """``run.out_dir / (run.name or "<preset>-<stage>")``."""
    name = cfg.run.name or f"{cfg.preset or 'run'}-{stage}"
    return Path(cfg.run.out_dir) / name


def say(msg: str) -> None:
    """A progress / status line for people: on stderr (stdout carries a command's result),
    from rank 0 only."""
    if D.is_main_process():
        print(msg, file=sys.stderr, flush=True)


def _load_yaml(path: Path) -> dict | None:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) else None


def saved_config(run_dir: str | os.PathLike) -> dict | None:
    """The config a run folder was made with: its ``config.yaml`` (else its checkpoint's)."""
    run_dir = Path(run_dir)
    if (run_dir / "config.yaml").is_file():
        return _load_yaml(run_dir / "config.yaml")
    if (run_dir / CHECKPOINT_NAME).is_file():
        return load_checkpoint(run_dir).get("config")
    return None


def check_same_run(run_dir: str | os.PathLike, cfg: Config, inputs: dict[str, dict] | None = None,
                   *, allow_changed_init: bool = False) -> None:
    """Refuse to continue (or re-use) a run folder with another config or other input files.

    Args:
        run_dir: a run folder holding finished work.
        cfg: the config of the command now.
        inputs: name -> ``{"path", "sha256"}`` of the files the run is made from now (see
            :func:`dtgkit.train.pretrain.run_inputs`), compared with the folder's ``inputs.json``.
        allow_changed_init: accept input files whose sha256 changed.

    Raises:
        ValueError: naming every setting that differs (saved -> now) and every changed file.
    """
    run_dir = Path(run_dir)
    saved = saved_config(run_dir)
    if saved is not None:
        diffs = config_differences(saved, cfg.to_dict())
        if diffs:
            raise ValueError(
                f"{run_dir} was made with another config ({'; '.join(diffs)}); --resume continues "
                f"a run as it was made: drop those changes (its config is {run_dir / 'config.yaml'}), "
                f"or start a new run (another --run-dir / run.name, or --overwrite, which moves this "
                f"one aside)")
    old = None
    if (run_dir / INPUTS_NAME).is_file():
        try:
            old = json.loads((run_dir / INPUTS_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = None
    if old is None or inputs is None:
        return
    changed = []
    for name in sorted(set(old) | set(inputs)):
        a, b = old.get(name) or {}, inputs.get(name) or {}
        if a.get("sha256") != b.get("sha256"):
            was = f"{a.get('path')} (sha256 {str(a.get('sha256'))[:12]})" if a else "nothing"
            now = f"{b.get('path')} (sha256 {str(b.get('sha256'))[:12]})" if b else "nothing"
            changed.append(f"{name}: made from {was}, now {now}")
    if changed and not allow_changed_init:
        raise ValueError(
            f"{run_dir} was made from other files ({'; '.join(changed)}); pass --allow-changed-init "
            f"to continue it anyway, or start a new run (another --run-dir, or --overwrite)")


def check_run_dir(run_dir: str | os.PathLike, cfg: Config | None = None,
                  inputs: dict[str, dict] | None = None, *, resume: bool, overwrite: bool = False,
                  allow_changed_init: bool = False) -> Path:
    """Before any work: may this run start (or continue) in ``run_dir``? Deletes nothing.

    Checks that the folder can be written, that finished work is not trained over without
    ``resume`` or ``overwrite``, and (``resume``) that the folder's run is this one
    (:func:`check_same_run`).

    Raises:
        ValueError / :class:`~dtgkit.files.OutputError`: naming the folder and the way out.
    """
    run_dir = Path(run_dir)

    def check() -> None:
        finished = [n for n in FINISHED_WORK if (run_dir / n).exists()]
        if resume and overwrite:
            raise ValueError("--resume and --overwrite contradict each other: choose one")
        if finished and not resume and not overwrite:
            raise ValueError(f"{run_dir} already holds a finished run ({', '.join(finished)}); "
                             f"pass --resume to continue it, --overwrite to start afresh (the "
                             f"old folder is moved aside, not deleted), or choose another "
                             f"--run-dir / run.name")
        check_writable_dir(run_dir)
        if resume and finished and cfg is not None:
            check_same_run(run_dir, cfg, inputs, allow_changed_init=allow_changed_init)

    _on_main_process(check)
    return run_dir


def _on_main_process(fn: Callable[[], object]) -> None:
    """Run ``fn`` on rank 0; its ValueError / OSError is raised on every rank (none waits at a
    barrier forever), then the ranks meet."""
    error = None
    if D.is_main_process():
        try:
            fn()
        except (ValueError, OSError) as err:
            error = (str(err), isinstance(err, OSError))
    error = D.broadcast_object(error)
    if error:
        raise (OSError if error[1] else ValueError)(error[0])
    D.barrier()


def _aside_name(run_dir: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target, i = run_dir.with_name(f"{run_dir.name}.old-{stamp}"), 2
    while target.exists():
        target, i = run_dir.with_name(f"{run_dir.name}.old-{stamp}-{i}"), i + 1
    return target


def start_run_dir(run_dir: str | os.PathLike, cfg: Config | None,
                  inputs: dict[str, dict] | None = None, *, resume: bool,
                  overwrite: bool = False) -> Path:
    """After every check passed (config, data, models): make ``run_dir`` ready to train in.

    * ``overwrite`` with finished work in the folder: the folder is renamed to
      ``<run_dir>.old-<time>`` (nothing is deleted) and an empty one takes its place.
    * ``resume`` without a checkpoint: says "no checkpoint in DIR, starting fresh".
    * a fresh start drops what a run that never finished an epoch left (metrics, data logs).
    * writes ``config.yaml`` (``config.resumed.yaml`` when resuming) and ``inputs.json``.
    """
    run_dir = Path(run_dir)

    def start() -> None:
        ckpt = run_dir / CHECKPOINT_NAME
        continuing = resume and ckpt.exists()
        if overwrite and any((run_dir / n).exists() for n in FINISHED_WORK):
            aside = _aside_name(run_dir)
            run_dir.rename(aside)
            say(f"--overwrite: moved the previous run in {run_dir} to {aside} (delete it once you "
                f"no longer need it)")
        elif resume and not ckpt.exists():
            say(f"no checkpoint in {run_dir}, starting fresh")
        if not continuing:
            for name in ("metrics.jsonl", "results.json", INPUTS_NAME, "config.resumed.yaml"):
                (run_dir / name).unlink(missing_ok=True)
            shutil.rmtree(run_dir / DATA_LOG, ignore_errors=True)
        check_writable_dir(run_dir)
        if cfg is not None:
            cfg.save(run_dir / ("config.resumed.yaml" if continuing else "config.yaml"))
        if inputs is not None and not continuing:
            write_text_atomic(run_dir / INPUTS_NAME, json.dumps(inputs, indent=1) + "\n")

    _on_main_process(start)
    return run_dir


def prepare_run_dir(run_dir: str | os.PathLike, cfg: Config | None, *, resume: bool,
                    overwrite: bool = False) -> Path:
    """:func:`check_run_dir` then :func:`start_run_dir` in one call (for loops that have
    nothing to check in between).

    Raises:
        ValueError: the folder already holds finished work and neither ``resume`` nor
            ``overwrite`` was asked for (never silently train over finished work).
    """
    check_run_dir(run_dir, cfg, resume=resume, overwrite=overwrite)
    return start_run_dir(run_dir, cfg, resume=resume, overwrite=overwrite)


# ------------------------------------------------------------------------------ trainer
class Trainer:
    """The loop. See the module docstring.

    Args:
        model: everything trained and checkpointed (e.g. a DTG method module holding the
            student, heads and queues; teachers inside store only references).
        step_fn: ``step_fn(model, batch) -> (loss, diag)``; ``model`` may be DDP-wrapped.
        train_set: a map-style dataset; ``set_epoch(epoch)`` is called when it has one.
        optim: batch size (global, over all processes), epochs, SGD / schedule settings.
        run: device, amp, channels_last, progress, log_every, seed, num workers (below).
        run_dir: folder for ``checkpoint.pt`` and ``metrics.jsonl`` (made by :func:`prepare_run_dir`).
        num_workers: DataLoader workers (``data.num_workers``).
        student: the sub-module whose weights fine-tuning re-uses (its prefix is stored).
        stage: a name stored in checkpoints and metrics (``pretrain``, ``finetune``, ``joint``).
        meta: extra, ``weights_only``-safe things to store in the checkpoint (e.g. class names).
        config: the resolved :class:`~dtgkit.config.Config`, stored in the checkpoint.
        collate_fn: DataLoader collate function.
        find_unused_parameters: passed to DDP.
        progress_keys: logged diagnostic -> name shown beside loss and clips/s in the progress
            bar (e.g. ``{"acc": "inst_acc"}``); the loop knows no method's keys itself.
    """

    EVENTS = ("on_train_start", "on_epoch_start", "on_batch_end", "on_log", "on_epoch_end",
              "on_train_end")

    def __init__(self, model: nn.Module, step_fn: StepFn, train_set: Dataset, *,
                 optim: OptimConfig, run: RunConfig, run_dir: str | os.PathLike,
                 num_workers: int = 0, student: nn.Module | None = None, stage: str = "train",
                 meta: dict[str, Any] | None = None, config: Config | None = None,
                 collate_fn: Callable | None = None, find_unused_parameters: bool = False,
                 progress_keys: dict[str, str] | None = None) -> None:
        self.optim_cfg, self.run_cfg = optim, run
        self.progress_keys = dict(progress_keys or {})
        self.run_dir = Path(run_dir)
        self.stage, self.meta, self.config = stage, dict(meta or {}), config
        self.step_fn, self.train_set = step_fn, train_set
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = D.select_device(run.device, local_rank)
        self.dist = D.DistInfo(D.get_rank(), D.get_world_size(), local_rank,
                               D.dist.get_backend() if D.is_distributed() else "", self.device)
        self.is_main = self.dist.rank == 0
        if self.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        cuda = self.device.type == "cuda"
        # collectives: nccl needs CUDA tensors, gloo takes CPU ones
        self._coll_device = self.device if self.dist.backend == "nccl" else torch.device("cpu")

        if cuda:
            # fixed input sizes: cuDNN benchmarking picks the fastest kernels, but its choice
            # may differ between processes, so a resumed run is not bit-exact (run.deterministic)
            torch.backends.cudnn.benchmark = not run.deterministic
            torch.backends.cudnn.deterministic = bool(run.deterministic)
        self.model = model.to(self.device)
        if cuda and run.channels_last:
            self.model = to_channels_last(self.model)
        self.student_prefix = _module_prefix(self.model, student)
        self.net = D.wrap_ddp(self.model, self.device, find_unused_parameters=find_unused_parameters,
                              convert_sync_batchnorm=run.sync_bn)
        if self.net is not self.model and run.sync_bn and cuda:
            self.model = self.net.module  # SyncBatchNorm copies: the wrapped module is the model

        params = (self.model.trainable_parameters() if hasattr(self.model, "trainable_parameters")
                  else self.model.parameters())
        self.optimizer = build_optimizer(params, optim)
        self.scheduler = build_scheduler(self.optimizer, optim)
        self.amp_dtype = autocast_dtype(self.device, run.amp)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)

        world = self.dist.world_size
        if optim.batch_size % world:
            raise ValueError(f"batch_size {optim.batch_size} is not divisible by the {world} processes")
        self.local_batch = optim.batch_size // world
        self.sampler = DistributedSampler(train_set, num_replicas=world, rank=self.dist.rank,
                                          shuffle=True, seed=run.seed, drop_last=True)
        self._loader_gen = torch.Generator()
        self.loader = DataLoader(
            train_set, batch_size=self.local_batch, sampler=self.sampler, drop_last=True,
            num_workers=num_workers, pin_memory=cuda, collate_fn=collate_fn,
            persistent_workers=num_workers > 0, generator=self._loader_gen,
        )
        if len(self.loader) == 0:
            raise ValueError(f"the training set has {len(train_set)} samples, fewer than one batch "
                             f"of {optim.batch_size}: lower {stage}.batch_size")

        self.epoch = 0  # epochs finished
        self.step = 0  # optimizer steps done
        self.history: list[dict] = []
        self.last_diag: dict[str, Any] = {}
        self.callbacks: dict[str, list[Callable]] = defaultdict(list)
        self._window: list[_StepRecord] = []  # the steps since the last log line
        self._epoch_losses: list[float] = []

    # ------------------------------------------------------------------ callbacks
    def add_callback(self, event: str, fn: Callable[[Trainer], None]) -> None:
        if event not in self.EVENTS:
            raise ValueError(f"unknown event {event!r}; events: {', '.join(self.EVENTS)}")
        self.callbacks[event].append(fn)

    def trigger(self, event: str) -> None:
        for fn in self.callbacks.get(event, []):
            fn(self)

    # ---------------------------------------------------------------- properties
    @property
    def steps_per_epoch(self) -> int:
        n = len(self.loader)
        cap = self.optim_cfg.max_steps_per_epoch
        return min(n, cap) if cap > 0 else n

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / CHECKPOINT_NAME

    # ---------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs (``weights_only``-safe)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "stage": self.stage,
            "epoch": self.epoch,
            "step": self.step,
            "model": self.model.state_dict(),
            "student_prefix": self.student_prefix,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng_state(),
            "sampler": {"epoch": self.epoch, "position": 0, "seed": self.run_cfg.seed,
                        "world_size": self.dist.world_size},
            "config": self.config.to_dict() if self.config is not None else None,
            "meta": self.meta,
        }

    def save_checkpoint(self) -> None:
        """Rank 0 writes ``checkpoint.pt`` atomically; the others wait."""
        if self.is_main:
            save_atomic(self.state_dict(), self.checkpoint_path)
        D.barrier()

    def load_state_dict(self, ckpt: dict[str, Any]) -> None:
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        # a checkpoint saved without a live scaler (AMP off, bf16, CPU) stores {}: keep this
        # run's fresh scaler; a scaler state loaded into a disabled scaler is ignored by torch
        if ckpt.get("scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(ckpt["scaler"])
        self.epoch, self.step = int(ckpt["epoch"]), int(ckpt["step"])
        set_rng_state(ckpt["rng"])

    def _resume(self) -> bool:
        if not self.checkpoint_path.exists():
            return False
        # CPU: RNG states must stay CPU tensors; load_state_dict copies weights to the device
        ckpt = load_checkpoint(self.checkpoint_path, map_location="cpu")
        if ckpt.get("stage") not in (None, self.stage):
            raise ValueError(f"{self.checkpoint_path} is a {ckpt.get('stage')!r} checkpoint, "
                             f"not {self.stage!r}")
        self.load_state_dict(ckpt)
        # metrics written after that checkpoint (by the interrupted run) are dropped
        kept = [r for r in read_metrics(self.run_dir) if r.get("step", 0) <= self.step
                and r.get("epoch", 0) <= self.epoch]
        self.history = [r for r in kept if r.get("kind") == "train"]
        if self.is_main:
            self._rewrite_metrics(kept)
            self._say(f"resumed from {self.checkpoint_path} (epoch {self.epoch}, step {self.step})")
        return True

    # -------------------------------------------------------------------- logging
    def _say(self, msg: str) -> None:
        if self.is_main and self.run_cfg.progress:
            from tqdm.auto import tqdm

            tqdm.write(msg, file=sys.stderr)  # stdout carries the command's result

    def _rewrite_metrics(self, rows: list[dict]) -> None:
        write_text_atomic(self.run_dir / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in rows))

    def log_row(self, row: dict[str, Any]) -> None:
        """Append one JSON line to ``metrics.jsonl`` (rank 0)."""
        if self.is_main:
            path = self.run_dir / "metrics.jsonl"
            try:
                with open(path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(row) + "\n")
            except OSError as err:
                raise OutputError(path, err) from err

    def _accumulate(self, loss: torch.Tensor, diag: dict[str, Any], clips: int, epoch: int,
                    i: int) -> None:
        """Keep this step's loss and scalar diagnostics without waiting for the device: the
        device tensors are concatenated into one vector, copied to the host at the next log step."""
        layout, parts, host = [], [loss.detach().float().reshape(1)], {}
        for key, val in diag.items():
            if key == "loss":
                continue
            if isinstance(val, torch.Tensor) and val.device.type != "cpu" and \
                    (val.numel() == 1 or val.dim() == 1):
                layout.append((key, val.numel() == 1, val.numel()))
                parts.append(val.detach().float().reshape(-1))
            else:
                v = _scalar(val)
                if v is not None:
                    layout.append((key, None, 0))
                    host[key] = v
        self._window.append(_StepRecord(self.step, epoch, i, clips, tuple(layout),
                                        torch.cat(parts), host))

    def _drain(self) -> list[tuple[float, dict[str, Any]]]:
        """The window's steps as (loss, {diag key: float | list}) on the host: one transfer."""
        if not self._window:
            return []
        flat = torch.cat([r.values for r in self._window]).cpu().tolist()
        out, pos = [], 0
        for r in self._window:
            loss, pos = flat[pos], pos + 1
            diag: dict[str, Any] = {}
            for key, is_scalar, n in r.layout:
                if is_scalar is None:
                    diag[key] = r.host[key]
                else:
                    diag[key] = flat[pos] if is_scalar else flat[pos:pos + n]
                    pos += n
            out.append((loss, diag))
        return out

    def _flush(self, epoch: int, elapsed: float) -> dict[str, Any]:
        """One metrics row from the steps since the last one; stops on a non-finite loss."""
        steps = self._drain()
        records, self._window = self._window, []
        first_bad = next((j for j, (loss, _) in enumerate(steps) if not math.isfinite(loss)), None)
        keys: list[str] = ["loss"]
        for _, diag in steps:
            keys += [k for k in diag if k not in keys]
        columns = {k: [d[k] for loss, d in steps if k in d] if k != "loss" else
                   [loss for loss, _ in steps] for k in keys}
        # one all-reduce for every scalar (and the stop flag) so the logged loss is the
        # global-batch mean and every rank stops together, or the others hang in backward
        with warnings.catch_warnings():  # an all-NaN window (e.g. no valid negatives yet) -> None
            warnings.simplefilter("ignore", RuntimeWarning)
            vals = [np.nanmean(np.asarray(columns[k], dtype=np.float64), axis=0) for k in keys]
        sizes = [np.size(v) for v in vals]
        flat = torch.tensor(np.concatenate([np.ravel(v) for v in vals] + [[float(first_bad is not None)]]),
                            dtype=torch.float64)
        if self.dist.enabled:
            flat = D.all_reduce_mean(flat.to(self._coll_device)).cpu()
        if flat[-1].item() > 0:
            self._stop_non_finite(steps, records, first_bad)
        self._epoch_losses += [loss for loss, _ in steps]
        row: dict[str, Any] = {"kind": "train", "stage": self.stage, "step": self.step,
                               "epoch": epoch + 1, "lr": self.lr}
        i = 0
        for k, v, n in zip(keys, vals, sizes):
            chunk = [x if math.isfinite(x) else None for x in flat[i:i + n].tolist()]
            row[k] = chunk[0] if np.ndim(v) == 0 else chunk
            i += n
        clips = sum(r.clips for r in records) * self.dist.world_size
        row["clips_per_s"] = clips / max(elapsed, 1e-9)
        self.history.append(row)
        self.log_row(row)
        return row

    def _stop_non_finite(self, steps: list, records: list[_StepRecord], first_bad: int | None) -> None:
        if first_bad is None:  # another rank saw it
            r = records[-1]
            msg = (f"non-finite loss on another process by step {r.step} (epoch {r.epoch + 1}) of "
                   f"{self.stage}")
        else:
            r, (value, diag) = records[first_bad], steps[first_bad]
            broken = [f"{k}={v}" for k, v in diag.items()
                      if not np.all(np.isfinite(np.asarray(v, dtype=np.float64)))]
            msg = (f"non-finite loss ({value}) at step {r.step} (epoch {r.epoch + 1}, batch "
                   f"{r.batch + 1}) of {self.stage}; non-finite terms: "
                   f"{', '.join(broken) or 'only the total'}")
        msg += (f". The last good checkpoint ({self.checkpoint_path}, epoch {self.epoch}) is kept; "
                f"lower the lr or check the inputs.")
        self.log_row({"kind": "error", "stage": self.stage, "step": r.step, "epoch": r.epoch + 1,
                      "message": msg})
        raise NonFiniteLossError(msg)

    # -------------------------------------------------------------------- the loop
    def _to_device(self, batch: Any) -> Any:
        if isinstance(batch, torch.Tensor):
            return batch.to(self.device, non_blocking=True)
        if isinstance(batch, (list, tuple)):
            return type(batch)(self._to_device(b) for b in batch)
        if isinstance(batch, dict):
            return {k: self._to_device(v) for k, v in batch.items()}
        return batch

    def _train_step(self, batch: Any) -> tuple[torch.Tensor, dict[str, Any]]:
        batch = self._to_device(batch)
        autocast = (torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)
                    if self.amp_dtype is not None else nullcontext())
        with autocast:
            loss, diag = self.step_fn(self.net, batch)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.step += 1
        return loss, diag

    def fit(self, resume: bool = False) -> list[dict]:
        """Train for ``optim.epochs`` epochs (continuing from ``checkpoint.pt`` when ``resume``).

        Returns:
            :attr:`history`: the metrics rows (``kind == "train"``) of the whole run.
        """
        from tqdm.auto import tqdm

        if resume:
            self._resume()
        self.model.train()
        self.trigger("on_train_start")
        epochs = self.optim_cfg.epochs
        for epoch in range(self.epoch, epochs):
            self.sampler.set_epoch(epoch)  # data order from (seed, epoch)
            self._loader_gen.manual_seed(epoch_seed(self.run_cfg.seed, epoch))  # worker seeds
            if hasattr(self.train_set, "set_epoch"):
                self.train_set.set_epoch(epoch)
            self.model.train()
            self.trigger("on_epoch_start")
            total = self.steps_per_epoch
            bar = tqdm(total=total, desc=f"{self.stage} {epoch + 1}/{epochs}", leave=False,
                       disable=not (self.run_cfg.progress and self.is_main), dynamic_ncols=True)
            t0, epoch_t0, clips_epoch = time.perf_counter(), time.perf_counter(), 0
            self._epoch_losses = []
            for i, batch in enumerate(self.loader):
                if i >= total:
                    break
                loss, diag = self._train_step(batch)
                clips = int(batch[0].shape[0]) if isinstance(batch, (list, tuple)) else self.local_batch
                clips_epoch += clips
                self.last_diag = diag
                self._accumulate(loss, diag, clips, epoch, i)
                bar.update(1)
                if self.step % max(1, self.run_cfg.log_every) == 0 or i == total - 1:
                    row = self._flush(epoch, time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    post = {"loss": f"{row['loss']:.4f}" if row["loss"] is not None else "nan",
                            "clips/s": f"{row['clips_per_s']:.1f}"}
                    for key, shown in self.progress_keys.items():
                        if isinstance(row.get(key), float):
                            post[shown] = f"{row[key]:.3f}"
                    bar.set_postfix(post, refresh=False)
                    self.trigger("on_log")
                self.trigger("on_batch_end")
            bar.close()
            if self._window:  # steps not logged yet (an interrupted epoch's tail): check them
                self._flush(epoch, time.perf_counter() - t0)
            epoch_losses = self._epoch_losses
            self.scheduler.step()
            self.epoch = epoch + 1
            self.save_checkpoint()
            seconds = time.perf_counter() - epoch_t0
            self.log_row({"kind": "epoch", "stage": self.stage, "step": self.step, "epoch": self.epoch,
                          "loss": float(np.mean(epoch_losses)), "seconds": seconds,
                          "clips_per_s": clips_epoch * self.dist.world_size / max(seconds, 1e-9)})
            self._say(f"{self.stage} epoch {self.epoch}/{epochs}: loss {np.mean(epoch_losses):.4f} "
                      f"({seconds:.1f} s)")
            self.trigger("on_epoch_end")
        self.trigger("on_train_end")
        return self.history

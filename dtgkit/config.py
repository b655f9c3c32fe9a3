"""Configs: dataclasses holding the paper's defaults, named presets, YAML load / save.

The CLI (``--config FILE.yaml``, ``--preset NAME``, ``--set key=value``), YAML files and
notebooks all fill the same :class:`Config`; nothing is read from globals.

Paper hyper-parameters (Sec. 4.2): SGD, lr 0.1, momentum 0.9, weight decay 5e-4;
self-supervised on UCF101 / HMDB51 600 epochs with lr x0.1 at 300 and 500; on Kinetics 200
epochs, x0.1 at 100 and 150; fine-tuning and supervised DTG 80 epochs, x0.1 at 30 and 60;
joint loss weights alpha = 0.1, beta = 1.0 (Eq. 3).

Where the paper is silent, dtgkit chooses and says so here:

* ``dtg.tau = 0.07`` and ``dtg.queue_size = 2048``: the paper cites MoCo for the InfoNCE form
  and only says K is smaller than the number of training videos; 0.07 is MoCo's temperature;
  2048 < 3,570 / 9,537 HMDB51 / UCF101 split-1 training videos (a queue larger than the data
  set contrasts a video with its own earlier copy).
* ``data.num_segments = 8`` (TSN's common setting), ``data.size = 224`` on GPU presets.
* ``pretrain.batch_size = 64``: not given in the paper; the lr is *not* rescaled automatically
  (set ``optim.lr_scale_batch`` to use the linear scaling rule, lr x batch / 256).
* ``dtg.proj_dim``: the student feature is projected into each teacher's own feature space
  (teachers differ in dimension), so there is no single projection size for ``fusion="loss"``.
"""
from __future__ import annotations

import copy
import dataclasses
import functools
import json
import math
import os
import typing
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import yaml

from dtgkit import dtg
from dtgkit.data.sampling import PAIR_MODES

#: ``dtg.method``: a pre-training method of :func:`dtgkit.dtg.create_method`, or ``none`` (no
#: contrastive term: plain supervised training in ``dtgkit joint``)
METHODS = (*dtg.METHODS, "none")
DATASETS = ("synth", "ucf101", "hmdb51", "list", "folders")
#: ``*.schedule``: the lr schedule over epochs (:func:`dtgkit.train.engine.build_scheduler`)
SCHEDULES = ("step", "cosine")


#: ``dtgkit.data.video.BACKENDS`` (repeated here so that a config loads without the decoders;
#: a test keeps the two equal)
VIDEO_BACKENDS = ("auto", "decord", "pyav", "torchcodec", "frames")

@dataclass
class DataConfig:
    """Where the videos are and how clips are sampled (Sec. 3.1, TSN sampling)."""

    dataset: str = "synth"          #: synth | ucf101 | hmdb51 | list | folders
    root: str = ""                  #: video root (synth: the generated SynthActions root)
    split_dir: str = ""             #: folder with the official split files (default: root/splits)
    split: int = 1                  #: official split number (1, 2, 3)
    train_list: str = ""            #: list-file datasets: training list (`path label` lines)
    test_list: str = ""             #: list-file datasets: test list
    num_segments: int = 8           #: T, TSN segments per clip
    size: int = 224                 #: crop size in pixels
    pair_mode: str = "seq_seq_overlap"  #: one of PAIR_MODES (the paper's Table 2)
    backend: str = "auto"           #: video backend: auto | decord | pyav | torchcodec | frames
    num_workers: int = 4            #: DataLoader worker processes (decoding)
    fraction: float = 1.0           #: fraction of training videos used (data-efficiency study)
    test_clips: int = 1             #: clips per video at test time (scores averaged)
    #: folder of a clip cache: every video of both splits decoded once (uint8, memory-mapped,
    #: at the test-time resize of ``size``, built by the first run that needs it) and read from
    #: there (:mod:`dtgkit.data.clip_cache`); test clips are the same pixels, training crops are
    #: cut from the smaller frames. Empty (default): decode the videos
    clip_cache: str = ""


@dataclass
class ModelConfig:
    """The student (Sec. 3.1): a TSN 2D net or a 3D ResNet."""

    student: str = "tsn_r18"        #: a name from dtgkit.models.list_students()
    init: str = ""                  #: optional 2D ImageNet-style state_dict to load / inflate
    dropout: float = 0.5            #: dropout before the classifier (TSN practice)


@dataclass
class DTGConfig:
    """The guidance: teachers, queue, loss, weighting (Sec. 3.2-3.4, Eq. 1-3)."""

    method: str = "dtg"             #: dtg | distinit-l1 | distinit-ce | moco | none
    #: frozen image teachers, one spec each (`dtgkit teachers` lists the kinds, e.g. synth:scenes)
    teachers: list[str] = field(default_factory=lambda: ["imagenet-efficientnet-lite0"])
    weighting: str = "uniform"      #: uniform | fixed | offline | online1 | online2
    weights: list[float] = field(default_factory=list)   #: fixed weights (normalised)
    offline_accs: list[float] = field(default_factory=list)  #: single-teacher top-1 (%)
    weight_temperature: float = 0.0  #: weighting softmax temperature; 0 = the method default
    #: (offline 1.0 as in the paper, online1 tau, online2 0.1; see dtgkit.dtg.weighting)
    fusion: str = "loss"            #: loss (Sec. 4.3.3) | feature (Eq. 1)
    #: feature fusion, how w_k scales teacher k's unit block: linear (w_k, Eq. 1 as written;
    #: similarities weigh w_k^2) | sqrt (sqrt(w_k); similarities weigh w_k, as the weights widget)
    fusion_scale: str = "linear"
    queue_size: int = dtg.DEFAULT_K  #: K (below the number of training videos)
    tau: float = dtg.DEFAULT_TAU    #: InfoNCE temperature (Eq. 2)
    moco_dim: int = 128             #: MoCo-video baseline: feature size
    #: MoCo-video baseline: key-encoder momentum. MoCo's 0.999 suits 100k+ steps; after 1,000
    #: steps the key encoder is still 0.999^1000 = 37 % its random init (``lab``: 0.99)
    moco_momentum: float = 0.999
    #: DistInit-L1 per sample: ``mean`` (default, torch's L1Loss) or ``sum`` of |s - t| over the
    #: D feature dimensions. The mean's gradient is 1/D of the sum's, ~1/1000 of InfoNCE's for a
    #: 1280-d teacher at the same lr; the sum's is of InfoNCE's order (``lab``: sum)
    distinit_l1_dims: str = "mean"
    mask: str = "none"              #: queue negatives masked: none | video | group
    use_cache: bool = False         #: guidance from the teacher feature cache (no random crop)
    #: the teacher feature cache (`dtgkit cache-teachers`); a run with ``use_cache`` caches a
    #: teacher missing there for its training videos first
    cache_dir: str = ""
    cache_frame_stride: int = 1     #: frames a run caches when it builds the cache: every s-th
    alpha: float = 0.1              #: supervised DTG, weight of L_contrast (Eq. 3)
    beta: float = 1.0               #: supervised DTG, weight of L_CE (Eq. 3)


@dataclass
class OptimConfig:
    """SGD with step decay (Sec. 4.2), or a cosine decay."""

    epochs: int = 600               #: passes over the training videos
    batch_size: int = 64            #: clips per optimiser step (the global batch under DDP)
    lr: float = 0.1                 #: SGD learning rate (the paper's 0.1)
    momentum: float = 0.9           #: SGD momentum
    weight_decay: float = 5e-4      #: SGD weight decay (L2)
    #: epochs at which the lr is multiplied by gamma (step decay)
    milestones: list[int] = field(default_factory=lambda: [300, 500])
    gamma: float = 0.1              #: lr factor at each milestone
    #: ``step`` (default, the paper's: lr x ``gamma`` at each milestone) or ``cosine`` (from lr
    #: to ~0 over ``epochs``, per epoch: the last epochs run at a small lr, so a short run ends
    #: on converged weights rather than a noisy snapshot; milestones unused)
    schedule: str = "step"
    lr_scale_batch: bool = False    #: linear scaling rule lr * batch_size / 256
    max_steps_per_epoch: int = 0    #: 0 = the whole epoch


@dataclass
class RunConfig:
    """Where and how a run executes."""

    out_dir: str = "runs"           #: parent folder of the run folders
    name: str = ""                  #: run folder name (default: preset / stage)
    seed: int = 0                   #: seeds data order, crops, initial weights and the queue
    device: str = "auto"            #: auto | cpu | cuda | cuda:N | mps
    amp: bool = True                #: mixed precision on CUDA (bf16 where the GPU has it, else fp16)
    channels_last: bool = True      #: on CUDA: channels_last (2D) / channels_last_3d (3D) weights
    #: on CUDA: cuDNN picks kernels by benchmarking (cudnn.benchmark), non-deterministic; true
    #: turns that off and asks for deterministic kernels (slower), for bit-exact resumes on GPU
    deterministic: bool = False
    sync_bn: bool = False           #: DDP on CUDA: BatchNorm statistics over all ranks (SyncBatchNorm)
    dist_timeout_s: float = 1800.0  #: torch.distributed collective timeout (seconds)
    progress: bool = True           #: tqdm bars
    log_every: int = 10             #: steps between metrics.jsonl lines
    eval_knn_every: int = 0         #: epochs between kNN monitors (0 = only at the end)


@dataclass
class Config:
    """Everything a run needs; ``pretrain`` and ``finetune`` hold the two stages' schedules."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    dtg: DTGConfig = field(default_factory=DTGConfig)
    pretrain: OptimConfig = field(default_factory=OptimConfig)
    finetune: OptimConfig = field(
        default_factory=lambda: OptimConfig(epochs=80, milestones=[30, 60], batch_size=32)
    )
    run: RunConfig = field(default_factory=RunConfig)
    preset: str = ""                #: the preset this config started from (a label only)

    # ----------------------------------------------------------------- conversions
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def copy(self) -> Config:
        return copy.deepcopy(self)

    def save(self, path: str | os.PathLike) -> None:
        """Write the resolved config as YAML (atomically)."""
        from dtgkit.files import write_text_atomic

        write_text_atomic(path, yaml.safe_dump(self.to_dict(), sort_keys=False))


# --------------------------------------------------------------------- building
_SECTIONS = {
    (Config, "data"): DataConfig,
    (Config, "model"): ModelConfig,
    (Config, "dtg"): DTGConfig,
    (Config, "pretrain"): OptimConfig,
    (Config, "finetune"): OptimConfig,
    (Config, "run"): RunConfig,
}


@functools.cache
def _hints(cls) -> dict[str, Any]:
    """Field name -> declared type (``int``, ``list[str]`` ...) of a config dataclass."""
    return typing.get_type_hints(cls)


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) is list:
        return f"a list of {_type_name(typing.get_args(hint)[0])}"
    return getattr(hint, "__name__", str(hint))


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Cast a value from YAML or ``--set`` to the declared type of its field.

    Numbers are accepted in every spelling Python's ``int`` / ``float`` accept (``1e-3`` is a
    string to YAML 1.1, a float here); a comma-separated string or a single value becomes a
    list. Anything else raises a ValueError that starts with ``where`` (file:line: key, or the
    ``--set`` item).
    """
    def bad() -> ValueError:
        return ValueError(f"{where}: expected {_type_name(hint)}, got {value!r}")

    if typing.get_origin(hint) is list:
        (elem,) = typing.get_args(hint)
        if value is None:
            items = []
        elif isinstance(value, str):
            items = [v.strip() for v in value.split(",") if v.strip()]
        elif isinstance(value, (list, tuple)):
            items = list(value)
        elif isinstance(value, dict):
            raise bad()
        else:
            items = [value]
        return [_coerce(v, elem, where) for v in items]
    if hint is bool:
        if isinstance(value, bool):
            return value
        words = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}
        if isinstance(value, str) and value.strip().lower() in words:
            return words[value.strip().lower()]
        raise bad()
    if hint in (int, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if hint is float or float(value).is_integer():
                return hint(value)
        elif isinstance(value, str):
            try:
                return hint(value.strip())  # Python's own spellings: 1e-3, 1E-3, .5, 1_000
            except ValueError:
                pass
        raise bad()
    if hint is str:
        if value is None:
            return ""
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise bad()
    return value


def _from_dict(cls, data: Any, where: str, lines: dict[tuple[str, ...], int] | None = None,
               prefix: tuple[str, ...] = ()):
    """``cls`` from a nested dict, every value coerced to its field's type.

    ``where`` names the source (a file path or ``"config"``); ``lines`` maps key paths to
    their line in that file, so an error reads ``FILE:LINE: section.key: ...``.
    """
    def at(path: tuple[str, ...]) -> str:
        line = (lines or {}).get(path) or (lines or {}).get(path[:-1])
        return f"{where}:{line}" if line else where

    if not isinstance(data, dict):
        what = ".".join(prefix) or "the file"
        raise ValueError(f"{at(prefix)}: {what}: expected a mapping of keys, got "  # noqa: TRY004
                         f"{type(data).__name__} {data!r}")
    known, hints = {f.name for f in fields(cls)}, _hints(cls)
    kwargs = {}
    for key, value in data.items():
        path = (*prefix, str(key))
        if key not in known:
            inside = f" in {'.'.join(prefix)}" if prefix else ""
            raise ValueError(f"{at(path)}: unknown key {'.'.join(path)!r}; known keys{inside}: "
                             f"{', '.join(sorted(known))}")
        sub = _SECTIONS.get((cls, key))
        if sub:
            kwargs[key] = _from_dict(sub, value, where, lines, path)
        else:
            kwargs[key] = _coerce(value, hints[key], f"{at(path)}: {'.'.join(path)}")
    return cls(**kwargs)


def config_from_dict(data: dict[str, Any], where: str = "config") -> Config:
    """Build a :class:`Config` from nested dicts; unknown keys and wrong types raise naming the
    key (values are coerced like ``--set``: ``"1e-3"`` is a float)."""
    return _from_dict(Config, data, where)


def _read_yaml(path: str | os.PathLike) -> tuple[Any, dict[tuple[str, ...], int]]:
    """A YAML file's data and the line (1-based) of every mapping key, by key path.

    Raises:
        ValueError: ``FILE:LINE: not valid YAML: ...`` for a file YAML cannot parse.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a text (UTF-8) file: {err.reason}") from err
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ValueError(f"{path}{line}: not valid YAML: {problem}") from err
    lines: dict[tuple[str, ...], int] = {}

    def walk(node: Any, prefix: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                path = (*prefix, str(key.value))
                lines[path] = key.start_mark.line + 1
                walk(value, path)

    walk(root, ())
    return data, lines


def load_config(path: str | os.PathLike, base: Config | None = None) -> Config:
    """Load a YAML config file on top of ``base`` (or of the file's own ``preset:``).

    Sections and keys left out keep the values of the base (defaults if none). Values are
    coerced and checked like ``--set`` values; an error names the file, the line and the key.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"config file not found: {path}")
    if os.path.isdir(path):
        raise ValueError(f"{path} is a folder, not a YAML config file")
    data, lines = _read_yaml(path)
    data = {} if data is None else data
    own = _from_dict(Config, data, str(path), lines)  # checks the file's own keys and values
    if own.preset:
        base = get_preset(own.preset)
    start = (base or Config()).to_dict()
    return _from_dict(Config, _deep_update(start, data), str(path), lines)


def _deep_update(base: dict, upd: dict) -> dict:
    for k, v in upd.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _deep_update(base[k], v)
        else:
            base[k] = v
    return base


def apply_overrides(cfg: Config, overrides: list[str] | None) -> Config:
    """Apply ``section.key=value`` overrides (values parsed as YAML, then coerced to the key's
    type: ``1e-3`` and ``1.0e-3`` are floats, ``a,b`` or ``[a, b]`` lists).

    Raises:
        ValueError: naming the override when the key is unknown or the value has the wrong type.
    """
    cfg = cfg.copy()
    for item in overrides or []:
        if "=" not in item:
            raise ValueError(f"--set {item!r}: expected key=value, e.g. pretrain.lr=0.01")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw  # e.g. "a: b" - a string; the field's type decides
        obj: Any = cfg
        parts = key.strip().split(".")
        for i, part in enumerate(parts):
            if not dataclasses.is_dataclass(obj) or part not in {f.name for f in fields(obj)}:
                known = ", ".join(f.name for f in fields(obj)) if dataclasses.is_dataclass(obj) else ""
                raise ValueError(f"--set {item!r}: unknown key {'.'.join(parts[: i + 1])!r}; "
                                 f"known here: {known}")
            if i == len(parts) - 1:
                if dataclasses.is_dataclass(getattr(obj, part)):
                    raise ValueError(f"--set {item!r}: {part!r} is a section, set one of its keys")
                hint = _hints(type(obj))[part]
                setattr(obj, part, _coerce(value, hint, f"--set {item!r}: {key.strip()}"))
            else:
                obj = getattr(obj, part)
    return cfg


#: (section, key) of the settings that change how a run is executed or shown, not what it
#: computes: left out when a run folder's config is compared (``--resume``) or hashed
VOLATILE_KEYS = frozenset({("run", "progress"), ("run", "out_dir"), ("run", "name"),
                           ("run", "device"), ("data", "num_workers"), ("run", "log_every"),
                           ("run", "dist_timeout_s")})


def config_differences(saved: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The settings that differ between two config dicts, as ``"section.key: old -> new"``.

    Volatile keys (:data:`VOLATILE_KEYS`) and the ``preset`` label are not compared; a key
    missing on one side (a config written before the key existed) counts as its default.
    """
    defaults = Config().to_dict()
    out = []
    for section, values in defaults.items():
        if not isinstance(values, dict):
            continue
        for key, default in values.items():
            if (section, key) in VOLATILE_KEYS:
                continue
            a = (saved.get(section) or {}).get(key, default)
            b = (new.get(section) or {}).get(key, default)
            if a != b:
                out.append(f"{section}.{key}: {a!r} -> {b!r}")
    return out


def validate(cfg: Config) -> Config:
    """Reject impossible configs up front, naming the key (before any work is done)."""
    def bad(key: str, msg: str) -> None:
        raise ValueError(f"config {key}: {msg}")

    for section in ("data", "model", "dtg", "pretrain", "finetune", "run"):
        obj = getattr(cfg, section)
        for name, hint in _hints(type(obj)).items():
            # a value set in Python rather than through YAML / --set may still be a string
            value = _coerce(getattr(obj, name), hint, f"config {section}.{name}")
            setattr(obj, name, value)
            numbers = value if hint == list[float] else [value] if hint is float else []
            if not all(math.isfinite(v) for v in numbers):
                bad(f"{section}.{name}", f"must be finite, got {value}")
    d, m, o = cfg.data, cfg.dtg, cfg.pretrain
    if d.dataset not in DATASETS:
        bad("data.dataset", f"{d.dataset!r} is not one of {DATASETS}")
    if d.pair_mode not in PAIR_MODES:
        bad("data.pair_mode", f"{d.pair_mode!r} is not one of {PAIR_MODES}")
    if d.backend not in VIDEO_BACKENDS:
        bad("data.backend", f"{d.backend!r} is not one of {VIDEO_BACKENDS}")
    if d.num_segments < 1:
        bad("data.num_segments", f"must be >= 1, got {d.num_segments}")
    if d.size < 16:
        bad("data.size", f"must be >= 16 pixels, got {d.size}")
    if not 0 < d.fraction <= 1:
        bad("data.fraction", f"must be in (0, 1], got {d.fraction}")
    if m.method not in METHODS:
        bad("dtg.method", f"{m.method!r} is not one of {METHODS}")
    if m.weighting not in dtg.WEIGHTINGS:
        bad("dtg.weighting", f"{m.weighting!r} is not one of {dtg.WEIGHTINGS}")
    if m.fusion not in dtg.FUSIONS:
        bad("dtg.fusion", f"{m.fusion!r} is not one of {dtg.FUSIONS}")
    if m.fusion_scale not in dtg.FUSION_SCALES:
        bad("dtg.fusion_scale", f"{m.fusion_scale!r} is not one of {dtg.FUSION_SCALES}")
    if m.mask not in dtg.MASKS:
        bad("dtg.mask", f"{m.mask!r} is not one of {dtg.MASKS}")
    if m.distinit_l1_dims not in dtg.DISTINIT_L1_DIMS:
        bad("dtg.distinit_l1_dims", f"{m.distinit_l1_dims!r} is not one of {dtg.DISTINIT_L1_DIMS}")
    if m.cache_frame_stride < 1:
        bad("dtg.cache_frame_stride", f"must be >= 1, got {m.cache_frame_stride}")
    if m.method in ("dtg", "distinit-l1", "distinit-ce") and not m.teachers:
        bad("dtg.teachers", f"method {m.method!r} needs at least one teacher")
    if m.weighting == "offline" and len(m.offline_accs) != len(m.teachers):
        bad("dtg.offline_accs", f"offline weighting needs one accuracy per teacher "
            f"({len(m.teachers)} teachers, {len(m.offline_accs)} accuracies)")
    if m.weighting == "fixed" and len(m.weights) != len(m.teachers):
        bad("dtg.weights", f"fixed weighting needs one weight per teacher "
            f"({len(m.teachers)} teachers, {len(m.weights)} weights)")
    if m.queue_size < 1:
        bad("dtg.queue_size", f"must be >= 1, got {m.queue_size}")
    if m.tau <= 0:
        bad("dtg.tau", f"must be > 0, got {m.tau}")
    if cfg.run.dist_timeout_s <= 0:
        bad("run.dist_timeout_s", f"must be > 0 seconds, got {cfg.run.dist_timeout_s}")
    if m.use_cache and not m.cache_dir:
        bad("dtg.cache_dir", "use_cache=true needs the folder written by `dtgkit cache-teachers`")
    for name, opt in (("pretrain", o), ("finetune", cfg.finetune)):
        if opt.epochs < 1:
            bad(f"{name}.epochs", f"must be >= 1, got {opt.epochs}")
        if opt.batch_size < 1:
            bad(f"{name}.batch_size", f"must be >= 1, got {opt.batch_size}")
        if opt.lr <= 0:
            bad(f"{name}.lr", f"must be > 0, got {opt.lr}")
        if list(opt.milestones) != sorted(opt.milestones):
            bad(f"{name}.milestones", f"must be increasing, got {opt.milestones}")
        if opt.schedule not in SCHEDULES:
            bad(f"{name}.schedule", f"{opt.schedule!r} is not one of {SCHEDULES}")
    return cfg


# ---------------------------------------------------------------------- presets
def _paper(dataset: str, student: str, epochs: int, milestones: list[int], size: int = 224) -> Config:
    cfg = Config()
    cfg.data.dataset = dataset
    cfg.data.size = size
    cfg.model.student = student
    cfg.pretrain = OptimConfig(epochs=epochs, milestones=milestones)
    if student in ("r3d_18", "r2plus1d_18"):
        cfg.data.num_segments = 16   # a 16-frame clip, the usual 3D-ResNet18 input
    # a GPU step eats 64 two-view clips of 8 x 224 px: 4 decoding workers starve it (8-16 per
    # GPU is usual); lower it on a machine with fewer cores
    cfg.data.num_workers = 10
    return cfg


def _cpu_demo() -> Config:
    """``dtgkit demo``'s budget: about 10 minutes for four methods on 2 CPU cores.

    SynthActions with 144 training / 96 test videos (``dtgkit.experiments.suites.DEMO_SYNTH``), TSN-ResNet18 on
    4 segments of 64 px, 2 pre-training and 2 fine-tuning epochs of batch 16; the queue
    (K = 128) stays below the 144 training videos. The teachers' cost dominates a DTG step on a
    CPU, so ``dtgkit demo`` runs them on the 64-px guidance frames as they are (``#size=64``).
    """
    cfg = Config()
    cfg.data = DataConfig(dataset="synth", root="runs/synth", num_segments=4, size=64,
                          num_workers=2, test_clips=1)
    cfg.model = ModelConfig(student="tsn_r18")
    cfg.dtg.teachers = ["imagenet-efficientnet-lite0#size=64"]
    cfg.dtg.queue_size = 128
    cfg.pretrain = OptimConfig(epochs=2, batch_size=16, lr=0.05, milestones=[])
    cfg.finetune = OptimConfig(epochs=2, batch_size=16, lr=0.01, milestones=[])
    cfg.run = RunConfig(out_dir="runs", amp=False)
    return cfg


def _lab() -> Config:
    """The lab budget (issue 13; ``make demo`` keeps ``cpu-demo``, see README's lab regime):
    methods given enough steps to separate beyond the noise on 2 CPU cores.

    * Data: a SynthActions set at ``runs/synth-lab`` (``dtgkit.experiments.suites.LAB_SYNTH``:
      768 training / 512 test videos, so one test video is 0.2 points and the binomial error
      at 50 % is 2.2 points), decoded once into a clip cache (``data.clip_cache``, 73 px);
      TSN with 4 segments of 64 px.
    * Student: ``tsn_r18_w16``, TSN-ResNet18 at a quarter of the width (``tsn_r18`` stays the
      paper's student).
    * Teachers at the resolution they were trained at (224 px ImageNet Lite0, 112 px the
      SynthActions ones: no ``#size=``), read from a teacher feature cache of the training
      videos' frames (every 4th frame, built by the first run that needs it); the guidance
      view then has no random crop (:mod:`dtgkit.models.teacher_cache`).
    * Schedules: 21 epochs of batch 16 (~1,000 steps) per stage, lr 0.05 with a cosine decay, so
      the reported numbers come from a schedule that ends quietly, not a noisy last epoch.
    * Fair baselines: DistInit's L1 summed over the feature dimensions (its gradient is then of
      InfoNCE's order; the mean's is 1/1280 of it for Lite0), MoCo's key-encoder momentum 0.99
      (0.999 is for 100k+ steps: after 1,000 steps the key encoder would still be 37 % its
      random init; 0.99^1000 is 4e-5).
    * Queue K = 512, below the 768 training videos.
    """
    cfg = Config()
    root = "runs/synth-lab"
    cfg.data = DataConfig(dataset="synth", root=root, num_segments=4, size=64, num_workers=2,
                          test_clips=1, clip_cache=f"{root}/clip_cache")
    cfg.model = ModelConfig(student="tsn_r18_w16", dropout=0.5)
    cfg.dtg.teachers = ["imagenet-efficientnet-lite0"]
    cfg.dtg.queue_size = 512
    cfg.dtg.use_cache = True
    cfg.dtg.cache_dir = f"{root}/teacher_cache"
    cfg.dtg.cache_frame_stride = 4
    cfg.dtg.moco_momentum = 0.99
    cfg.dtg.distinit_l1_dims = "sum"
    cfg.pretrain = OptimConfig(epochs=21, batch_size=16, lr=0.05, milestones=[], schedule="cosine")
    cfg.finetune = OptimConfig(epochs=21, batch_size=16, lr=0.05, milestones=[], schedule="cosine")
    cfg.run = RunConfig(out_dir="runs", amp=False, log_every=20)
    return cfg


def _ci_tiny() -> Config:
    cfg = Config()
    cfg.data = DataConfig(dataset="synth", root="", num_segments=2, size=32, num_workers=0)
    cfg.model = ModelConfig(student="tiny", dropout=0.0)
    cfg.dtg.teachers = ["tiny"]
    cfg.dtg.queue_size = 16
    cfg.pretrain = OptimConfig(epochs=2, batch_size=4, lr=0.05, milestones=[1])
    cfg.finetune = OptimConfig(epochs=2, batch_size=4, lr=0.05, milestones=[1])
    cfg.run = RunConfig(out_dir="runs", amp=False, progress=False, log_every=1)
    return cfg


PRESETS = {
    "paper-ucf101-tsn-r18": lambda: _paper("ucf101", "tsn_r18", 600, [300, 500]),
    "paper-hmdb51-tsn-r18": lambda: _paper("hmdb51", "tsn_r18", 600, [300, 500]),
    "paper-kinetics-tsn-r18": lambda: _paper("list", "tsn_r18", 200, [100, 150]),
    "paper-ucf101-r3d18": lambda: _paper("ucf101", "r3d_18", 600, [300, 500], size=112),
    "cpu-demo": _cpu_demo,
    "lab": _lab,
    "ci-tiny": _ci_tiny,
}


def list_presets() -> list[str]:
    return list(PRESETS)


def get_preset(name: str) -> Config:
    """A fresh copy of a named preset (the paper's settings, or small CPU ones)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}")
    cfg = PRESETS[name]()
    cfg.preset = name
    return cfg


def resolve_config(preset: str | None = None, config_file: str | None = None,
                   overrides: list[str] | None = None, base: Config | None = None) -> Config:
    """The one way a run gets its config: preset (or ``base``, e.g. a checkpoint's own config,
    or the defaults), then YAML file, then ``--set`` overrides."""
    cfg = get_preset(preset) if preset else (base.copy() if base is not None else Config())
    if config_file:
        cfg = load_config(config_file, base=cfg)
    return validate(apply_overrides(cfg, overrides))


# ------------------------------------------------------------------ help and `config show`
@functools.cache
def field_help(cls) -> dict[str, str]:
    """Each field of a config dataclass -> its help text, read from the ``#:`` comments of the
    source (the Sphinx convention: a trailing ``#:`` on the field's line and / or ``#:`` lines
    just above it; ``#:`` lines right below a field that has its own trailing comment, when the
    next field has one too, continue the first)."""
    import ast
    import inspect
    import io
    import textwrap
    import tokenize

    source = textwrap.dedent(inspect.getsource(cls))
    comments = {tok.start[0]: tok.string[2:].strip()
                for tok in tokenize.generate_tokens(io.StringIO(source).readline)
                if tok.type == tokenize.COMMENT and tok.string.startswith("#:")}
    lines = source.splitlines()
    body = ast.parse(source).body[0].body
    found = [(n.target.id, n.lineno, n.end_lineno) for n in body
             if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)]
    help_: dict[str, list[str]] = {}
    trailing: dict[str, bool] = {}
    prev: tuple[str, int] | None = None
    for name, start, end in found:
        own = [comments[i] for i in range(start, end + 1) if i in comments]
        block, i = [], start - 1
        while i >= 1 and i in comments and lines[i - 1].lstrip().startswith("#:"):
            block.insert(0, comments[i])
            i -= 1
        follows_prev = prev is not None and i == prev[1]
        if block and own and follows_prev and trailing[prev[0]]:
            help_[prev[0]].extend(block)  # a continuation of the previous field's comment
            block = []
        help_[name] = [*block, *own]
        trailing[name] = bool(own)
        prev = (name, end)
    return {name: " ".join(parts) for name, parts in help_.items()}


def describe(cfg: Config) -> list[tuple[str, Any, str]]:
    """Every key of ``cfg`` as ``(section.key, value, help)``, in declaration order: what
    ``dtgkit config show`` prints, so that every ``--set`` key can be found."""
    rows = []
    for f in fields(Config):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            helps = field_help(type(value))
            rows += [(f"{f.name}.{g.name}", getattr(value, g.name), helps.get(g.name, ""))
                     for g in fields(value)]
        else:
            rows.append((f.name, value, field_help(Config).get(f.name, "")))
    return rows


def format_config(cfg: Config, width: int = 100) -> str:
    """:func:`describe` as text: one ``key = value`` line per key, its help wrapped below."""
    import textwrap

    out = []
    section = None
    for key, value, text in describe(cfg):
        head = key.split(".")[0] if "." in key else ""
        if head != section and head:
            section = head
            doc = Config.__dataclass_fields__[head].default_factory().__doc__ or ""
            out.append(f"\n# {head}: {doc.strip().splitlines()[0] if doc.strip() else ''}".rstrip())
        out.append(f"{key} = {json.dumps(value)}")
        if text:
            out += textwrap.wrap(text, width, initial_indent="    ", subsequent_indent="    ")
    return "\n".join(out).lstrip("\n") + "\n"


def _cmd_config_show(args) -> int:
    cfg = resolve_config(args.preset, args.config, args.overrides)
    label = f"preset {args.preset}" if args.preset else "the defaults (no preset)"
    print(f"# dtgkit config: {label}; change a key with --set section.key=value, e.g. "
          f"--set pretrain.lr=0.05\n")
    print(format_config(cfg), end="")
    return 0


def add_cli(subparsers) -> None:
    """Add ``dtgkit config show [--preset P] [--config F] [--set K=V]``."""
    p = subparsers.add_parser("config", help="show every config key with its value and help",
                              description="Configs and presets (dtgkit.config).")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = sub.add_parser("show", help="print every key of a resolved config, its value and help",
                       description="Print every key (section.key = value) of the config a run "
                                   "would get from --preset / --config / --set, with its help: "
                                   "the keys --set accepts.")
    s.add_argument("--preset", choices=list_presets(), default=None,
                   help="named preset (default: the paper's defaults)")
    s.add_argument("--config", metavar="FILE.yaml", default=None, help="YAML config on top of the preset")
    s.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], dest="overrides",
                   help="override one key, e.g. --set pretrain.lr=0.05 (repeatable)")
    s.set_defaults(func=_cmd_config_show)

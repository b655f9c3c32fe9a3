"""Student networks f_anchor of DTG-Net (paper Sec. 3.1, 4.3): TSN 2D nets and 3D ResNets.

A *student* is the video network DTG-Net trains. It maps a clip batch to one feature per clip,
the anchor feature ``a`` of Eq. 2 (before any projection head, see ``dtgkit.models.heads``)::

    student = create_student("tsn_r18")
    feats = student(clip)            # clip: N x T x 3 x H x W in [0, 1] -> feats: N x 512

Every student

* takes clips as float tensors in [0, 1], layout **N x T x 3 x H x W**, NOT normalised: it
  normalises them itself with the ``mean`` / ``std`` buffers (ImageNet statistics by default,
  Kinetics statistics when torchvision's Kinetics weights are loaded);
* exposes ``.feat_dim``, the width of ``feats``;
* is built from torchvision (``torchvision.models.resnet*`` / ``torchvision.models.video``);
  only the ``tiny`` / ``tiny3d`` test entries are hand-made nets of a few layers.

Architectures (registry names, see ``list_students()``):

* ``tsn_r18`` / ``tsn_r50`` / ``tsn_r101`` -- TSN (Wang et al., ECCV 2016): a 2D ResNet applied
  to each of the T segments' frames, ``fc`` removed, then *average consensus* over the T
  segments. The paper's main student is TSN-ResNet18 (11.2M parameters, Table 1).
* ``tsn_r18_w16`` -- the same TSN-ResNet18 at a quarter of the width (16-32-64-128 channels,
  0.7M parameters, feat_dim 128): the ``lab`` preset's student, cheap enough for thousands
  of CPU steps; not the paper's.
* ``r3d_18`` -- torchvision's 3D-ResNet18 (Hara et al. / Tran et al.), the paper's 3D student
  (3D-ResNet18 in Tables 1-2). ``inflate_from=`` initialises it from 2D ImageNet-style
  ResNet18 weights, I3D-style (the paper's "† initialised with ImageNet pre-trained 2D CNN"),
  see ``inflate_2d_to_3d``.
* ``r2plus1d_18`` -- torchvision's R(2+1)D-18.
* ``tiny`` / ``tiny3d`` -- two-conv nets (feat_dim 32) for tests and CI.

Minimum input size: any H, W >= 16 and T >= 1 run; in train mode BatchNorm needs more than one
value per channel at the last stage, i.e. ``N * T' * h * w > 1`` where the ResNets reduce
H, W by 32 (so use H, W >= 32, or N >= 2). 64 to 112 px is the intended CPU range; 224 px the
paper's.

Fine-tuning and the supervised DTG-Net (Eq. 3) need logits: ``create_student(name,
num_classes=C, dropout=0.5)`` returns a :class:`StudentClassifier` (dropout before a linear
``fc``, as in TSN) with ``.features(clip)``, ``.classify(feats)`` and ``forward(clip) -> logits``.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn

from dtgkit.models.inflate import add_stem_maxpool, inflate_2d_to_3d, use_replicate_time_padding
from dtgkit.models.weights import backbone_part, format_keys, is_2d_resnet, read_weights

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "KINETICS_MEAN",
    "KINETICS_STD",
    "Student",
    "StudentClassifier",
    "TSNStudent",
    "Video3DStudent",
    "accepts_2d_init",
    "create_student",
    "list_students",
    "register_student",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# torchvision's video weights (R3D_18_Weights.KINETICS400_V1 etc.) were trained with these.
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)


# --------------------------------------------------------------------------------------------
# Base classes
# --------------------------------------------------------------------------------------------
class Student(nn.Module):
    """Base class: owns the normalisation buffers and checks the clip layout.

    Args:
        feat_dim: width D of the features returned by ``forward``.
        mean: per-channel RGB mean subtracted from the [0, 1] input.
        std: per-channel RGB std the input is divided by.
    """

    feat_dim: int

    def __init__(
        self,
        feat_dim: int,
        mean: tuple[float, float, float] = IMAGENET_MEAN,
        std: tuple[float, float, float] = IMAGENET_STD,
    ) -> None:
        super().__init__()
        self.feat_dim = int(feat_dim)
        # Buffers, so they follow .to(device) and are saved with checkpoints (STYLE 7). Shape
        # 3 x 1 x 1 broadcasts over N x T x 3 x H x W and, not being 4-D/5-D, survives
        # module.to(memory_format=torch.channels_last).
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(3, 1, 1))

    def normalize(self, clip: torch.Tensor) -> torch.Tensor:
        """Check the layout and normalise a [0, 1] clip batch.

        Args:
            clip: N x T x 3 x H x W float tensor in [0, 1].

        Returns:
            N x T x 3 x H x W tensor, ``(clip - mean) / std``.
        """
        if clip.dim() != 5 or clip.shape[2] != 3:
            raise ValueError(
                f"{type(self).__name__} expects clips N x T x 3 x H x W, got shape "
                f"{tuple(clip.shape)}"
            )
        if not clip.is_floating_point():
            raise ValueError(
                f"{type(self).__name__} expects float clips in [0, 1], got dtype {clip.dtype}"
            )
        return (clip - self.mean.to(clip.dtype)) / self.std.to(clip.dtype)  # N x T x 3 x H x W


class TSNStudent(Student):
    """TSN: a 2D backbone on every segment's frame, then average consensus (Wang et al. 2016).

    Args:
        backbone: 2D net mapping M x 3 x H x W -> M x feat_dim (a torchvision ResNet with
            ``fc = nn.Identity()``, or the tiny net).
        feat_dim: output width of ``backbone``.
        mean, std: normalisation, see :class:`Student`.

    ``student.to(memory_format=torch.channels_last)`` is supported: frames are then passed to the
    backbone in channels-last layout too (faster convolutions on recent GPUs / oneDNN).
    """

    def __init__(self, backbone: nn.Module, feat_dim: int, **norm: Any) -> None:
        super().__init__(feat_dim, **norm)
        self.backbone = backbone

    def _first_conv_weight(self) -> torch.Tensor | None:
        for m in self.backbone.modules():
            if isinstance(m, nn.Conv2d):
                return m.weight
        return None

    def segment_features(self, clip: torch.Tensor) -> torch.Tensor:
        """Per-segment features, before the consensus.

        Args:
            clip: N x T x 3 x H x W float in [0, 1].

        Returns:
            N x T x feat_dim.
        """
        n, t = clip.shape[:2]
        x = self.normalize(clip).flatten(0, 1)  # (N*T) x 3 x H x W (a copy if not viewable)
        w = self._first_conv_weight()
        if w is not None and w.is_contiguous(memory_format=torch.channels_last):
            x = x.contiguous(memory_format=torch.channels_last)
        feats = self.backbone(x)  # (N*T) x D
        return feats.reshape(n, t, -1)  # N x T x D (reshape: no .view on strided outputs)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        """Anchor features with TSN average consensus.

        Args:
            clip: N x T x 3 x H x W float in [0, 1].

        Returns:
            feats: N x feat_dim, the mean over the T segment features.
        """
        return self.segment_features(clip).mean(dim=1)  # N x D


class Video3DStudent(Student):
    """A 3D net (torchvision ``VideoResNet`` with ``fc = nn.Identity()``) on the whole clip.

    Args:
        backbone: 3D net mapping N x 3 x T x H x W -> N x feat_dim.
        feat_dim: output width of ``backbone``.
        stem_pool: whether ``backbone`` has the extra stem max-pool (:func:`add_stem_maxpool`).
        temporal_padding: ``"zeros"`` or ``"replicate"`` (:func:`use_replicate_time_padding`).
        mean, std: normalisation, see :class:`Student`.

    With ``channels_last_3d`` weights (:func:`dtgkit.train.engine.to_channels_last`, as the
    trainer does on CUDA) the clip is passed to the backbone in that layout too.

    ``stem_pool`` and ``temporal_padding`` change the computation but no parameter, so they are
    also recorded as buffers (``flag_stem_pool``, ``flag_replicate_time_padding``): a checkpoint
    knows how its net was built, and loading it into a student built differently is an error.
    """

    def __init__(
        self,
        backbone: nn.Module,
        feat_dim: int,
        stem_pool: bool = False,
        temporal_padding: str = "zeros",
        **norm: Any,
    ) -> None:
        super().__init__(feat_dim, **norm)
        self.backbone = backbone
        self.register_buffer("flag_stem_pool", torch.tensor(bool(stem_pool)))
        self.register_buffer(
            "flag_replicate_time_padding", torch.tensor(temporal_padding == "replicate")
        )

    def _first_conv_weight(self) -> torch.Tensor | None:
        for m in self.backbone.modules():
            if isinstance(m, nn.Conv3d):
                return m.weight
        return None

    @property
    def stem_pool(self) -> bool:
        return bool(self.flag_stem_pool)

    @property
    def temporal_padding(self) -> str:
        return "replicate" if bool(self.flag_replicate_time_padding) else "zeros"

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        for flag in ("flag_stem_pool", "flag_replicate_time_padding"):
            key = prefix + flag
            if key in state_dict and bool(state_dict[key]) != bool(getattr(self, flag)):
                error_msgs.append(
                    f"{key}: the weights were made with {flag[5:]}={bool(state_dict[key])}, this "
                    f"student has {flag[5:]}={bool(getattr(self, flag))} (create it with the "
                    "same stem_pool / temporal_padding)"
                )
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        """Anchor features of a clip batch.

        Args:
            clip: N x T x 3 x H x W float in [0, 1].

        Returns:
            feats: N x feat_dim (global average pool over T', h, w of the last stage).
        """
        x = self.normalize(clip).permute(0, 2, 1, 3, 4)  # N x 3 x T x H x W
        w = self._first_conv_weight()
        if w is not None and w.is_contiguous(memory_format=torch.channels_last_3d):
            x = x.contiguous(memory_format=torch.channels_last_3d)
        return self.backbone(x)  # N x D


class StudentClassifier(nn.Module):
    """A student plus dropout and a linear classifier, for fine-tuning and supervised DTG (Eq. 3).

    TSN puts dropout before its ``fc``; averaging per-segment logits (TSN's consensus on scores)
    equals ``fc`` of the averaged features since ``fc`` is linear, so the logits here are
    ``fc(dropout(student(clip)))``.

    Args:
        student: a :class:`Student` (any registry entry).
        num_classes: number of action classes C.
        dropout: dropout probability before ``fc`` (default 0.5).

    Use ``features(clip)`` for the anchor feature and ``classify(feats)`` for the logits when
    both are needed (supervised DTG-Net): one backbone pass, two losses.
    """

    def __init__(self, student: Student, num_classes: int, dropout: float = 0.5) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.student = student
        self.feat_dim = student.feat_dim
        self.num_classes = int(num_classes)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(student.feat_dim, num_classes)
        nn.init.normal_(self.fc.weight, 0.0, 0.01)  # mmaction2 / TSN head init
        nn.init.zeros_(self.fc.bias)

    def features(self, clip: torch.Tensor) -> torch.Tensor:
        """Student features. clip: N x T x 3 x H x W -> feats: N x feat_dim."""
        return self.student(clip)

    def classify(self, feats: torch.Tensor) -> torch.Tensor:
        """Logits from features. feats: N x feat_dim -> logits: N x num_classes."""
        return self.fc(self.dropout(feats))

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        """clip: N x T x 3 x H x W in [0, 1] -> logits: N x num_classes."""
        return self.classify(self.features(clip))


# --------------------------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------------------------
def _load_backbone(backbone: nn.Module, source: str | Path | Mapping | nn.Module) -> None:
    """Load weights (minus any ``fc.*``) into a backbone whose ``fc`` was removed."""
    tensors, name = read_weights(source)
    state = {k: v for k, v in backbone_part(tensors).items() if not k.startswith("fc.")}
    try:
        result = backbone.load_state_dict(state, strict=False)
    except RuntimeError as err:  # size mismatches, e.g. ResNet50 weights for a ResNet18
        raise ValueError(f"{name}: weights do not fit {type(backbone).__name__}: {err}") from err
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"{name}: weights do not match {type(backbone).__name__}: "
            f"missing {format_keys(result.missing_keys)}, unexpected {format_keys(result.unexpected_keys)}"
        )


# --------------------------------------------------------------------------------------------
# Registry (timm-style name -> factory)
# --------------------------------------------------------------------------------------------
_STUDENTS: dict[str, Callable[..., Student]] = {}


def register_student(name: str) -> Callable[[Callable[..., Student]], Callable[..., Student]]:
    """Decorator adding a factory ``fn(**kw) -> Student`` to the registry under ``name``."""

    def decorator(fn: Callable[..., Student]) -> Callable[..., Student]:
        if name in _STUDENTS:
            raise ValueError(f"student {name!r} is already registered")
        _STUDENTS[name] = fn
        return fn

    return decorator


def list_students() -> list[str]:
    """Names accepted by :func:`create_student`, sorted."""
    return sorted(_STUDENTS)


def accepts_2d_init(name: str) -> bool:
    """Whether student ``name`` can start from 2D ImageNet-style weights (its ``pretrained=``
    option: loaded into a TSN net, inflated into a 3D one; ``model.init`` in a config).
    False for an unknown name."""
    factory = _STUDENTS.get(name)
    return factory is not None and "pretrained" in inspect.signature(factory).parameters


def create_student(
    name: str, *, num_classes: int | None = None, dropout: float | None = None, **kwargs: Any
) -> Student | StudentClassifier:
    """Build a student by registry name.

    Args:
        name: one of :func:`list_students` (``"tsn_r18"``, ``"r3d_18"``, ``"tiny"`` ...).
        num_classes: if given, wrap the student in a :class:`StudentClassifier` with this many
            classes (fine-tuning, supervised DTG-Net); default None returns the bare student.
        dropout: dropout before the classifier's ``fc`` (only with ``num_classes``; default 0.5).
        **kwargs: options of that student's factory (e.g. ``pretrained=``, ``weights=``,
            ``inflate_from=``); see the factory docstrings.

    Returns:
        A :class:`Student` (``forward(clip) -> feats``, ``.feat_dim``), or a
        :class:`StudentClassifier` when ``num_classes`` is given.

    Raises:
        ValueError: unknown name (the message lists the known ones) or an option the factory
            does not take.
    """
    if name not in _STUDENTS:
        raise ValueError(f"unknown student {name!r}; known students: {', '.join(list_students())}")
    factory = _STUDENTS[name]
    params = inspect.signature(factory).parameters
    unknown = [k for k in kwargs if k not in params]
    if unknown:
        raise ValueError(
            f"student {name!r} does not take option(s) {', '.join(map(repr, unknown))}; "
            f"it takes: {', '.join(params) or 'no options'}"
        )
    student = factory(**kwargs)
    if num_classes is None:
        if dropout is not None:
            raise ValueError("dropout is only used with num_classes (a classifier head)")
        return student
    return StudentClassifier(student, num_classes, 0.5 if dropout is None else dropout)


def _check_weight_options(name: str, pretrained: Any, weights: Any) -> None:
    if pretrained is not None and weights is not None:
        raise ValueError(
            f"{name}: give either pretrained= (a file) or weights= (torchvision), not both"
        )


def _resolve_weights(arch: str, weights: str | None) -> Any:
    """torchvision weights enum member for ``weights`` (e.g. "IMAGENET1K_V1"), or None."""
    if weights is None:
        return None
    enum = torchvision.models.get_model_weights(arch)
    name = weights.split(".")[-1]  # accept "ResNet18_Weights.IMAGENET1K_V1" too
    if name == "DEFAULT":
        return enum.DEFAULT
    if name not in enum.__members__:
        raise ValueError(
            f"unknown weights {weights!r} for {arch}; known: {', '.join(enum.__members__)}"
        )
    return enum[name]


def _tsn_resnet(
    arch: str, feat_dim: int, pretrained: str | Path | Mapping | nn.Module | None,
    weights: str | None,
) -> TSNStudent:
    _check_weight_options(f"tsn_{arch}", pretrained, weights)
    # weights= goes through torchvision's weights enum (e.g. "IMAGENET1K_V1"): downloads once.
    backbone = getattr(torchvision.models, arch)(weights=_resolve_weights(arch, weights))
    backbone.fc = nn.Identity()
    if pretrained is not None:
        _load_backbone(backbone, pretrained)
    return TSNStudent(backbone, feat_dim)


@register_student("tsn_r18")
def tsn_r18(
    pretrained: str | Path | Mapping | nn.Module | None = None, weights: str | None = None
) -> TSNStudent:
    """TSN-ResNet18 (the paper's main student, Table 1), feat_dim 512.

    Args:
        pretrained: 2D weights in torchvision ResNet18 format: a file path (``torch.save`` of a
            ``state_dict``, or a dtgkit student / classifier checkpoint), a state dict or an
            ``nn.Module``; ``fc.*`` is ignored. Never downloads.
        weights: torchvision weights name, e.g. ``"IMAGENET1K_V1"`` (``ResNet18_Weights``);
            needs network access on first use (cached under ``$TORCH_HOME``).
    """
    return _tsn_resnet("resnet18", 512, pretrained, weights)


@register_student("tsn_r50")
def tsn_r50(
    pretrained: str | Path | Mapping | nn.Module | None = None, weights: str | None = None
) -> TSNStudent:
    """TSN-ResNet50, feat_dim 2048. Options as :func:`tsn_r18` (``ResNet50_Weights``)."""
    return _tsn_resnet("resnet50", 2048, pretrained, weights)


@register_student("tsn_r101")
def tsn_r101(
    pretrained: str | Path | Mapping | nn.Module | None = None, weights: str | None = None
) -> TSNStudent:
    """TSN-ResNet101 (paper Fig. 5 backbone), feat_dim 2048. Options as :func:`tsn_r18`."""
    return _tsn_resnet("resnet101", 2048, pretrained, weights)


class _SlimResNet18(torchvision.models.resnet.ResNet):
    """torchvision's ResNet-18 (BasicBlock, [2, 2, 2, 2], same stem, strides and
    initialisation, ``fc`` removed) with ``width`` channels in the first stage instead of 64
    (``width``, 2x, 4x, 8x per stage)."""

    def __init__(self, width: int) -> None:
        nn.Module.__init__(self)  # ResNet.__init__ hard-codes 64 channels in the stem
        block = torchvision.models.resnet.BasicBlock
        self._norm_layer, self.dilation, self.groups, self.base_width = nn.BatchNorm2d, 1, 1, 64
        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, width, 2)
        self.layer2 = self._make_layer(block, 2 * width, 2, stride=2)
        self.layer3 = self._make_layer(block, 4 * width, 2, stride=2)
        self.layer4 = self._make_layer(block, 8 * width, 2, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Identity()
        for m in self.modules():  # torchvision's ResNet initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)


@register_student("tsn_r18_w16")
def tsn_r18_w16(width: int = 16, pretrained: str | Path | Mapping | nn.Module | None = None
                ) -> TSNStudent:
    """TSN on ResNet-18 at a quarter of its width: 16-32-64-128 channels, 0.7M parameters,
    feat_dim 128; the same depth, blocks, strides and average consensus as :func:`tsn_r18`.
    The ``lab`` preset's student (``dtgkit bench step --preset lab`` times it).

    Args:
        width: channels of the first stage (64 gives TSN-R18's shape; no ImageNet weights
            exist for other widths).
        pretrained: weights of this very shape (file, state dict or module); ``fc.*`` ignored.
    """
    backbone = _SlimResNet18(int(width))
    if pretrained is not None:
        _load_backbone(backbone, pretrained)
    return TSNStudent(backbone, 8 * int(width))


def _video_resnet(
    arch: str,
    *,
    pretrained: str | Path | Mapping | nn.Module | None,
    weights: str | None,
    inflate_from: str | Path | Mapping | nn.Module | None,
    stem_pool: bool | None,
    temporal_padding: str | None,
) -> Video3DStudent:
    _check_weight_options(arch, pretrained, weights)
    if inflate_from is not None and (pretrained is not None or weights is not None):
        raise ValueError(f"{arch}: inflate_from= cannot be combined with pretrained= or weights=")
    recorded: dict[str, torch.Tensor] = {}
    name = ""
    if pretrained is not None:
        recorded, name = read_weights(pretrained)
        if is_2d_resnet(recorded):  # 2D weights given as pretrained=: inflate them
            if arch != "r3d_18":
                raise ValueError(f"{name}: 2D weights can only be inflated into r3d_18, not {arch}")
            inflate_from, pretrained, recorded = recorded, None, {}
    inflating = inflate_from is not None
    # Architecture options: explicit > recorded in a dtgkit checkpoint > the inflation defaults.
    if stem_pool is None:
        stem_pool = bool(recorded["flag_stem_pool"]) if "flag_stem_pool" in recorded else inflating
    if temporal_padding is None:
        if "flag_replicate_time_padding" in recorded:
            replicate = bool(recorded["flag_replicate_time_padding"])
            temporal_padding = "replicate" if replicate else "zeros"
        else:
            temporal_padding = "replicate" if inflating else "zeros"
    if temporal_padding not in ("zeros", "replicate"):
        raise ValueError(
            f"temporal_padding must be 'zeros' or 'replicate', got {temporal_padding!r}"
        )
    backbone = getattr(torchvision.models.video, arch)(weights=_resolve_weights(arch, weights))
    backbone.fc = nn.Identity()
    if stem_pool:
        add_stem_maxpool(backbone)
    if temporal_padding == "replicate":
        use_replicate_time_padding(backbone)
    if inflating:
        inflate_2d_to_3d(inflate_from, backbone)
    # torchvision's video weights expect Kinetics statistics; a dtgkit checkpoint records its
    # own; everything else uses ImageNet statistics.
    norm: dict[str, Any] = {}
    if weights is not None:
        norm = {"mean": KINETICS_MEAN, "std": KINETICS_STD}
    elif "mean" in recorded and "std" in recorded:
        norm = {"mean": tuple(recorded["mean"].flatten().tolist()),
                "std": tuple(recorded["std"].flatten().tolist())}
    student = Video3DStudent(backbone, 512, stem_pool, temporal_padding, **norm)
    if pretrained is not None:
        _load_backbone(backbone, pretrained)
        for flag in ("flag_stem_pool", "flag_replicate_time_padding"):
            if flag in recorded and bool(recorded[flag]) != bool(getattr(student, flag)):
                raise ValueError(
                    f"{name}: the weights were made with {flag[5:]}={bool(recorded[flag])}, "
                    f"but {flag[5:]}={bool(getattr(student, flag))} was asked for"
                )
    return student


@register_student("r3d_18")
def r3d_18(
    pretrained: str | Path | Mapping | nn.Module | None = None,
    weights: str | None = None,
    inflate_from: str | Path | Mapping | nn.Module | None = None,
    stem_pool: bool | None = None,
    temporal_padding: str | None = None,
) -> Video3DStudent:
    """3D-ResNet18 (torchvision ``r3d_18``, 33.2M parameters), feat_dim 512.

    Args:
        pretrained: weights file / state dict: 3D weights in torchvision r3d_18 format or a
            dtgkit r3d_18 student / classifier checkpoint (its recorded ``stem_pool``,
            ``temporal_padding`` and normalisation are used when not given here); 2D ResNet18
            weights given here are inflated, as with ``inflate_from``. ``fc.*`` is ignored.
        weights: torchvision weights name, e.g. ``"KINETICS400_V1"`` (needs network on first
            use; the student then normalises with Kinetics statistics).
        inflate_from: 2D ResNet18 weights (path, state dict, ``nn.Module`` or TSN student) to
            inflate I3D-style, see :func:`inflate_2d_to_3d` (the paper's ImageNet init).
        stem_pool: add the 2D ResNet's 3x3/2 spatial max-pool after the stem
            (:func:`add_stem_maxpool`). Default None = as recorded in a dtgkit checkpoint given
            as ``pretrained``, else True when inflating, else False (torchvision's net).
        temporal_padding: ``"zeros"`` (torchvision) or ``"replicate"``
            (:func:`use_replicate_time_padding`). Default None = as recorded in a dtgkit
            checkpoint, else "replicate" when inflating (so an inflated net on a repeated-frame
            clip equals its 2D parent even for short clips), else "zeros".
    """
    return _video_resnet(
        "r3d_18", pretrained=pretrained, weights=weights, inflate_from=inflate_from,
        stem_pool=stem_pool, temporal_padding=temporal_padding,
    )


@register_student("r2plus1d_18")
def r2plus1d_18(
    pretrained: str | Path | Mapping | nn.Module | None = None,
    weights: str | None = None,
    stem_pool: bool | None = None,
    temporal_padding: str | None = None,
) -> Video3DStudent:
    """R(2+1)D-18 (torchvision ``r2plus1d_18``, 31.3M parameters), feat_dim 512.

    Args:
        pretrained: a state dict file / dict in torchvision r2plus1d_18 format, or a dtgkit
            r2plus1d_18 student checkpoint (its recorded options are used when not given).
        weights: torchvision weights name, e.g. ``"KINETICS400_V1"`` (needs network).
        stem_pool: add a 3x3/2 spatial max-pool after the stem (default None = False, or as
            recorded in a dtgkit checkpoint).
        temporal_padding: ``"zeros"`` or ``"replicate"`` (default None = "zeros", or as
            recorded).
    """
    return _video_resnet(
        "r2plus1d_18", pretrained=pretrained, weights=weights, inflate_from=None,
        stem_pool=stem_pool, temporal_padding=temporal_padding,
    )


@register_student("tiny")
def tiny(width: int = 32) -> TSNStudent:
    """A two-conv 2D TSN net for tests and CI (feat_dim = width, ~5k parameters)."""
    half = max(width // 2, 1)
    backbone = nn.Sequential(
        nn.Conv2d(3, half, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(half),
        nn.ReLU(inplace=True),
        nn.Conv2d(half, width, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(1),
    )
    return TSNStudent(backbone, width)


@register_student("tiny3d")
def tiny3d(width: int = 32) -> Video3DStudent:
    """A two-conv 3D net for tests and CI (feat_dim = width, ~15k parameters)."""
    half = max(width // 2, 1)
    backbone = nn.Sequential(
        nn.Conv3d(3, half, 3, stride=(1, 2, 2), padding=1, bias=False),
        nn.BatchNorm3d(half),
        nn.ReLU(inplace=True),
        nn.Conv3d(half, width, 3, stride=(1, 2, 2), padding=1, bias=False),
        nn.BatchNorm3d(width),
        nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool3d(1),
        nn.Flatten(1),
    )
    return Video3DStudent(backbone, width)

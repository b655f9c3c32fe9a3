"""3D students from 2D weights, I3D-style (Carreira & Zisserman 2017; the paper's "† initialised
with ImageNet pre-trained 2D CNN"), and the 3D ResNet changes that make inflation exact.

* :func:`inflate_2d_to_3d` - 2D ResNet kernels repeated over time and divided by its length;
* :func:`add_stem_maxpool` - the 2D ResNet's stem max-pool in a torchvision ``VideoResNet``;
* :func:`use_replicate_time_padding` / :class:`ReplicateTimePadConv3d` - temporal padding by
  repeating the border frames, so a clip of one repeated frame stays constant in time.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dtgkit.models.weights import backbone_part, format_keys, is_2d_resnet, read_weights

__all__ = ["ReplicateTimePadConv3d", "add_stem_maxpool", "inflate_2d_to_3d",
           "use_replicate_time_padding"]


class ReplicateTimePadConv3d(nn.Conv3d):
    """``nn.Conv3d`` that pads time by repeating the border frames; space keeps zero padding.

    Same parameters (and state-dict keys) as the ``nn.Conv3d`` it replaces. With it, a clip of
    one repeated frame stays constant in time through every layer, so an inflated net
    reproduces its 2D parent exactly (zero temporal padding would shrink the border frames'
    responses by (t-1)/t and the error would spread inwards layer by layer).
    """

    def __init__(self, *args: Any, time_padding: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.time_padding = int(time_padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: N x C x T x H x W
        p = self.time_padding
        x = F.pad(x, (0, 0, 0, 0, p, p), mode="replicate")  # N x C x (T+2p) x H x W
        return super().forward(x)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", time_padding={self.time_padding} (replicate)"


def use_replicate_time_padding(model: nn.Module) -> nn.Module:
    """Replace (in place) every ``nn.Conv3d`` with temporal zero padding by a replicate one.

    Args:
        model: any module holding ``nn.Conv3d`` layers (torchvision ``VideoResNet``).

    Returns:
        ``model`` (modified in place; parameters and state-dict keys unchanged).
    """
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is ReplicateTimePadConv3d or not isinstance(child, nn.Conv3d):
                continue
            pt, ph, pw = child.padding  # type: ignore[misc]
            if pt == 0:
                continue
            if child.padding_mode != "zeros":
                raise ValueError(f"{name}: padding_mode {child.padding_mode!r} not supported")
            new = ReplicateTimePadConv3d(
                child.in_channels, child.out_channels, child.kernel_size, stride=child.stride,
                padding=(0, ph, pw), dilation=child.dilation, groups=child.groups,
                bias=child.bias is not None, time_padding=pt,
                device=child.weight.device, dtype=child.weight.dtype,
            )
            new.load_state_dict(child.state_dict())
            setattr(parent, name, new)
    return model


def add_stem_maxpool(model: nn.Module) -> nn.Module:
    """Append a spatial 3x3 / stride-2 max-pool to a torchvision ``VideoResNet`` stem.

    torchvision's r3d_18 / r2plus1d_18 stems have no max-pool (2D ResNets do: 7x7/2 conv then
    3x3/2 max-pool). With the pool the 3D net has the 2D ResNet's spatial geometry (4x fewer
    FLOPs; an inflated net sees features at the scale its 2D filters were trained for). The pool
    has no parameters, so state dicts are unchanged.

    Args:
        model: a ``VideoResNet`` (has ``.stem``, an ``nn.Sequential``).

    Returns:
        ``model`` (modified in place).
    """
    model.stem.append(nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)))
    return model


# 2D torchvision ResNet name -> torchvision VideoResNet (BasicBlock, Conv3DSimple) name
INFLATE_RENAMES = [
    (re.compile(r"^conv1\."), "stem.0."),
    (re.compile(r"^bn1\."), "stem.1."),
    (re.compile(r"^(layer\d\.\d+)\.conv(\d)\."), r"\1.conv\2.0."),
    (re.compile(r"^(layer\d\.\d+)\.bn(\d)\."), r"\1.conv\2.1."),
]


def rename_2d_to_3d(key: str) -> str:
    for pattern, repl in INFLATE_RENAMES:
        key, n = pattern.subn(repl, key)
        if n:
            break
    return key


def inflate_2d_to_3d(
    source: str | Path | Mapping | nn.Module, model3d: nn.Module
) -> nn.Module:
    """Initialise a torchvision 3D ResNet from 2D ResNet weights, I3D-style (Carreira 2017).

    Each 2D conv kernel k x k becomes t x k x k by repeating it t times along time and
    dividing by t (t = the 3D kernel's temporal size: 3 for r3d_18's stem and 3x3x3 convs, 1 for
    the 1x1 -> 1x1x1 downsample convs, which keep their temporal stride 2). BatchNorm weights,
    biases and running statistics are copied; the 2D ``fc`` is ignored. So a clip of one
    repeated frame gives, at every time step, the 2D net's response to that frame -- exactly
    when the 3D net also has the 2D stem's max-pool (:func:`add_stem_maxpool`) and replicate
    temporal padding (:func:`use_replicate_time_padding`); ``create_student("r3d_18",
    inflate_from=...)`` sets both by default.

    Args:
        source: 2D weights in torchvision ResNet naming (``conv1``, ``bn1``, ``layer1.0.conv1``,
            ``layer1.0.downsample.0`` ...): a file path, a state dict, a 2D ``nn.Module``
            (e.g. ``torchvision.models.resnet18()``) or a dtgkit TSN student.
        model3d: a torchvision ``VideoResNet`` with ``Conv3DSimple`` blocks (r3d_18), its
            ``fc`` removed or not, or a :class:`~dtgkit.models.students.Video3DStudent` wrapping one.

    Returns:
        ``model3d`` with the inflated weights loaded (in place).

    Raises:
        ValueError: keys or shapes do not match (e.g. ResNet34 weights for r3d_18), naming them.
    """
    inner = getattr(model3d, "backbone", None)  # a dtgkit Video3DStudent wraps the VideoResNet
    target = inner if isinstance(inner, nn.Module) else model3d
    tensors, name = read_weights(source)
    if not is_2d_resnet(tensors):
        raise ValueError(
            f"{name}: not 2D ResNet weights (no 4-D conv1.weight); 3D weights load with "
            "pretrained= instead of inflate_from="
        )
    state2d = backbone_part(tensors)
    renamed = {rename_2d_to_3d(k): v for k, v in state2d.items() if not k.startswith("fc.")}
    wanted = {k: v for k, v in target.state_dict().items() if not k.startswith("fc.")}
    missing = [k for k in wanted if k not in renamed]
    unexpected = [k for k in renamed if k not in wanted]
    if missing or unexpected:
        raise ValueError(
            f"{name}: cannot inflate into {type(target).__name__}: missing {format_keys(missing)}, "
            f"unexpected {format_keys(unexpected)} (inflation expects 2D ResNet18 weights for r3d_18)"
        )
    new_state: dict[str, torch.Tensor] = {}
    bad: list[str] = []
    for key, dst in wanted.items():
        src = renamed[key]
        if src.dim() == 4 and dst.dim() == 5:  # conv: C_out x C_in x k x k -> x t x k x k
            t = dst.shape[2]
            if src.shape != dst.shape[:2] + dst.shape[3:]:
                bad.append(f"{key} {tuple(src.shape)} -> {tuple(dst.shape)}")
                continue
            src = src.unsqueeze(2).repeat(1, 1, t, 1, 1) / t  # C_out x C_in x t x k x k
        elif src.shape != dst.shape:
            bad.append(f"{key} {tuple(src.shape)} -> {tuple(dst.shape)}")
            continue
        new_state[key] = src.to(dst.dtype)
    if bad:
        raise ValueError(f"{name}: shape mismatch while inflating: {format_keys(bad)}")
    target.load_state_dict(new_state, strict=False)
    return model3d

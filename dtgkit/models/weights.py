"""Weight files and state dicts, as students, their inflation and teachers read them.

* :func:`unwrap_state_dict` - the tensors of a checkpoint under its usual wrappers
  (``{"state_dict" | "model" | "model_state_dict" | "student": ...}``, DDP ``module.``
  prefixes, a dtgkit classifier's ``student.`` prefix);
* :func:`load_state_dict_file` / :func:`read_weights` - the same from a file, a dict or a module;
* :func:`backbone_part`, :func:`is_2d_resnet` - what the tensors are.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["backbone_part", "format_keys", "is_2d_resnet", "load_state_dict_file", "read_weights",
           "unwrap_state_dict"]


def unwrap_state_dict(state: Any, source: str) -> dict[str, torch.Tensor]:
    """The tensors of a state dict at the network's own level.

    Unwraps ``{"state_dict" | "model" | "model_state_dict" | "student": ...}`` (nested wrappers
    too), keeps the tensors, strips DDP's ``module.`` prefix and, for a dtgkit
    ``StudentClassifier``, the ``student.`` prefix (student level: ``backbone.*``, ``mean`` ...).

    Args:
        state: what ``torch.load`` returned (or a module's ``state_dict()``).
        source: the file (or a name) for messages.

    Raises:
        ValueError: not a dict, or no tensors in it.
    """
    for key in ("state_dict", "model", "model_state_dict", "student"):
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
    if not isinstance(state, Mapping):  # bad file content: a user-facing ValueError (contract)
        raise ValueError(  # noqa: TRY004
            f"{source} does not hold a state dict (a dict of tensors, possibly under a "
            f"'state_dict' key), got {type(state).__name__}")
    tensors = {k.removeprefix("module."): v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ValueError(f"{source}: no tensors found in the state dict")
    if any(k.startswith("student.backbone.") for k in tensors):  # a StudentClassifier
        tensors = {k[len("student."):]: v for k, v in tensors.items() if k.startswith("student.")}
    return tensors


def backbone_part(tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The ``backbone.`` part of a dtgkit student state dict, or ``tensors`` unchanged."""
    if any(k.startswith("backbone.") for k in tensors):
        return {k[len("backbone."):]: v for k, v in tensors.items() if k.startswith("backbone.")}
    return dict(tensors)


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a state dict saved with ``torch.save`` (tensors only, ``weights_only=True``).

    Accepts plain torchvision state dicts, ``{"state_dict" | "model" | "student": ...}``
    checkpoints, ``module.``-prefixed DDP dicts and dtgkit student / classifier state dicts
    (returned at the student level: ``backbone.*``, ``mean``, ``std`` ...).

    Args:
        path: file path.

    Returns:
        name -> tensor.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file cannot be read as a state dict.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle / zip errors come in many types; torch's own text would
        # suggest weights_only=False, which runs whatever code the file holds: never say that
        raise ValueError(f"{path} is not a weights file torch can read safely (truncated or "
                         f"corrupt: {type(err).__name__} while reading it)") from err
    if not isinstance(state, Mapping):  # bad file content: a user-facing ValueError (contract)
        raise ValueError(  # noqa: TRY004
            f"{path}: expected a state dict, got {type(state).__name__}"
        )
    return unwrap_state_dict(state, str(path))


def read_weights(source: str | Path | Mapping | nn.Module) -> tuple[dict, str]:
    """(network-level tensors, a name for messages) from a path, a state dict or a module."""
    if isinstance(source, nn.Module):
        name = type(source).__name__
        return unwrap_state_dict(source.state_dict(), name), name
    if isinstance(source, Mapping):
        return unwrap_state_dict(source, "state dict"), "state dict"
    return load_state_dict_file(source), str(source)


def is_2d_resnet(tensors: Mapping[str, torch.Tensor]) -> bool:
    w = backbone_part(tensors).get("conv1.weight")
    return w is not None and w.dim() == 4


def format_keys(keys: list[str], k: int = 5) -> str:
    """The first ``k`` keys for a message, with how many more there are."""
    more = f" (+{len(keys) - k} more)" if len(keys) > k else ""
    return "[" + ", ".join(keys[:k]) + "]" + more



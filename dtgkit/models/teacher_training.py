"""Making a teacher: fine-tune an image network on a still-image task (``dtgkit train-teacher``).

This is how the BU101 / Stanford40 analogues and the scene teacher of SynthActions were made
(``data_samples/teachers/``), and how a user turns any ImageFolder task into a teacher: start
from a registered teacher spec (e.g. the ImageNet EfficientNet-Lite0), replace its classifier,
train the last stages (``tune_last``) or all of it, report held-out accuracy and write an
atomic checkpoint that :func:`dtgkit.models.teachers.create_teacher` loads as
``checkpoint:PATH``.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from dtgkit.models.teachers import CHECKPOINT_FORMAT, build_arch, create_teacher, last_linear_name

__all__ = ["evaluate_classifier", "image_folder_splits", "train_teacher"]


# --------------------------------------------------------------------------------------------
# Fine-tuning a teacher on a still-image task (how BU101 / Stanford40 / SynthActions teachers
# are made)
# --------------------------------------------------------------------------------------------
def _stages(model: nn.Module, head_name: str) -> tuple[list[nn.Module], nn.Module]:
    """The model's trunk as an ordered list of stages, and the stage holding the head."""
    top = head_name.split(".")[0]
    if hasattr(model, "_blocks"):  # EfficientNet(-Lite): stem, 16 MBConv blocks, head conv
        return ([nn.ModuleList([model._conv_stem, model._bn0]), *model._blocks,
                 nn.ModuleList([model._conv_head, model._bn1])], model.get_submodule(top))
    stages = [m for n, m in model.named_children()
              if n != top and any(True for _ in m.parameters())]
    return stages, model.get_submodule(top)


def _atomic_save(obj: Any, path: str | os.PathLike) -> str:
    """torch.save to memory, then tmp file + os.replace; returns the file's sha256."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    data = buffer.getvalue()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return hashlib.sha256(data).hexdigest()


def image_folder_splits(root: str | os.PathLike, size: int):
    """``ROOT/train`` and ``ROOT/test`` as torchvision ImageFolders of [0, 1] tensors.

    Train images get a random resized crop + flip, test images a resize + centre crop.

    Raises:
        FileNotFoundError: a split folder is missing.
        ValueError: the two splits have different classes.
    """
    from torchvision import datasets, transforms

    root = Path(root)
    for split in ("train", "test"):
        if not (root / split).is_dir():
            raise FileNotFoundError(f"{root / split} not found: --images expects "
                                    "ROOT/train/<class>/* and ROOT/test/<class>/*")
    train_tf = transforms.Compose([
        transforms.RandomResizedCrop(size, scale=(0.6, 1.0)), transforms.RandomHorizontalFlip(),
        transforms.ToTensor()])
    test_tf = transforms.Compose([
        transforms.Resize(size), transforms.CenterCrop(size), transforms.ToTensor()])
    train = datasets.ImageFolder(str(root / "train"), transform=train_tf)
    test = datasets.ImageFolder(str(root / "test"), transform=test_tf)
    if train.classes != test.classes:
        raise ValueError(f"{root}: train classes {train.classes} differ from test classes "
                         f"{test.classes}")
    return train, test


@torch.no_grad()
def evaluate_classifier(teacher_or_model: Callable[[torch.Tensor], torch.Tensor], loader,
                        device: torch.device | str = "cpu") -> float:
    """Top-1 accuracy (in [0, 1]) of ``logits = f(images)`` over a loader of (images, labels)."""
    correct = total = 0
    for images, labels in loader:
        logits = teacher_or_model(images.to(device))  # B x C
        correct += int((logits.argmax(1).cpu() == labels).sum())
        total += len(labels)
    return correct / max(total, 1)


def train_teacher(images: str | os.PathLike, init: str, out: str | os.PathLike, *,
                  epochs: int = 5, lr: float = 1e-3, size: int = 112, batch_size: int = 32,
                  seed: int = 0, tune_last: int = -1, weight_decay: float = 1e-4,
                  num_workers: int = 0, name: str | None = None, device: str | None = None,
                  progress: bool = True) -> dict:
    """Fine-tune a teacher on an ImageFolder still-image task and write a teacher checkpoint.

    The network of ``init`` gets a new classifier for the task's classes; the last
    ``tune_last`` trunk stages (EfficientNet: MBConv blocks + head conv; torchvision: top-level
    children) and the classifier are trained with AdamW and a cosine lr, the earlier stages stay
    frozen (their BatchNorm in eval mode). When ``init`` has verified weights (a sha256) and
    ``tune_last >= 0`` only the trained tensors are stored, with the base spec and sha256 (a
    "partial" checkpoint, rebuilt by ``create_teacher("checkpoint:PATH")``).

    Args:
        images: ROOT with ``train/<class>/*`` and ``test/<class>/*`` images.
        init: teacher spec to start from, e.g. ``"imagenet-efficientnet-lite0"``.
        out: checkpoint path (written atomically).
        epochs, lr, batch_size, weight_decay: optimisation (defaults 5, 1e-3, 32, 1e-4).
        size: training / input size in px (default 112); stored as the teacher's input size.
        seed: seeds the new classifier, the shuffling and the augmentation.
        tune_last: number of trunk stages to train, counted from the top; -1 trains all.
        num_workers: DataLoader workers.
        name: teacher name stored in the checkpoint (default: the file stem).
        device: torch device (default cuda if available, else cpu).
        progress: show a tqdm bar.

    Returns:
        dict(acc=held-out top-1 in [0, 1], path, sha256, num_classes, history=[per-epoch
        dict(epoch, loss, acc)], seconds).
    """
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    train_set, test_set = image_folder_splits(images, size)
    base = create_teacher(init)
    if base.arch is None:
        raise ValueError(f"teacher {init!r} cannot be fine-tuned (unknown architecture)")
    torch.manual_seed(seed)
    model = build_arch(base.arch, len(train_set.classes), **base.arch_kw)
    base_state = base.network.state_dict()
    model.load_state_dict({k: v for k, v in base_state.items()
                           if k in model.state_dict() and v.shape == model.state_dict()[k].shape},
                          strict=False)
    head_name = last_linear_name(model)
    stages, head_stage = _stages(model, head_name)
    tuned = stages if tune_last < 0 else stages[len(stages) - tune_last:] if tune_last else []
    frozen = [m for m in stages if all(m is not t for t in tuned)]
    model.requires_grad_(False)
    for m in [*tuned, head_stage]:
        m.requires_grad_(True)
    model.to(device)
    mean = base.mean.to(device)
    std = base.std.to(device)

    def logits_of(x: torch.Tensor) -> torch.Tensor:
        return model((x - mean) / std)  # B x C

    gen = torch.Generator().manual_seed(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, generator=gen,
                              num_workers=num_workers, drop_last=len(train_set) > batch_size)
    test_loader = DataLoader(test_set, batch_size=batch_size * 2, num_workers=num_workers)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    total_steps = max(1, epochs * len(train_loader))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps)))
    history = []
    start = time.time()
    bar = tqdm(total=total_steps, desc=f"train-teacher {Path(out).name}", disable=not progress)
    for epoch in range(epochs):
        model.train()
        for m in frozen:
            m.eval()  # frozen stages keep their pre-trained BatchNorm statistics
        losses = []
        for x, y in train_loader:
            loss = F.cross_entropy(logits_of(x.to(device)), y.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-10:]):.3f}")
        model.eval()
        acc = evaluate_classifier(logits_of, test_loader, device)
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), "acc": acc})
        bar.set_postfix(loss=f"{np.mean(losses):.3f}", acc=f"{acc:.3f}")
    bar.close()
    acc = history[-1]["acc"] if history else evaluate_classifier(logits_of, test_loader, device)

    partial = tune_last >= 0 and base.weights_sha256 is not None
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    if partial:  # keep only what training changed: tuned stages + classifier
        keep = {id(t) for m in [*tuned, head_stage] for t in [*m.parameters(), *m.buffers()]}
        names = {n for n, t in [*model.named_parameters(), *model.named_buffers()]
                 if id(t) in keep}
        state = {k: v for k, v in state.items() if k in names}
    meta = {"name": name or Path(out).stem, "init": init, "size": size,
            "mean": [float(v) for v in base.mean.flatten()],
            "std": [float(v) for v in base.std.flatten()], "arch_kw": base.arch_kw,
            "epochs": epochs, "lr": lr, "batch_size": batch_size, "seed": seed,
            "tune_last": tune_last, "weight_decay": weight_decay, "acc": acc,
            "history": history, "partial": partial, "images": str(images),
            "num_train": len(train_set), "num_test": len(test_set)}
    if partial:
        meta["base_spec"] = base.spec
        meta["base_sha256"] = base.weights_sha256
    ckpt = {"format": CHECKPOINT_FORMAT, "arch": base.arch, "num_classes": len(train_set.classes),
            "classes": list(train_set.classes), "state_dict": state, "meta": meta}
    sha = _atomic_save(ckpt, out)
    return {"acc": acc, "path": str(out), "sha256": sha, "num_classes": len(train_set.classes),
            "history": history, "seconds": time.time() - start}


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def _cmd_train_teacher(args: argparse.Namespace) -> int:
    result = train_teacher(args.images, args.init, args.out, epochs=args.epochs, lr=args.lr,
                           size=args.size, batch_size=args.batch_size, seed=args.seed,
                           tune_last=args.tune_last, num_workers=args.workers,
                           name=args.name, progress=not args.quiet)
    print(f"held-out accuracy {100 * result['acc']:.2f}% ({result['num_classes']} classes)")
    print(f"wrote {result['path']}  sha256 {result['sha256']}")
    print(f"use it as the teacher spec: checkpoint:{result['path']}")
    return 0


def add_cli(subparsers) -> None:
    """Adds ``train-teacher`` to the dtgkit CLI."""
    p = subparsers.add_parser(
        "train-teacher", help="fine-tune a teacher on a still-image ImageFolder task",
        description="Fine-tune a teacher on ROOT/train/<class>/*, report accuracy on "
                    "ROOT/test/<class>/*, write a checkpoint usable as checkpoint:PATH.")
    p.add_argument("--images", required=True, help="ImageFolder root with train/ and test/")
    p.add_argument("--init", default="imagenet-efficientnet-lite0", help="teacher spec to start from")
    p.add_argument("--out", required=True, help="checkpoint path to write")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--size", type=int, default=112, help="input size in px")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tune-last", type=int, default=-1,
                   help="train only the last N trunk stages (+ classifier); -1: all")
    p.add_argument("--workers", type=int, default=0, help="DataLoader workers")
    p.add_argument("--name", default=None, help="teacher name stored in the checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train_teacher)

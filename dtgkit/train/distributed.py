"""Multi-process data parallel training through ``torchrun`` (no home-made launcher).

Launch any dtgkit training command with torchrun; each process reads its place from the
environment torchrun sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` ...)::

    torchrun --nproc_per_node=2 -m dtgkit pretrain --preset cpu-demo

* backend: ``nccl`` on CUDA, ``gloo`` on CPU; each process uses ``cuda:LOCAL_RANK``.
* ``batch_size`` in the configs is the **global** batch: every rank gets ``batch_size /
  world_size`` samples per step (MoCo's convention), so a run on 2 processes sees the same
  samples per step as a run on 1 (the data order comes from ``DistributedSampler`` seeded by
  ``(seed, epoch)`` in both cases).
* only rank 0 writes logs, metrics, checkpoints and results; the others wait at barriers.
* the DTG guidance queue all-gathers its keys (:func:`dtgkit.dtg.queue.concat_all_gather`), so
  every rank holds the same queue; DDP averages the gradients.
* BatchNorm layers use per-rank batch statistics (as MoCo, TSN and mmaction2 do by default);
  on CUDA, ``run.sync_bn`` (``convert_sync_batchnorm=True`` in :func:`wrap_ddp`) makes them
  global: with 8 clips per GPU a 3D ResNet's statistics are poor otherwise.
* evaluation runs on every rank: each extracts the features of its share of the test / bank
  videos (:func:`shard_indices`, no padding duplicates) and
  :func:`dtgkit.dtg.queue.concat_all_gather` joins them,
  so no rank idles at a barrier while rank 0 decodes a Kinetics-size bank.
* ``run.dist_timeout_s`` (default 1800 s) is the collective timeout.

Without torchrun (``WORLD_SIZE`` unset or 1) everything here is a no-op and the same code runs
in one process.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

__all__ = [
    "DistInfo",
    "all_reduce_mean",
    "barrier",
    "broadcast_object",
    "cleanup",
    "get_rank",
    "get_world_size",
    "init_distributed",
    "is_distributed",
    "is_main_process",
    "select_device",
    "shard_indices",
    "unwrap",
    "wrap_ddp",
]


@dataclass
class DistInfo:
    """Where this process stands: rank, world size, local rank, backend, device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str = ""
    device: torch.device | None = None  #: the device this process trains on

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def select_device(spec: str = "auto", local_rank: int = 0) -> torch.device:
    """The device a run uses: ``auto`` picks cuda (``cuda:LOCAL_RANK``), then mps, then cpu.

    Raises:
        ValueError: when the requested device is not available here.
    """
    spec = (spec or "auto").strip()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(spec)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"run.device={spec!r}: CUDA is not available on this machine (use auto or cpu)")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"run.device={spec!r}: MPS is not available on this machine (use auto or cpu)")
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", local_rank % torch.cuda.device_count())
    return dev


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def get_rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    return get_rank() == 0


def init_distributed(device: str = "auto", backend: str | None = None,
                     timeout_s: float = 1800.0) -> DistInfo:
    """Join the process group torchrun describes in the environment (no-op without it).

    Args:
        device: ``run.device`` (``auto`` -> ``cuda:LOCAL_RANK`` / mps / cpu).
        backend: ``nccl`` / ``gloo``; default nccl on CUDA, gloo otherwise.
        timeout_s: collective timeout.

    Returns:
        A :class:`DistInfo` (world_size 1 when not launched by torchrun).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = select_device(device, local_rank)
    if world <= 1:
        return DistInfo(0, 1, 0, "", dev)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    backend = backend or ("nccl" if dev.type == "cuda" else "gloo")
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, timeout=datetime.timedelta(seconds=timeout_s),
                                **({"device_id": dev} if dev.type == "cuda" else {}))
    return DistInfo(dist.get_rank(), dist.get_world_size(), local_rank, backend, dev)


def barrier() -> None:
    if is_distributed():
        dist.barrier()


@torch.no_grad()
def all_reduce_mean(values: torch.Tensor) -> torch.Tensor:
    """Mean of a tensor over ranks (the tensor itself without a process group)."""
    if not is_distributed():
        return values
    out = values.clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / dist.get_world_size()


def shard_indices(n: int, rank: int | None = None, world_size: int | None = None) -> range:
    """This rank's share of ``n`` samples: ``rank, rank + W, rank + 2W, ...`` (no padding, so
    every sample is counted once; shares differ by at most one)."""
    rank = get_rank() if rank is None else rank
    world_size = get_world_size() if world_size is None else world_size
    return range(rank, n, world_size)


def broadcast_object(obj):
    """Rank 0's ``obj`` on every rank (pickled; for small things like a run directory)."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def wrap_ddp(model: nn.Module, device: torch.device, *, convert_sync_batchnorm: bool = False,
             find_unused_parameters: bool = False) -> nn.Module:
    """``DistributedDataParallel`` around ``model`` when a process group is up, else ``model``.

    ``broadcast_buffers=False``: buffers (the guidance queue, BatchNorm statistics) are not
    overwritten by rank 0's at every forward; the queue is kept identical by its all-gather and
    DDP broadcasts every buffer once, when it wraps the model.
    """
    if not is_distributed():
        return model
    if convert_sync_batchnorm and device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(
        model, device_ids=ids, broadcast_buffers=False, find_unused_parameters=find_unused_parameters
    )


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DDP wrapper (or the module itself)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def cleanup() -> None:
    """Leave the process group (call at the end of a torchrun process)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()

"""DistributedDataParallel plumbing: process-group set-up from torchrun's environment, devices,
and gathering sharded validation outputs.

Under ``torchrun`` (``WORLD_SIZE`` > 1) the backend is ``nccl`` when the device is a GPU and
``gloo`` on CPU; each process drives ``cuda:LOCAL_RANK`` (GPU) or the CPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from workbench.utils.devices import resolve_device

__all__ = ["DistInfo", "resolve_device", "init_distributed", "dist_info", "gather_rows", "all_mean", "shutdown"]


@dataclass(frozen=True)
class DistInfo:
    world_size: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def dist_info() -> DistInfo:
    """World size and ranks of the current process group (1 / 0 / 0 when there is none)."""
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_world_size(), dist.get_rank(), int(os.environ.get("LOCAL_RANK", 0)))
    return DistInfo()


def init_distributed(device_choice: str = "auto") -> tuple[DistInfo, torch.device]:
    """Join the process group when launched by torchrun; returns ``(info, device)``.

    Single-process runs (no ``WORLD_SIZE`` or ``WORLD_SIZE=1``) create no group.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_choice, local_rank)
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
    return dist_info(), device


def shutdown() -> None:
    """Leave the process group if one was joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_mean(value: float, device: torch.device) -> float:
    """Mean of a scalar over ranks (the value itself when not distributed)."""
    if not dist_info().distributed:
        return float(value)
    t = torch.tensor([float(value)], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item()) / dist.get_world_size()


def gather_rows(n: int, index: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Assemble per-item rows computed on different ranks into one (n, ...) tensor on every rank.

    index: (m,) int64 item numbers this rank computed; rows: (m, ...) values. Each item must be
    computed by some rank; duplicates (padding) are allowed and must agree.
    """
    info = dist_info()
    if not info.distributed:
        out = torch.empty((n, *rows.shape[1:]), dtype=rows.dtype, device=rows.device)
        out[index] = rows
        return out
    m = torch.tensor([len(index)], device=rows.device)
    sizes = [torch.zeros_like(m) for _ in range(info.world_size)]
    dist.all_gather(sizes, m)
    cap = int(max(s.item() for s in sizes))
    pad_idx = torch.full((cap,), -1, dtype=torch.int64, device=rows.device)
    pad_idx[: len(index)] = index
    pad_rows = torch.zeros((cap, *rows.shape[1:]), dtype=rows.dtype, device=rows.device)
    pad_rows[: len(rows)] = rows
    all_idx = [torch.empty_like(pad_idx) for _ in range(info.world_size)]
    all_rows = [torch.empty_like(pad_rows) for _ in range(info.world_size)]
    dist.all_gather(all_idx, pad_idx)
    dist.all_gather(all_rows, pad_rows)
    idx, vals = torch.cat(all_idx), torch.cat(all_rows)
    keep = idx >= 0
    out = torch.empty((n, *rows.shape[1:]), dtype=rows.dtype, device=rows.device)
    out[idx[keep]] = vals[keep]
    return out

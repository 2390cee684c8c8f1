"""The device a command runs on: ``auto`` (a GPU when torch sees one, else the CPU), ``cpu`` or ``cuda``."""

from __future__ import annotations

import torch

from workbench.utils.errors import check_choice

__all__ = ["DEVICES", "resolve_device"]

DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")


def resolve_device(choice: str = "auto", local_rank: int = 0) -> torch.device:
    """``auto``: ``cuda:LOCAL_RANK`` when a GPU is present, else CPU. ``cuda`` without a GPU is an error."""
    check_choice("device", choice, DEVICES)
    if choice == "cpu" or (choice == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError("--device cuda asked for, but torch sees no GPU; use --device auto or cpu")
    return torch.device("cuda", local_rank % torch.cuda.device_count())

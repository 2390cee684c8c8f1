"""Mixed precision for training and validation: fp32, or bfloat16 autocast with fp32 master weights.

``bf16`` runs matmuls and convolutions in bfloat16 under :func:`torch.autocast` while the weights,
their gradients, the optimizer state and the loss stay fp32 (no loss scaling is needed: bfloat16
has fp32's exponent range). On this project's CPU (AMX, Sapphire Rapids) a cpu-small training step
is 1.72x faster (``bench/results/train.md``) and a cpu-base step ~2.6x (a probe); on a CPU without
AMX / AVX512-BF16 bfloat16 is emulated and typically slower than fp32 (not measured here), which is
why ``auto`` checks the hardware first.
On a GPU ``auto`` picks bf16 where ``torch.cuda.is_bf16_supported()`` (Ampere and later).

Only training and validation use it; the capture layer explains in fp32.
"""

from __future__ import annotations

import contextlib
import functools

import torch

from workbench.utils.errors import check_choice

__all__ = ["PRECISIONS", "resolve_precision", "precision_forward", "cpu_has_fast_bf16"]

PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "auto")
"""``fp32`` (default), ``bf16`` (autocast), ``auto`` (bf16 where the device runs it natively)."""


@functools.cache
def cpu_has_fast_bf16() -> bool:
    """True when this CPU has native bfloat16 matmuls (AMX tiles or AVX512-BF16)."""
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    for name in probes:
        probe = getattr(torch.cpu, name, None)
        try:
            if probe is not None and probe():
                return True
        except RuntimeError:  # pragma: no cover - a torch build without the probe's kernels
            continue
    return False


def resolve_precision(choice: str, device: torch.device) -> str:
    """``fp32`` or ``bf16`` for ``device``; ``auto`` picks bf16 only where it is native."""
    check_choice("precision", choice, PRECISIONS)
    if choice != "auto":
        return choice
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if device.type == "cpu" and cpu_has_fast_bf16() else "fp32"


def precision_forward(model: torch.nn.Module, images: torch.Tensor, precision: str) -> torch.Tensor:
    """``model(images)`` under ``precision`` (resolved for ``images.device``), returned as fp32.

    images (B, C, S, S) -> the model's output in float32 (bf16 autocast's output cast back, so losses
    and probabilities are computed in fp32).
    """
    device = images.device
    if resolve_precision(precision, device) == "fp32":
        context = contextlib.nullcontext()
    else:
        context = torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    with context:
        out = model(images)
    return out.float()

"""Shared argument checks and NaN-safe arithmetic of the evaluation metrics (private)."""

from __future__ import annotations

import torch

__all__ = ["check_same_shape", "as_mask", "flat", "safe_div"]


def check_same_shape(a: torch.Tensor, b: torch.Tensor, names: tuple[str, str] = ("maps", "masks")) -> None:
    """Raise if ``a`` and ``b`` differ in shape or hold no batch axis; the message shows both shapes."""
    if a.shape != b.shape:
        raise ValueError(f"{names[0]} of shape {tuple(a.shape)} and {names[1]} of shape {tuple(b.shape)} differ; "
                         f"give both as (B, H, W) (or (B, ...) with the same trailing axes)")
    if a.ndim < 2:
        raise ValueError(f"{names[0]} of shape {tuple(a.shape)} has no batch axis; give (B, H, W), e.g. x[None]")


def as_mask(masks: torch.Tensor, name: str = "masks") -> torch.Tensor:
    """bool view of a 0/1 tensor (bool, integer or float); other values are an error.

    masks: any shape -> bool, same shape.
    """
    if masks.dtype == torch.bool:
        return masks
    bad = (masks != 0) & (masks != 1)
    if bool(bad.any()):
        raise ValueError(f"{name} must hold only 0 and 1 (or be bool); found {masks[bad].flatten()[0].item()!r}; "
                         f"binarize maps first (e.g. maps > threshold)")
    return masks != 0


def flat(x: torch.Tensor) -> torch.Tensor:
    """(B, ...) -> (B, P): one row per sample."""
    return x.reshape(x.shape[0], -1)


def safe_div(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """num / den in float64, NaN where den == 0 (never inf, never a silent 0 or 1)."""
    num = num.to(torch.float64)
    den = den.to(torch.float64)
    return torch.where(den != 0, num / torch.where(den != 0, den, torch.ones_like(den)), torch.full_like(den, float("nan")))


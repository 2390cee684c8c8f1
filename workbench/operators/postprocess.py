"""Post-processing of raw maps: upsampling, ReLU, brain mask, min-max, threshold.

Separate from the operators (which return raw, signed maps) and composable. The paper pipeline
(HGI-SAM, MELBA 2023, section 3) is: upsample -> times brain mask -> min-max -> threshold, which is
:func:`postprocess` with ``PostProcess(normalize=True, threshold=t)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["PostProcess", "upsample", "minmax", "apply_mask", "binarize", "postprocess"]


def upsample(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize (align_corners=False). maps: (B, h, w) -> (B, H, W); no-op at the same size."""
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    return F.interpolate(maps[:, None], size=tuple(size), mode="bilinear", align_corners=False)[:, 0]


def minmax(maps: torch.Tensor) -> torch.Tensor:
    """Per-sample min-max to [0, 1]: the minimum goes to 0, the maximum to 1 (order kept).

    maps: (B, ...) -> same shape. Scale-free (no epsilon: gradient-weighted products can be ~1e-14);
    a constant map becomes all zeros.
    """
    flat = maps.reshape(maps.shape[0], -1)
    low = flat.min(dim=1, keepdim=True).values
    span = flat.max(dim=1, keepdim=True).values - low
    out = torch.where(span > 0, (flat - low) / torch.where(span > 0, span, torch.ones_like(span)), torch.zeros_like(flat))
    return out.reshape(maps.shape)


def apply_mask(maps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """maps (B, H, W) times a brain mask (H, W) or (B, H, W), bool or float."""
    if mask.shape[-2:] != maps.shape[-2:] or mask.ndim not in (2, 3) or (mask.ndim == 3 and mask.shape[0] != maps.shape[0]):
        raise ValueError(f"brain mask of shape {tuple(mask.shape)} does not fit maps {tuple(maps.shape)}; give (H, W) or (B, H, W)")
    return maps * mask.to(maps.dtype)


def binarize(maps: torch.Tensor, threshold: float) -> torch.Tensor:
    """maps > threshold, bool, same shape."""
    return maps > threshold


@dataclass(frozen=True)
class PostProcess:
    """relu: clamp negatives first; normalize: min-max after masking; threshold: binarize last."""

    relu: bool = False
    normalize: bool = False
    threshold: float | None = None


def postprocess(
    maps: torch.Tensor,
    size: tuple[int, int],
    brain_mask: torch.Tensor | None = None,
    config: PostProcess = PostProcess(),
) -> torch.Tensor:
    """Raw maps (B, h, w) -> (B, H, W) at ``size``: upsample, [relu], [x mask], [min-max], [> t]."""
    out = upsample(maps, size)
    if config.relu:
        out = out.clamp_min(0)
    if brain_mask is not None:
        out = apply_mask(out, brain_mask.to(out.device))
    if config.normalize:
        out = minmax(out)
    if config.threshold is not None:
        out = binarize(out, config.threshold)
    return out

"""Post-processing of raw maps: upsampling, ReLU, brain mask, min-max, threshold.

Separate from the operators (which return raw, signed maps) and composable. The paper pipeline
(HGI-SAM, MELBA 2023, section 3) is: upsample -> times brain mask -> min-max -> threshold, which is
:func:`postprocess` with ``PostProcess(normalize=True, threshold=t)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["PostProcess", "upsample", "minmax", "rank_normalize", "apply_mask", "binarize", "postprocess"]


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


def _check_mask(mask: torch.Tensor, maps: torch.Tensor) -> None:
    if mask.shape[-2:] != maps.shape[-2:] or mask.ndim not in (2, 3) or (mask.ndim == 3 and mask.shape[0] != maps.shape[0]):
        raise ValueError(f"mask of shape {tuple(mask.shape)} does not fit maps {tuple(maps.shape)}; give (H, W) or (B, H, W)")


def rank_normalize(maps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Each in-mask pixel -> the fraction of the sample's in-mask pixels whose value is <= its own
    (the empirical CDF inside the brain); 0 outside the mask.

    maps (B, H, W), mask (H, W) or (B, H, W) -> (B, H, W) in [0, 1]. A display / threshold scale for
    maps that live in a narrow band after min-max (rollout: 0.94-1.0 inside the brain): threshold
    ``t`` keeps about the top ``1 - t`` of the brain whatever the band. Ties share the upper value, so
    a constant map stays all 1 inside the mask (no structure is invented). A sample with an empty
    mask is all 0.
    """
    _check_mask(mask, maps)
    mask = mask.expand(maps.shape) if mask.ndim == 2 else mask
    flat, inside = maps.reshape(maps.shape[0], -1).float(), mask.reshape(maps.shape[0], -1).bool()
    ordered = torch.where(inside, flat, torch.full_like(flat, float("inf"))).sort(dim=1).values
    count = inside.sum(dim=1, keepdim=True).clamp_min(1)
    below = torch.searchsorted(ordered, flat.contiguous(), right=True)
    return torch.where(inside, below / count, torch.zeros_like(flat)).reshape(maps.shape)


def apply_mask(maps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """maps (B, H, W) times a brain mask (H, W) or (B, H, W), bool or float."""
    _check_mask(mask, maps)
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

"""Dice and IoU of binary predictions against lesion masks, per sample and over threshold grids.

Conventions (after the evaluation of the HGI-SAM paper, MELBA 2023, section 4):
- a sample whose ground truth is empty scores NaN (never 0, never 1): Dice and IoU are undefined
  there, and reductions skip NaN (see :mod:`workbench.evaluation.aggregate`);
- an empty prediction against a non-empty ground truth scores 0;
- a map is binarised as ``map > threshold`` (strict), as :func:`workbench.operators.postprocess.binarize`.

All functions work per sample: (B, ...) in, (B,) or (B, Q) out; the trailing axes may be (H, W)
for slices or (Z, H, W) for volumes.
"""

from __future__ import annotations

import torch

from workbench.evaluation._common import as_mask, check_same_shape, flat, safe_div
from workbench.evaluation.ranking import check_finite

__all__ = ["THRESHOLD_GRID", "overlap_counts", "dice_from_counts", "iou_from_counts", "dice", "iou",
           "overlap_curve", "dice_curve", "iou_curve", "threshold_grid"]


def overlap_counts(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pixel counts |pred & target|, |pred|, |target| per sample.

    pred, target: (B, H, W) bool or 0/1 -> three (B,) int64 tensors. Summing them over the slices of
    a volume before :func:`dice_from_counts` gives the volume-level Dice.
    """
    check_same_shape(pred, target, ("pred", "target"))
    p = flat(as_mask(pred, "pred"))
    t = flat(as_mask(target, "target"))
    return (p & t).sum(1), p.sum(1), t.sum(1)


def dice_from_counts(inter: torch.Tensor, pred_n: torch.Tensor, target_n: torch.Tensor) -> torch.Tensor:
    """Dice = 2 |P & T| / (|P| + |T|); NaN where |T| = 0. Any shapes that broadcast; float64 out."""
    target_n = torch.as_tensor(target_n)
    d = safe_div(2 * torch.as_tensor(inter), torch.as_tensor(pred_n) + target_n)
    return torch.where(target_n > 0, d, torch.full_like(d, float("nan")))


def iou_from_counts(inter: torch.Tensor, pred_n: torch.Tensor, target_n: torch.Tensor) -> torch.Tensor:
    """IoU = |P & T| / |P | T|; NaN where |T| = 0. Any shapes that broadcast; float64 out."""
    inter, target_n = torch.as_tensor(inter), torch.as_tensor(target_n)
    j = safe_div(inter, torch.as_tensor(pred_n) + target_n - inter)
    return torch.where(target_n > 0, j, torch.full_like(j, float("nan")))


def dice(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Dice per sample. pred, target: (B, H, W) bool or 0/1 -> (B,) float64 (NaN: empty target)."""
    return dice_from_counts(*overlap_counts(pred, target))


def iou(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """IoU (Jaccard) per sample. pred, target: (B, H, W) bool or 0/1 -> (B,) float64 (NaN: empty target)."""
    return iou_from_counts(*overlap_counts(pred, target))


THRESHOLD_GRID = (0.0, 1.0, 0.01)
"""(start, stop, step) of the map-threshold grid searched on the training folds (101 values); the
study, the notebooks and the explorer all search it."""


def threshold_grid(start: float = THRESHOLD_GRID[0], stop: float = THRESHOLD_GRID[1],
                   step: float = THRESHOLD_GRID[2]) -> torch.Tensor:
    """Thresholds start, start + step, ... up to stop inclusive: (Q,) float64 (default :data:`THRESHOLD_GRID`)."""
    if not step > 0 or not stop >= start:
        raise ValueError(f"threshold grid needs step > 0 and stop >= start; got start={start}, stop={stop}, step={step}")
    n = int(round((stop - start) / step)) + 1
    return start + step * torch.arange(n, dtype=torch.float64)


def overlap_curve(maps: torch.Tensor, target: torch.Tensor,
                  thresholds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Counts of ``maps > t`` against ``target`` for every threshold t at once.

    One sort per sample and a binary search per threshold: O(B P log P), never a (B, Q, P) tensor.
    Thresholds are compared in the maps' dtype (as ``maps > t`` would).

    maps: (B, H, W) finite; target: (B, H, W) bool or 0/1; thresholds: (Q,) finite ->
    inter, pred_n, target_n: (B, Q) int64 each.
    """
    check_same_shape(maps, target, ("maps", "target"))
    check_finite(maps, "maps")
    thresholds = torch.as_tensor(thresholds)
    if thresholds.ndim != 1 or not bool(torch.isfinite(thresholds).all()):
        raise ValueError(f"thresholds must be a finite 1-D grid (Q,); got shape {tuple(thresholds.shape)}")
    m = flat(maps if maps.is_floating_point() else maps.to(torch.float64))
    t = flat(as_mask(target, "target"))
    q = thresholds.to(m.dtype).to(m.device).expand(m.shape[0], -1).contiguous()
    n_pix = m.shape[1]
    pred_n = n_pix - torch.searchsorted(torch.sort(m, dim=1).values, q, right=True)
    inside = torch.where(t, m, torch.full_like(m, float("-inf")))  # outside the mask never exceeds t
    inter = n_pix - torch.searchsorted(torch.sort(inside, dim=1).values, q, right=True)
    return inter, pred_n, t.sum(1, keepdim=True).expand_as(pred_n)


def dice_curve(maps: torch.Tensor, target: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """Dice of ``maps > t`` for each threshold. maps, target: (B, H, W); thresholds (Q,) -> (B, Q) float64."""
    return dice_from_counts(*overlap_curve(maps, target, thresholds))


def iou_curve(maps: torch.Tensor, target: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """IoU of ``maps > t`` for each threshold. maps, target: (B, H, W); thresholds (Q,) -> (B, Q) float64."""
    return iou_from_counts(*overlap_curve(maps, target, thresholds))

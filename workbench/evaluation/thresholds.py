"""Binarisation thresholds of the maps: nested grid search per test fold, or the released constants.

The released code chose one threshold per method by a Dice grid search on non-test PhysioNet slices
and then shared it by all folds, which leaks across folds (released HGI-SAM code). Here, for each
test fold k, the threshold maximises the mean slice Dice over the *other* folds only; the rows of
fold k are dropped before anything is summed, so its data can never move its own threshold.
``fixed`` mode reproduces the released constants (:data:`FIXED_THRESHOLDS`) for comparison.

Typical use::

    grid = ThresholdSearch().grid()                      # (Q,)
    curves = dice_curve(maps, masks, grid)               # (M, Q), NaN rows for negative slices
    chosen = select_thresholds(curves, folds, grid)      # {fold: FoldThreshold}
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from types import MappingProxyType
from typing import Mapping

import torch

from workbench.evaluation.overlap import threshold_grid
from workbench.utils.errors import check_choice

__all__ = ["FIXED_THRESHOLDS", "ThresholdSearch", "FoldThreshold", "select_thresholds", "fixed_thresholds",
           "threshold_rows"]

#: Released-code thresholds on min-max maps (products of min-max maps are skewed toward 0).
FIXED_THRESHOLDS: Mapping[str, float] = MappingProxyType({
    "hgi_sam": 0.05,
    "swin_sam_binary": 0.07,
    "swin_sam_multilabel": 0.11,
    "gradcam": 0.8,
})


@dataclass(frozen=True)
class ThresholdSearch:
    """The grid searched: start, start + step, ..., stop (inclusive)."""

    start: float = 0.0
    stop: float = 1.0
    step: float = 0.01

    def grid(self) -> torch.Tensor:
        """(Q,) float64 thresholds."""
        return threshold_grid(self.start, self.stop, self.step)


@dataclass(frozen=True)
class FoldThreshold:
    """The threshold used on test fold ``fold`` and how it was chosen (one row of the record)."""

    fold: int
    threshold: float
    mode: str  # "nested" or "fixed"
    train_folds: tuple[int, ...]
    train_mean_dice: float  # mean slice Dice on the training folds at this threshold; NaN in fixed mode
    n_train_slices: int  # training slices with a defined Dice (positive ground truth)


def _check_folds(folds: torch.Tensor, m: int) -> list[int]:
    folds = torch.as_tensor(folds)
    if folds.shape != (m,) or folds.is_floating_point():
        raise ValueError(f"folds of shape {tuple(folds.shape)} and dtype {folds.dtype}: give one integer fold per slice, ({m},)")
    distinct = sorted(torch.unique(folds).tolist())
    if len(distinct) < 2:
        raise ValueError(f"nested threshold search needs at least 2 folds; got {distinct}")
    return distinct


def select_thresholds(dice_curves: torch.Tensor, folds: torch.Tensor, thresholds: torch.Tensor) -> dict[int, FoldThreshold]:
    """Per test fold, the grid threshold with the highest mean slice Dice on the other folds.

    dice_curves: (M, Q) per-slice Dice at each threshold (from :func:`dice_curve`; NaN rows, i.e.
    slices without hemorrhage, are skipped); folds: (M,) int test-fold of each slice; thresholds:
    (Q,) the grid. Ties between thresholds go to the lowest one. -> {fold: FoldThreshold}.
    """
    thresholds = torch.as_tensor(thresholds, dtype=torch.float64)
    if dice_curves.ndim != 2 or dice_curves.shape[1] != thresholds.shape[0]:
        raise ValueError(f"dice_curves of shape {tuple(dice_curves.shape)} do not fit {thresholds.shape[0]} thresholds; "
                         f"give (M, Q) with Q = len(thresholds)")
    folds = torch.as_tensor(folds)
    distinct = _check_folds(folds, dice_curves.shape[0])
    out = {}
    for k in distinct:
        train = dice_curves[folds != k].to(torch.float64)  # the test fold's rows are dropped first
        train = train[~torch.isnan(train).all(1)]
        if train.shape[0] == 0:
            raise ValueError(f"no training slice with hemorrhage outside test fold {k}; cannot choose its threshold")
        mean = torch.nanmean(train, dim=0)  # (Q,)
        best = int(torch.argmax(torch.nan_to_num(mean, nan=-math.inf)))  # first maximum = lowest threshold
        out[k] = FoldThreshold(k, float(thresholds[best]), "nested", tuple(j for j in distinct if j != k),
                               float(mean[best]), int(train.shape[0]))
    return out


def fixed_thresholds(method: str, folds: torch.Tensor | list[int]) -> dict[int, FoldThreshold]:
    """The released code's constant for ``method`` (a key of :data:`FIXED_THRESHOLDS`) on every fold."""
    check_choice("fixed-threshold method", method, FIXED_THRESHOLDS)
    distinct = sorted(set(torch.as_tensor(folds).reshape(-1).tolist()))
    return {k: FoldThreshold(k, FIXED_THRESHOLDS[method], "fixed", tuple(j for j in distinct if j != k), math.nan, 0)
            for k in distinct}


def threshold_rows(chosen: Mapping[int, FoldThreshold], method: str) -> list[dict]:
    """Tidy rows (one per fold) to record next to the results: method, fold, threshold, mode, ..."""
    return [{"method": method, **asdict(chosen[k]), "train_folds": " ".join(map(str, chosen[k].train_folds))}
            for k in sorted(chosen)]

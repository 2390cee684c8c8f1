"""Nested per-fold threshold search never looks at the test fold; released fixed thresholds."""

import math

import pytest
import torch

from workbench.evaluation import (FIXED_THRESHOLDS, ThresholdSearch, dice_curve, fixed_thresholds,
                                  select_thresholds, threshold_rows)

NAN = float("nan")
GRID = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)


def test_hand_case_each_fold_gets_the_other_folds_best():
    curves = torch.tensor([
        [0.75, 0.5, 0.0],  # fold 0 prefers 0.1
        [NAN, NAN, NAN],  # fold 0, slice without hemorrhage: skipped
        [0.0, 0.25, 1.0],  # fold 1 prefers 0.3
        [0.25, 0.5, 0.5],  # fold 2: tie between 0.2 and 0.3
    ], dtype=torch.float64)
    folds = torch.tensor([0, 0, 1, 2])
    chosen = select_thresholds(curves, folds, GRID)
    assert chosen[0].threshold == 0.3  # folds 1 and 2: means 0.125, 0.375, 0.75
    assert chosen[0].train_folds == (1, 2) and chosen[0].n_train_slices == 2
    assert chosen[0].train_mean_dice == 0.75 and chosen[0].mode == "nested"
    assert chosen[1].threshold == 0.1  # folds 0 and 2: 0.5, 0.5, 0.25 -> tie goes to the lowest
    assert chosen[1].n_train_slices == 2  # the NaN row of fold 0 is not counted
    assert chosen[2].threshold == 0.3  # folds 0 and 1: 0.375, 0.375, 0.5


def random_cohort(seed: int, m: int = 60, q: int = 11, k: int = 5):
    g = torch.Generator().manual_seed(seed)
    curves = torch.rand(m, q, generator=g, dtype=torch.float64)
    curves[torch.rand(m, generator=g) > 0.7] = NAN
    folds = torch.arange(m) % k
    return curves, folds, torch.linspace(0, 1, q, dtype=torch.float64)


def test_changing_the_test_fold_never_changes_its_threshold():
    curves, folds, grid = random_cohort(0)
    base = select_thresholds(curves, folds, grid)
    for k in range(5):
        for seed in range(5):
            other = curves.clone()
            rows = folds == k
            g = torch.Generator().manual_seed(100 + seed)
            other[rows] = torch.rand(int(rows.sum()), grid.shape[0], generator=g, dtype=torch.float64)
            other[rows.nonzero()[0]] = NAN
            assert select_thresholds(other, folds, grid)[k] == base[k]


def test_training_folds_do_move_the_threshold():
    curves, folds, grid = random_cohort(1)
    base = select_thresholds(curves, folds, grid)
    other = curves.clone()
    other[folds != 0, 3] = 1.0  # training folds of fold 0 now strongly prefer grid[3]
    assert select_thresholds(other, folds, grid)[0].threshold == grid[3].item() != base[0].threshold


def test_from_maps_end_to_end():
    g = torch.Generator().manual_seed(2)
    masks = torch.zeros(20, 8, 8, dtype=torch.bool)
    masks[:, 2:5, 2:5] = True
    maps = torch.rand(20, 8, 8, generator=g) * 0.3 + 0.5 * masks  # inside in [0.5, 0.8], outside in [0, 0.3]
    grid = ThresholdSearch(0.0, 1.0, 0.05).grid()
    chosen = select_thresholds(dice_curve(maps, masks, grid), torch.arange(20) % 4, grid)
    assert all(0.3 <= c.threshold < 0.5 for c in chosen.values())
    assert all(c.train_mean_dice == 1.0 for c in chosen.values())


def test_fixed_thresholds_are_the_released_constants():
    assert dict(FIXED_THRESHOLDS) == {"hgi_sam": 0.05, "swin_sam_binary": 0.07, "swin_sam_multilabel": 0.11,
                                      "gradcam": 0.8}
    chosen = fixed_thresholds("gradcam", torch.tensor([2, 0, 1, 0]))
    assert sorted(chosen) == [0, 1, 2] and all(c.threshold == 0.8 and c.mode == "fixed" for c in chosen.values())
    assert math.isnan(chosen[0].train_mean_dice)
    rows = threshold_rows(chosen, "gradcam")
    assert rows[0]["method"] == "gradcam" and rows[0]["fold"] == 0 and rows[0]["train_folds"] == "1 2"
    with pytest.raises(ValueError, match="valid choices: hgi_sam, swin_sam_binary"):
        fixed_thresholds("hgi-sam", [0, 1])
    with pytest.raises(TypeError):
        FIXED_THRESHOLDS["hgi_sam"] = 0.5


def test_bad_inputs():
    curves, folds, grid = random_cohort(3)
    with pytest.raises(ValueError, match="at least 2 folds"):
        select_thresholds(curves, torch.zeros_like(folds), grid)
    with pytest.raises(ValueError, match=r"\(60, 11\).*4 thresholds"):
        select_thresholds(curves, folds, grid[:4])
    nan_outside = curves.clone()
    nan_outside[folds != 0] = NAN
    with pytest.raises(ValueError, match="outside test fold 0"):
        select_thresholds(nan_outside, folds, grid)

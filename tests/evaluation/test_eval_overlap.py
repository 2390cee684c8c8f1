"""Dice / IoU per sample and over threshold grids: hand-computed cases and MONAI cross-checks."""

import pytest
import torch
from monai.metrics import DiceMetric, MeanIoU, compute_dice, compute_iou

from workbench.evaluation import dice, dice_curve, iou, iou_curve, overlap_counts, threshold_grid

NAN = float("nan")


def t(rows):
    return torch.tensor(rows, dtype=torch.bool)


def test_hand_computed_cases():
    pred = torch.stack([
        t([[1, 1], [0, 0]]),  # vs gt below: |P&T| = 1, |P| = 2, |T| = 2
        t([[0, 0], [0, 0]]),  # empty prediction, non-empty truth -> 0
        t([[1, 0], [0, 0]]),  # empty truth -> NaN even with a prediction
        t([[0, 0], [0, 0]]),  # empty truth, empty prediction -> NaN (not 1)
        t([[0, 1], [1, 0]]),  # perfect
    ])
    gt = torch.stack([t([[1, 0], [1, 0]]), t([[1, 0], [0, 0]]), t([[0, 0], [0, 0]]), t([[0, 0], [0, 0]]),
                      t([[0, 1], [1, 0]])])
    torch.testing.assert_close(dice(pred, gt), torch.tensor([0.5, 0.0, NAN, NAN, 1.0], dtype=torch.float64), equal_nan=True)
    torch.testing.assert_close(iou(pred, gt), torch.tensor([1 / 3, 0.0, NAN, NAN, 1.0], dtype=torch.float64), equal_nan=True)
    inter, p, g = overlap_counts(pred, gt)
    assert inter.tolist() == [1, 0, 0, 0, 2] and p.tolist() == [2, 0, 1, 0, 2] and g.tolist() == [2, 1, 0, 0, 2]


def test_float_masks_and_volumes():
    pred = torch.zeros(2, 3, 4, 4)  # (B, Z, H, W)
    gt = torch.zeros(2, 3, 4, 4)
    pred[0, 0, :2] = 1
    gt[0, :2, :2] = 1
    assert dice(pred, gt)[0].item() == pytest.approx(2 * 8 / (8 + 16))
    assert torch.isnan(dice(pred, gt)[1])


def random_batch(seed: int, b: int = 8, size: int = 12):
    g = torch.Generator().manual_seed(seed)
    maps = torch.randint(0, 11, (b, size, size), generator=g).float() / 10  # ties and exact threshold values
    gt = torch.rand(b, size, size, generator=g) > 0.7
    gt[0] = False  # empty truth
    gt[1, :3, :3] = True
    maps[1] = 0.0  # empty prediction at every threshold >= 0
    return maps, gt


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.95])
def test_matches_monai(threshold):
    maps, gt = random_batch(0)
    pred = maps > threshold
    y_pred, y = pred[:, None].float(), gt[:, None].float()  # (B, 1, H, W) one channel = foreground
    ref_dice = compute_dice(y_pred, y, include_background=True, ignore_empty=True)[:, 0].double()
    ref_iou = compute_iou(y_pred, y, include_background=True, ignore_empty=True)[:, 0].double()
    torch.testing.assert_close(dice(pred, gt), ref_dice, equal_nan=True)
    torch.testing.assert_close(iou(pred, gt), ref_iou, equal_nan=True)
    for metric, ours in ((DiceMetric(include_background=True, reduction="mean", ignore_empty=True), dice),
                         (MeanIoU(include_background=True, reduction="mean", ignore_empty=True), iou)):
        metric(y_pred, y)
        assert metric.aggregate().item() == pytest.approx(torch.nanmean(ours(pred, gt)).item(), rel=1e-6)


def test_curves_equal_thresholding_one_by_one():
    maps, gt = random_batch(1)
    grid = threshold_grid(0.0, 1.0, 0.05)
    d, j = dice_curve(maps, gt, grid), iou_curve(maps, gt, grid)
    assert d.shape == (8, 21)
    for q, thr in enumerate(grid.tolist()):
        torch.testing.assert_close(d[:, q], dice(maps > thr, gt), equal_nan=True)
        torch.testing.assert_close(j[:, q], iou(maps > thr, gt), equal_nan=True)
    assert torch.isnan(d[0]).all() and (d[1] == 0).all()


def test_curve_is_batch_size_independent():
    maps, gt = random_batch(2)
    grid = threshold_grid(0.0, 1.0, 0.1)
    full = dice_curve(maps, gt, grid)
    for i in range(maps.shape[0]):
        torch.testing.assert_close(dice_curve(maps[i:i + 1], gt[i:i + 1], grid)[0], full[i], equal_nan=True)


def test_threshold_grid():
    grid = threshold_grid()
    assert grid.shape == (101,) and grid[0] == 0 and grid[-1].item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="step > 0"):
        threshold_grid(step=0)


def test_errors_name_the_shapes_and_values():
    with pytest.raises(ValueError, match=r"\(2, 3, 3\).*\(2, 4, 4\)"):
        dice(torch.zeros(2, 3, 3, dtype=torch.bool), torch.zeros(2, 4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="0.5"):
        dice(torch.full((1, 2, 2), 0.5), torch.ones(1, 2, 2))
    with pytest.raises(ValueError, match="non-finite"):
        dice_curve(torch.full((1, 2, 2), NAN), torch.ones(1, 2, 2), threshold_grid())

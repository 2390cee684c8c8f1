"""Per-subject / per-volume aggregation, mL volumes, summaries and the subject-level bootstrap."""

import math

import pytest
import torch

from workbench.evaluation import (bootstrap_ci, group_mean, lesion_volume_ml, summarize, volume_errors,
                                  volume_overlap)

NAN = float("nan")


def test_group_mean_skips_nan_and_counts():
    values = torch.tensor([1.0, NAN, 3.0, 0.5, NAN])
    ids, means, counts = group_mean(values, ["s2", "s2", "s1", "s1", "s3"])
    assert ids == ["s1", "s2", "s3"]
    torch.testing.assert_close(means, torch.tensor([1.75, 1.0, NAN], dtype=torch.float64), equal_nan=True)
    assert counts.tolist() == [2, 1, 0]
    ids, means, _ = group_mean(values, torch.tensor([7, 7, 3, 3, 9]))
    assert ids == [3, 7, 9] and means[0].item() == 1.75
    with pytest.raises(ValueError, match="2 group ids for 5 values"):
        group_mean(values, ["a", "b"])


def test_volume_dice_from_summed_counts():
    # volume 0: slice A |P&T| 1, |P| 2, |T| 2 (Dice 0.5); slice B 0, 0, 2 (Dice 0); volume 1: no truth at all
    inter, pred, target = torch.tensor([1, 0, 0]), torch.tensor([2, 0, 5]), torch.tensor([2, 2, 0])
    ids, v = volume_overlap(inter, pred, target, torch.tensor([0, 0, 1]))
    assert ids == [0, 1]
    assert v["dice"][0].item() == pytest.approx(2 * 1 / (2 + 4))  # not the slice mean 0.25
    assert v["iou"][0].item() == pytest.approx(1 / 5)
    assert torch.isnan(v["dice"][1]) and torch.isnan(v["iou"][1])


def test_lesion_volume_ml():
    got = lesion_volume_ml(torch.tensor([1000, 0]), (0.5, 0.5, 5.0))
    torch.testing.assert_close(got, torch.tensor([1.25, 0.0], dtype=torch.float64))
    per_row = lesion_volume_ml(torch.tensor([100, 100]), torch.tensor([[1.0, 1.0, 1.0], [0.4, 0.5, 5.0]]))
    torch.testing.assert_close(per_row, torch.tensor([0.1, 0.1], dtype=torch.float64))
    with pytest.raises(ValueError, match="positive"):
        lesion_volume_ml(torch.tensor([1]), (0.0, 1.0, 1.0))
    with pytest.raises(ValueError, match=r"\(2,\).*\(3, 3\)"):
        lesion_volume_ml(torch.tensor([1, 2]), torch.ones(3, 3))


def test_volume_errors():
    e = volume_errors(torch.tensor([12.0, 1.0]), torch.tensor([10.0, 0.0]))
    torch.testing.assert_close(e["error_ml"], torch.tensor([2.0, 1.0], dtype=torch.float64))
    assert e["relative_error"][0].item() == pytest.approx(0.2) and torch.isnan(e["relative_error"][1])


def test_summary_in_paper_format():
    s = summarize(torch.tensor([1.0, 2.0, 3.0, NAN]))
    assert (s.mean, s.std, s.n) == (2.0, 1.0, 3)
    assert s.sem == pytest.approx(1 / math.sqrt(3))
    assert s.format() == "2.000 +- 1.000 (0.577)"
    assert math.isnan(summarize(torch.tensor([NAN])).mean)
    assert math.isnan(summarize(torch.tensor([4.0])).std)


def test_bootstrap_is_reproducible_with_a_seed():
    g = torch.Generator().manual_seed(1)
    values = torch.rand(60, generator=g, dtype=torch.float64)
    groups = torch.arange(60) // 4  # 15 subjects of 4 slices
    a = bootstrap_ci(values, groups, generator=torch.Generator().manual_seed(7), n_resamples=500)
    b = bootstrap_ci(values, groups, generator=torch.Generator().manual_seed(7), n_resamples=500)
    c = bootstrap_ci(values, groups, generator=torch.Generator().manual_seed(8), n_resamples=500)
    assert a == b and (a.low, a.high) != (c.low, c.high)
    assert a.estimate == pytest.approx(values.mean().item()) and a.low < a.estimate < a.high
    assert a.n_groups == 15 and a.level == 0.95


def test_bootstrap_resamples_subjects_not_slices():
    # subject 0: 99 slices of 1.0; subject 1: one slice of 0.0; subject 2: only NaN (takes no part).
    values = torch.cat([torch.ones(99), torch.zeros(1), torch.full((3,), NAN)]).double()
    groups = [0] * 99 + [1] + [2] * 3
    ci = bootstrap_ci(values, groups, generator=torch.Generator().manual_seed(0), n_resamples=2000)
    assert ci.n_groups == 2 and ci.estimate == pytest.approx(0.99)
    assert ci.low == 0.0 and ci.high == 1.0  # a quarter of resamples holds subject 1 twice: mean 0
    sub = bootstrap_ci(values, groups, generator=torch.Generator().manual_seed(0), statistic="subject_mean")
    assert sub.estimate == 0.5
    with pytest.raises(ValueError, match="valid choices: slice_mean, subject_mean"):
        bootstrap_ci(values, groups, generator=torch.Generator(), statistic="median")

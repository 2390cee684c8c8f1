"""MetricAccumulator: explicit, NaN-aware reductions over appended batches."""

import pytest
import torch

from workbench.evaluation import MetricAccumulator

NAN = float("nan")


def test_accumulate_and_reduce():
    acc = MetricAccumulator()
    acc.append(dice=torch.tensor([0.5, NAN]), subject=torch.tensor([1, 1]))
    acc.append(dice=torch.tensor([1.0]), subject=torch.tensor([2]))
    assert len(acc) == 3 and acc.names == ("dice", "subject")
    assert acc.aggregate("mean")["dice"].item() == 0.75
    assert acc.aggregate("sum")["dice"].item() == 1.5
    assert acc.not_nans()["dice"] == 2
    torch.testing.assert_close(acc.aggregate("none")["dice"], torch.tensor([0.5, NAN, 1.0]), equal_nan=True)
    assert acc.summary()["dice"].n == 2
    acc.reset()
    assert len(acc) == 0 and acc.names == ()


def test_errors():
    acc = MetricAccumulator()
    acc.append(dice=torch.tensor([0.5]))
    with pytest.raises(ValueError, match="valid choices: dice"):
        acc.append(iou=torch.tensor([0.5]))
    with pytest.raises(ValueError, match="one common B"):
        acc.append(dice=torch.ones(2, 2))
    with pytest.raises(ValueError, match="valid choices: mean, sum, none"):
        acc.aggregate("median")
    with pytest.raises(ValueError, match="valid choices: dice"):
        acc.get_buffer("iou")

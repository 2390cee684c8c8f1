"""Randomisation sanity check: similarity of trained-model and re-initialised-model maps."""

import pytest
import torch

from workbench.evaluation import randomisation_check, top_fraction_overlap


def test_identical_reversed_and_constant_maps():
    a = torch.arange(16.0).reshape(1, 4, 4)
    same = randomisation_check(a, a.clone(), fraction=0.25)
    assert same["spearman"].item() == pytest.approx(1.0) and same["top_overlap"].item() == 1.0
    rev = randomisation_check(a, -a, fraction=0.25)
    assert rev["spearman"].item() == pytest.approx(-1.0) and rev["abs_spearman"].item() == pytest.approx(1.0)
    assert rev["top_overlap"].item() == 0.0
    assert torch.isnan(randomisation_check(a, torch.zeros(1, 4, 4))["spearman"]).all()


def test_top_overlap_hand_case_and_batching():
    a = torch.tensor([[[4.0, 3.0], [2.0, 1.0]]])
    b = torch.tensor([[[4.0, 1.0], [3.0, 2.0]]])  # top-2 of a: {0, 1}; of b: {0, 2}
    assert top_fraction_overlap(a, b, fraction=0.5).item() == 0.5
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(3, 5, 5, generator=g), torch.rand(3, 5, 5, generator=g)
    full = randomisation_check(x, y)
    for i in range(3):
        one = randomisation_check(x[i:i + 1], y[i:i + 1])
        for k in full:
            torch.testing.assert_close(one[k][0], full[k][i])
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\]"):
        top_fraction_overlap(a, b, fraction=0.0)

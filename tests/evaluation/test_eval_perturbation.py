"""Deletion / insertion curves with a linear score whose curve can be written by hand."""

import pytest
import torch

from workbench.evaluation import curve_area, deletion_curve, insertion_curve
from workbench.evaluation.perturbation import relevance_order


def pixel_sum(images: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B,): a per-sample score, so samples never interact."""
    return images.sum(dim=(1, 2, 3))


IMAGE = torch.tensor([[[[10.0, 1.0], [2.0, 4.0]]]])  # (1, 1, 2, 2)
MAP = torch.tensor([[[4.0, 3.0], [2.0, 1.0]]])  # order: 10, 1, 2, 4
FRACTIONS = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0])


def test_deletion_by_hand():
    curve = deletion_curve(IMAGE, MAP, pixel_sum, fractions=FRACTIONS)
    assert curve.scores.tolist() == [[17.0, 7.0, 6.0, 4.0, 0.0]]
    assert curve.area.item() == pytest.approx(0.25 * (12 + 6.5 + 5 + 2))
    assert curve.mode == "deletion"


def test_insertion_by_hand_with_baseline():
    curve = insertion_curve(IMAGE, MAP, pixel_sum, fractions=FRACTIONS, baseline=1.0)
    # baseline image sums to 4; restoring 10, then 1, then 2, then 4
    assert curve.scores.tolist() == [[4.0, 13.0, 13.0, 14.0, 17.0]]
    assert curve.area.item() == pytest.approx(0.25 * (8.5 + 13 + 13.5 + 15.5))


def test_default_steps_and_area():
    curve = deletion_curve(IMAGE, MAP, pixel_sum, steps=4)
    torch.testing.assert_close(curve.fractions, FRACTIONS.double())
    torch.testing.assert_close(curve_area(torch.tensor([[1.0, 1.0]]), torch.tensor([0.0, 1.0])), torch.tensor([1.0]))


def test_ties_follow_pixel_index():
    assert relevance_order(torch.zeros(1, 2, 2)).flatten().tolist() == [0, 1, 2, 3]
    assert relevance_order(MAP).flatten().tolist() == [0, 1, 2, 3]
    assert relevance_order(torch.tensor([[[1.0, 5.0], [5.0, 0.0]]])).flatten().tolist() == [2, 0, 1, 3]


def test_batch_size_independence_and_channels():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(4, 3, 6, 6, generator=g)
    maps = torch.rand(4, 6, 6, generator=g)
    batched = deletion_curve(images, maps, pixel_sum, steps=6)
    for i in range(4):
        alone = deletion_curve(images[i:i + 1], maps[i:i + 1], pixel_sum, steps=6)
        torch.testing.assert_close(alone.scores[0], batched.scores[i])
    assert (batched.scores[:, -1] == 0).all()  # every channel of every pixel deleted at fraction 1


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"score_fn returned shape \(1, 1\)"):
        deletion_curve(IMAGE, MAP, lambda x: x.sum(dim=(2, 3)), steps=2)
    with pytest.raises(ValueError, match=r"\(1, 1, 2, 2\).*\(1, 3, 3\)"):
        deletion_curve(IMAGE, torch.zeros(1, 3, 3), pixel_sum)
    with pytest.raises(ValueError, match="non-decreasing"):
        insertion_curve(IMAGE, MAP, pixel_sum, fractions=torch.tensor([0.5, 0.2]))

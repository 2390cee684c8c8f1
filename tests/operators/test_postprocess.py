"""Post-processing: min-max direction, masking, upsampling, threshold."""

from __future__ import annotations

import pytest
import torch

from workbench.operators import PostProcess, apply_mask, minmax, postprocess, upsample


def test_minmax_maps_min_to_zero_and_max_to_one():
    """MONAI's default_normalizer bug: a normaliser mapping (min, max) to (1, 0) inverts the heat map."""
    x = torch.tensor([[[2.0, 4.0], [6.0, 10.0]], [[-1.0, 0.0], [1.0, 3.0]]])
    out = minmax(x)
    assert torch.allclose(out[0], torch.tensor([[0.0, 0.25], [0.5, 1.0]]))
    assert torch.allclose(out[1], torch.tensor([[0.0, 0.25], [0.5, 1.0]]))  # per sample
    assert torch.equal(out.flatten(1).argmax(1), x.flatten(1).argmax(1))


def test_minmax_is_scale_free_and_constant_maps_are_zero():
    tiny = torch.tensor([[[1e-15, 3e-15], [2e-15, 5e-15]]])
    assert torch.allclose(minmax(tiny), minmax(tiny * 1e15))
    assert torch.equal(minmax(torch.full((1, 2, 2), 7.0)), torch.zeros(1, 2, 2))


def test_mask_and_threshold_pipeline():
    maps = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    mask = torch.tensor([[True, True], [True, False]])
    out = postprocess(maps, (2, 2), mask, PostProcess(normalize=True))
    assert torch.allclose(out, torch.tensor([[[1 / 3, 2 / 3], [1.0, 0.0]]]))
    assert torch.equal(postprocess(maps, (2, 2), mask, PostProcess(normalize=True, threshold=0.5)), out > 0.5)
    assert torch.equal(postprocess(maps, (2, 2)), maps)  # raw by default, no mask
    with pytest.raises(ValueError, match="brain mask of shape"):
        apply_mask(maps, torch.ones(3, 3))


def test_upsample_bilinear_and_relu():
    maps = torch.tensor([[[-1.0, 1.0], [1.0, -1.0]]])
    up = upsample(maps, (4, 4))
    assert up.shape == (1, 4, 4) and torch.allclose(up[0, 0, 0], torch.tensor(-1.0))
    assert postprocess(maps, (4, 4), config=PostProcess(relu=True)).min() == 0

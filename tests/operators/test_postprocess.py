"""Post-processing: min-max direction, masking, upsampling, threshold."""

from __future__ import annotations

import pytest
import torch

from workbench.operators import PostProcess, apply_mask, minmax, postprocess, rank_normalize, upsample


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
    with pytest.raises(ValueError, match="mask of shape"):
        apply_mask(maps, torch.ones(3, 3))


def test_upsample_bilinear_and_relu():
    maps = torch.tensor([[[-1.0, 1.0], [1.0, -1.0]]])
    up = upsample(maps, (4, 4))
    assert up.shape == (1, 4, 4) and torch.allclose(up[0, 0, 0], torch.tensor(-1.0))
    assert postprocess(maps, (4, 4), config=PostProcess(relu=True)).min() == 0


def test_rank_normalize_is_the_in_mask_empirical_cdf():
    """Against scipy's percentileofscore(kind='weak') on each sample's in-mask values (brute force)."""
    from scipy.stats import percentileofscore

    g = torch.Generator().manual_seed(3)
    maps = 0.94 + 0.06 * torch.rand(3, 9, 7, generator=g)  # a narrow band, as rollout after min-max
    maps[1, :3] = maps[1, 3, 0]  # ties
    mask = torch.rand(3, 9, 7, generator=g) > 0.3
    out = rank_normalize(maps, mask)
    for b in range(3):
        inside = maps[b][mask[b]].numpy()
        want = [percentileofscore(inside, v, kind="weak") / 100 for v in inside]
        assert torch.allclose(out[b][mask[b]], torch.tensor(want, dtype=torch.float32), atol=1e-6)
        assert (out[b][~mask[b]] == 0).all()
    assert torch.equal(rank_normalize(torch.full((1, 4, 4), 0.5), torch.ones(4, 4, dtype=torch.bool)),
                       torch.ones(1, 4, 4))  # a constant map stays flat: no structure invented
    assert torch.equal(rank_normalize(maps[:1], torch.zeros(9, 7, dtype=torch.bool)), torch.zeros(1, 9, 7))
    with pytest.raises(ValueError, match=r"mask of shape \(9, 6\) does not fit maps \(3, 9, 7\)"):
        rank_normalize(maps, mask[0, :, :6])

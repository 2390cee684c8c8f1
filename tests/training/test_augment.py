"""Batched augmentation: exact flip, parameter ranges, reproducibility, [0, 1] output."""

from __future__ import annotations

import math

import pytest
import torch

from workbench.training.augment import AugmentConfig, affine_matrices, augment_batch

OFF = dict(flip_p=0.0, rotation_deg=0.0, scale=0.0, translate=0.0, noise_std=0.0, noise_p=0.0)


def test_all_off_is_identity():
    x = torch.rand(2, 3, 16, 16)
    assert torch.equal(augment_batch(x, AugmentConfig(**OFF), torch.Generator()), x)


def test_flip_mirrors_columns_exactly():
    x = torch.rand(2, 1, 9, 9)
    out = augment_batch(x, AugmentConfig(**{**OFF, "flip_p": 1.0}), torch.Generator().manual_seed(0))
    assert torch.allclose(out, x.flip(-1), atol=1e-6)


def test_translation_is_a_fraction_of_the_size():
    # a pure shift of t * size pixels: a spot moves by at most translate * size (here 0.25 * 16 = 4 px)
    x = torch.zeros(64, 1, 16, 16)
    x[:, :, 7:9, 7:9] = 1.0
    out = augment_batch(x, AugmentConfig(**{**OFF, "translate": 0.25}), torch.Generator().manual_seed(1))
    ys, xs = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    mass = out.sum(dim=(1, 2, 3))
    cy, cx = (out[:, 0] * ys).sum((1, 2)) / mass, (out[:, 0] * xs).sum((1, 2)) / mass
    shift = torch.stack([cy - 7.5, cx - 7.5], 1).abs()
    assert shift.max() <= 4.0 + 1e-4 and shift.max() > 2.0  # the range is used, never exceeded


def test_matrix_ranges_rotation_and_scale():
    cfg = AugmentConfig(flip_p=0.0, rotation_deg=45.0, scale=0.1, translate=0.0)
    m = affine_matrices(2000, cfg, torch.Generator().manual_seed(0))  # (n, 2, 3)
    angle = torch.atan2(m[:, 0, 1], m[:, 0, 0]).abs()
    zoom = 1 / torch.linalg.det(m[:, :, :2]).sqrt()
    assert angle.max() <= math.radians(45) + 1e-5 and angle.max() > math.radians(40)
    assert zoom.min() >= 0.9 - 1e-5 and zoom.max() <= 1.1 + 1e-5
    flips = affine_matrices(2000, AugmentConfig(flip_p=0.5), torch.Generator().manual_seed(0))
    frac = (torch.linalg.det(flips[:, :, :2]) < 0).float().mean()
    assert 0.45 < frac < 0.55


def test_reproducible_and_clamped():
    x = torch.rand(4, 3, 16, 16)
    a = augment_batch(x, AugmentConfig(noise_std=0.5, noise_p=1.0), torch.Generator().manual_seed(7))
    b = augment_batch(x, AugmentConfig(noise_std=0.5, noise_p=1.0), torch.Generator().manual_seed(7))
    assert torch.equal(a, b) and a.min() >= 0 and a.max() <= 1


def test_bad_ranges_are_named():
    with pytest.raises(ValueError, match="translate is a fraction.*got 3"):
        AugmentConfig(translate=3)

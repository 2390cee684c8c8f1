"""Brain mask from HU: a hand-built phantom, the synthetic cohort's truth, the real Cranium CT."""

import numpy as np
import pytest

from tests.data.conftest import ring_phantom
from workbench.data.brainmask import _convex_hull, brain_mask, brain_mask_slice
from workbench.data.cranium import cranium_available, load_cranium


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_ring_phantom_interior():
    hu, truth = ring_phantom(z=2, size=64)
    mask = brain_mask(hu, pixel_mm=1.0)
    assert mask.shape == hu.shape and mask.dtype == bool
    assert iou(mask, truth) > 0.9
    assert not mask[:, 0, 0].any()


def test_gap_in_the_skull_falls_back_to_the_hull():
    hu, truth = ring_phantom(z=1, size=64)
    hu = hu[0].copy()
    hu[:12, 26:38] = 35  # a 12-pixel gap in the anterior skull (wider than any closing radius)
    mask = brain_mask_slice(hu.astype(np.float32), pixel_mm=1.0)
    assert iou(mask, truth[0]) > 0.85
    assert not mask[:3].any()  # the hull stops at the skull's outline, not at the image edge


def test_an_open_ring_enclosing_only_a_pocket_falls_back_to_the_hull():
    """A skull open wider than any closing, with a small bony loop inside (sinus septa, a dense falx):
    the loop's 300 px pocket passed the area test and became the whole mask; slabs of the Cranium
    CT gave such pockets, or scattered pixels and then an empty mask."""
    hu, truth = ring_phantom(z=1, size=96)
    hu = hu[0].astype(np.float32)
    hu[:14, 42:54] = 35  # a 12-pixel gap in the anterior skull
    yy, xx = np.mgrid[:96, :96]
    r = np.hypot(yy - 62, xx - 48)
    hu[(r >= 10) & (r < 12)] = 1000.0  # a closed bony loop around 300 px of soft tissue
    mask = brain_mask_slice(hu, pixel_mm=1.0)
    assert mask.sum() > 0.8 * truth[0].sum() and iou(mask, truth[0] & ~((r >= 9) & (r < 13))) > 0.85


def test_no_skull_gives_empty_mask_and_nan_is_rejected():
    assert not brain_mask_slice(np.full((32, 32), 30.0)).any()
    bad = np.zeros((32, 32), np.float32)
    bad[3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        brain_mask_slice(bad)
    with pytest.raises(ValueError, match="shape"):
        brain_mask(np.zeros((2, 2, 2, 2)))


def test_convex_hull_hand_case():
    m = np.zeros((9, 9), bool)
    m[2, 2] = m[2, 6] = m[6, 2] = m[6, 6] = True
    hull = _convex_hull(m)
    assert hull.sum() == 25 and hull[2:7, 2:7].all()


@pytest.mark.realct
@pytest.mark.skipif(not cranium_available(), reason="needs Debian's invesalius-examples (apt-get install invesalius-examples)")
def test_real_cranium_intracranial_fraction_is_plausible():
    hu, spacing = load_cranium()
    mask = brain_mask(hu, pixel_mm=spacing[0])
    frac = mask.reshape(len(mask), -1).mean(axis=1)
    z = len(frac)
    mid = frac[int(0.45 * z) : int(0.75 * z)]  # supratentorial slices of a 108-slice head CT
    # a 256 px, 0.957 mm field of view: the brain fills 20-35 % of mid-level slices
    assert 0.18 < mid.min() and mid.max() < 0.35
    # no leak into the scalp or air: the mask stays inside the head and away from the border
    head = hu > -300
    assert (mask & ~head).sum() == 0
    assert not mask[:, :5].any() and not mask[:, -5:].any()
    # the fraction rises from the skull base and falls towards the vertex
    assert frac[: int(0.1 * z)].max() < mid.mean() and frac[int(0.95 * z) :].max() < mid.mean()


@pytest.mark.parametrize("size", [128, 256])
def test_synthetic_cohort_iou_with_true_brain_mask(size):
    from workbench.data.synth import generate_subject

    for index in range(2):
        s = generate_subject(index, seed=11, size=size, n_slices=12)
        mask = brain_mask(s.hu, pixel_mm=s.spacing[0])
        assert iou(mask, s.brain) >= 0.9, (size, index)


def test_fast_mask_on_fine_pixels_matches_full_resolution():
    from workbench.data.brainmask import brain_mask_fast
    from workbench.data.synth import generate_subject

    s = generate_subject(0, seed=5, size=512, n_slices=3)
    for z in range(3):
        hu = s.hu[z].astype(np.float32)
        full = brain_mask_slice(hu, pixel_mm=s.spacing[0])
        fast = brain_mask_fast(hu, pixel_mm=s.spacing[0])
        assert fast.shape == full.shape
        assert iou(fast, full) > 0.95
        assert iou(fast, s.brain[z]) > 0.88

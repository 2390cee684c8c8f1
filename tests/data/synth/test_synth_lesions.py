"""Lesions: places, HU, volumes and partial-volume edges of the five subtypes."""

import numpy as np
import pytest

from workbench.data.labels import SUBTYPE_CODES
from workbench.data.synth import LESION_STATS, generate_subject
from workbench.data.synth.lesions import insert_lesions, sample_volume_ml
from workbench.data.synth.phantom import build_phantom, sample_head_params
from workbench.data.synth.subject import subject_rng


@pytest.fixture(scope="module")
def placed_cases():
    """(anatomy, labels, placed) for procedural heads with lesions, before noise."""
    cases = []
    for i in range(10):
        rng = subject_rng(4, i)
        img, an = build_phantom(rng, sample_head_params(rng, 14), 96, 14)
        labels, placed = insert_lesions(rng, img, an, p_ich=1.0)
        cases.append((img, an, labels, placed))
    return cases


def _by_subtype(cases, subtype):
    return [(img, an, m) for img, an, _, placed in cases for name, m, _, _ in placed if name == subtype]


def test_volume_sampler_matches_medians():
    rng = np.random.default_rng(0)
    for subtype, (median, p5, p95, _, _) in LESION_STATS.items():
        v = np.array([sample_volume_ml(rng, subtype) for _ in range(2000)])
        assert np.median(v) == pytest.approx(median, rel=0.12)
        assert np.percentile(v, 5) == pytest.approx(p5, rel=0.3)
        assert np.percentile(v, 95) == pytest.approx(p95, rel=0.3)


def test_places(placed_cases, subtype_subjects):
    seen = set()
    for img, an, labels, placed in placed_cases:
        for name, mask, target, _ in placed:
            seen.add(name)
            if name in ("epidural", "subdural"):
                assert an.depth_mm[mask].min() < 2.0  # touching the inner table
            if name == "subdural":
                u = an.u_mm[mask]
                assert (u > 0).all() or (u < 0).all()  # never crosses the midline
            if name == "intraventricular":
                assert an.ventricles[mask].all()
            if name == "subarachnoid":
                assert an.csf_space[mask].all()
            if name == "intraparenchymal":
                assert an.intracranial[mask].all() and not an.ventricles[mask].any()
                assert an.parenchyma[mask].mean() > 0.6
            assert abs(mask.sum() * an.voxel_ml - target) <= max(an.voxel_ml, 0.02 * target) or name == "intraventricular"
    assert len(seen) >= 4


def test_ivh_has_fluid_level(placed_cases):
    for img, an, m in _by_subtype(placed_cases, "intraventricular"):
        rows = np.nonzero(m)[1]
        rest = np.nonzero(an.ventricles & ~m & (an.u_mm * np.sign(an.u_mm[m].mean()) > 0))[1]
        assert rows.min() >= np.percentile(rest, 10) if rest.size else True  # blood is posterior


def test_lesion_hu_and_partial_volume(ich_subjects):
    for s in ich_subjects:
        for lesion in s.lesions:
            _, _, _, mu, sd = LESION_STATS[lesion.subtype]
            assert mu - 3 * sd - 3 <= lesion.mean_hu <= mu + 3 * sd + 3, (lesion, s.subject_id)
    # partial volume: the ring just outside a lesion is between background and lesion HU
    s = next(s for s in ich_subjects if any(l.volume_ml > 3 for l in s.lesions))
    from scipy import ndimage

    mask = s.labels > 0
    ring = ndimage.binary_dilation(mask, structure=np.ones((1, 3, 3))) & ~mask
    far = ndimage.binary_dilation(mask, structure=np.ones((1, 9, 9))) & ~ndimage.binary_dilation(mask, structure=np.ones((1, 5, 5))) & s.brain
    assert s.hu[ring & s.brain].mean() > s.hu[far].mean()


def test_masks_only_where_labelled(ich_subjects):
    codes = set(SUBTYPE_CODES.values())
    for s in ich_subjects:
        assert s.lesions, "p_ich=1 subjects have lesions"
        assert {SUBTYPE_CODES[l.subtype] for l in s.lesions} <= set(np.unique(s.labels)) <= codes | {0}
        total = sum(l.volume_ml for l in s.lesions)
        voxel_ml = np.prod(s.spacing) / 1000
        labelled = (s.labels > 0).sum() * voxel_ml
        assert labelled * (1 - 1e-3) <= total <= labelled * 1.25  # same-subtype lesions may overlap


def test_every_subtype_generated(subtype_subjects):
    names = {l.subtype for s in subtype_subjects for l in s.lesions}
    assert names == set(SUBTYPE_CODES)


def test_no_ich_subject_has_empty_labels():
    s = generate_subject(0, 1, size=64, n_slices=6, p_ich=0.0)
    assert not s.labels.any() and s.lesions == ()

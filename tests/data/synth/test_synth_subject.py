"""generate_subject: determinism, shapes, dtypes and tissue HU measured on the truth masks."""

import numpy as np
import pytest

from workbench.data.labels import SUBTYPE_CODES
from workbench.data.synth import generate_subject
from workbench.data.synth.anatomy import Anatomy
from workbench.data.synth.phantom import build_phantom, sample_head_params
from workbench.data.synth.subject import subject_rng


def test_same_seed_identical_other_seed_differs():
    a = generate_subject(2, 7, size=64, n_slices=8)
    b = generate_subject(2, 7, size=64, n_slices=8)
    c = generate_subject(2, 8, size=64, n_slices=8)
    d = generate_subject(3, 7, size=64, n_slices=8)
    assert np.array_equal(a.hu, b.hu) and np.array_equal(a.labels, b.labels) and a.lesions == b.lesions
    assert not np.array_equal(a.hu, c.hu)
    assert not np.array_equal(a.hu, d.hu)


def test_shapes_dtypes_ranges(ich_subjects):
    for s in ich_subjects:
        assert s.hu.shape == s.labels.shape == s.brain.shape == (14, 96, 96)
        assert s.hu.dtype == np.int16 and s.labels.dtype == np.uint8 and s.brain.dtype == bool
        assert -1024 <= s.hu.min() and s.hu.max() <= 3071
        assert set(np.unique(s.labels)) <= {0, *SUBTYPE_CODES.values()}
        assert 230 / 96 <= s.spacing[0] <= 250 / 96 and s.spacing[2] == 5.0
        assert s.subject_id.isdigit() and len(s.subject_id) == 3
        # lesions are intracranial
        assert not (s.labels > 0)[~s.brain].any()


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match="'mri'.*procedural"):
        generate_subject(0, 0, background="mri")
    with pytest.raises(ValueError, match="p_ich 1.5"):
        generate_subject(0, 0, size=64, n_slices=4, p_ich=1.5)


@pytest.fixture(scope="module")
def clean_phantom() -> tuple[np.ndarray, Anatomy]:
    rng = subject_rng(3, 0)
    return build_phantom(rng, sample_head_params(rng, 24), 128, 24)


def test_tissue_hu(clean_phantom):
    img, an = clean_phantom
    mid = an.level[:, None, None] > 0.35  # above the skull base
    csf = img[an.csf_space & mid & (an.depth_mm > 3)]
    vent = img[an.ventricles]
    brain = img[an.parenchyma & mid]
    assert 0 <= np.median(vent) <= 15 and 0 <= np.median(csf) <= 22
    assert 22 <= np.median(brain) <= 42
    assert np.percentile(brain, 90) - np.percentile(brain, 10) > 5  # grey/white texture, not flat
    skull = img[(an.depth_mm < -3) & (an.depth_mm > -6) & mid]
    assert np.median(skull) > 300
    # hyperdense mimics exist in some subjects: nothing in the brain mask is bleed-labelled here
    assert an.intracranial.sum() > 0.2 * an.intracranial.size * 0.3


def test_noise_level():
    s = generate_subject(0, 21, size=128, n_slices=6, p_ich=0.0)
    sigma = s.params["noise_sigma_hu"]
    assert 3.0 <= sigma <= 6.0
    air = s.hu[:, :12, :12].astype(float)  # corner air, clipped at -1024 only for extreme noise
    assert 2.0 < air.std() < 8.0


def test_about_half_without_ich():
    n = 40
    with_ich = sum(generate_subject(i, 99, size=32, n_slices=4).has_ich for i in range(n))
    assert 10 <= with_ich <= 30

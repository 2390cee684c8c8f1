"""Scanner appearance randomisation (training subjects only): identity by default, exact transforms
inside the cavity, the subject's head, lesions and labels unchanged."""

import numpy as np
import pytest

from workbench.data.synth import APPEARANCES, Appearance, generate_subject, get_appearance
from workbench.data.synth.phantom import build_phantom, sample_head_params
from workbench.data.synth.subject import subject_rng

SEED, INDEX, SIZE = 3, 1, 64


def _subject(**kw):
    return generate_subject(INDEX, SEED, size=SIZE, n_slices=12, p_ich=1.0, **kw)


def _phantom():
    rng = subject_rng(SEED, INDEX)
    img, anatomy = build_phantom(rng, sample_head_params(rng, 8), SIZE, 8)
    return img, anatomy


def test_none_and_identity_are_exactly_the_realistic_subject():
    a, b, c = _subject(), _subject(appearance=APPEARANCES["none"]), _subject(appearance=Appearance())
    assert np.array_equal(a.hu, b.hu) and np.array_equal(a.hu, c.hu)
    assert "appearance" not in b.params


def test_contrast_scales_the_cavity_around_its_soft_tissue_median_and_nothing_else():
    img, anatomy = _phantom()
    before = img.copy()
    drawn = Appearance(contrast=(0.5, 0.5)).apply(np.random.default_rng(0), img, anatomy)
    cav = anatomy.intracranial
    soft = before[cav][(before[cav] >= 0) & (before[cav] <= 60)]
    ref = float(np.median(soft))  # computed independently of the module
    assert drawn["contrast"] == 0.5 and drawn["reference_hu"] == pytest.approx(ref, abs=1e-3)
    np.testing.assert_allclose(img[cav], ref + 0.5 * (before[cav] - ref), atol=1e-3)
    assert np.array_equal(img[~cav], before[~cav])  # skull, scalp and air keep their HU


def test_offset_shifts_the_cavity_by_the_drawn_amount():
    img, anatomy = _phantom()
    before = img.copy()
    drawn = Appearance(offset_hu=(-8.0, 8.0)).apply(np.random.default_rng(1), img, anatomy)
    assert -8.0 <= drawn["offset_hu"] <= 8.0 and drawn["offset_hu"] != 0.0
    np.testing.assert_allclose(img[anatomy.intracranial] - before[anatomy.intracranial], drawn["offset_hu"], atol=1e-3)


def test_randomised_subject_keeps_its_head_lesions_and_labels():
    real, varied = _subject(), _subject(appearance=get_appearance("randomised"))
    assert real.lesions and np.array_equal(real.labels, varied.labels) and np.array_equal(real.brain, varied.brain)
    assert [l.subtype for l in varied.lesions] == [l.subtype for l in real.lesions]
    p = varied.params["appearance"]
    assert 0.6 <= p["contrast"] <= 1.5 and abs(p["offset_hu"]) <= 8.0 and 0.0 <= p["blur_px"] <= 1.0
    assert 0.6 <= p["grain_px"] <= 2.5 and 0.0 <= p["mottle_hu"] <= 4.0
    assert not np.array_equal(real.hu, varied.hu)
    # the draws are the subject's own: the same (seed, index) gives the same rendering
    assert np.array_equal(varied.hu, _subject(appearance=get_appearance("randomised")).hu)


def test_appearance_draws_leave_the_subjects_own_random_stream_alone():
    """The scanner noise is drawn after the appearance from the subject's generator: were the appearance
    drawn from it too, the noise (and every HU outside the cavity) would change."""
    real, shifted = _subject(), _subject(appearance=Appearance(offset_hu=(5.0, 5.0)))
    cavity = real.brain  # the intracranial cavity
    assert np.array_equal(real.hu[~cavity], shifted.hu[~cavity])
    diff = shifted.hu[cavity].astype(np.int32) - real.hu[cavity]
    assert np.all(np.abs(diff - 5) <= 1)  # +5 HU, up to the rounding to integer HU


@pytest.mark.parametrize("kw", [{"contrast": (1.2, 0.8)}, {"contrast": (0.1, 1.0)}, {"bias_hu": (-1.0, 0.0)}, {"blur_px": (0.0, 9.0)}])
def test_out_of_range_appearance_names_the_value(kw):
    with pytest.raises(ValueError, match="appearance .* out of range"):
        Appearance(**kw)


def test_unknown_appearance_lists_the_valid_ones():
    with pytest.raises(ValueError, match="none, randomised"):
        get_appearance("random")


def test_noise_has_the_drawn_amplitude_and_grain():
    img, anatomy = _phantom()
    flat = np.zeros_like(img)
    fine, coarse = flat.copy(), flat.copy()
    Appearance(noise_hu=(5.0, 5.0), grain_px=(0.6, 0.6)).apply(np.random.default_rng(2), fine, anatomy)
    Appearance(noise_hu=(5.0, 5.0), grain_px=(2.5, 2.5)).apply(np.random.default_rng(2), coarse, anatomy)
    assert fine.std() == pytest.approx(5.0, rel=0.1) and coarse.std() == pytest.approx(5.0, rel=0.25)
    # a coarser grain: neighbouring pixels agree more (lag-1 correlation along rows)
    lag1 = lambda a: np.corrcoef(a[:, :, 1:].ravel(), a[:, :, :-1].ravel())[0, 1]
    assert lag1(coarse) > 0.85 > lag1(fine) > 0.3


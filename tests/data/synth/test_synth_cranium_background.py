"""Lesions inserted into the real Cranium head CT."""

import numpy as np
import pytest

from workbench.data import cranium
from workbench.data.synth import generate_subject
from workbench.data.synth import background as bg

needs_cranium = pytest.mark.skipif(not cranium.cranium_available(), reason="needs Debian package invesalius-examples (Cranium.inv3)")


@needs_cranium
def test_cranium_subjects():
    a = generate_subject(0, 3, size=96, n_slices=12, background="cranium", p_ich=1.0)
    b = generate_subject(0, 3, size=96, n_slices=12, background="cranium", p_ich=1.0)
    c = generate_subject(1, 3, size=96, n_slices=12, background="cranium", p_ich=1.0)
    assert np.array_equal(a.hu, b.hu) and not np.array_equal(a.hu, c.hu)
    assert a.hu.shape == (12, 96, 96) and a.spacing[2] == 5.0
    for s in (a, c):
        assert s.lesions and not (s.labels > 0)[~s.brain].any()
        frac = s.brain.mean(axis=(1, 2))
        assert frac.max() > 0.2  # a real cranial cavity was found
        assert 15 < np.median(s.hu[s.brain & (s.labels == 0)]) < 40


def test_missing_package_message(monkeypatch):
    monkeypatch.setattr(bg, "cranium_available", lambda: False)
    bg._cranium.cache_clear()
    with pytest.raises(FileNotFoundError, match="apt-get install invesalius-examples"):
        generate_subject(0, 0, size=64, n_slices=4, background="cranium")
    bg._cranium.cache_clear()


@needs_cranium
def test_every_slice_of_a_cranium_stack_has_a_cavity():
    """The study's Cranium cohort (256 px, 16 slices): most slices had no cavity and lesion placement failed."""
    for index in range(6):
        s = generate_subject(index, 200, size=256, n_slices=16, background="cranium", p_ich=1.0)
        assert (s.brain.mean(axis=(1, 2)) > 0.05).all(), index

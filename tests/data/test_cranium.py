"""The Cranium reader: orientation, dtype and spacing of the real head CT."""

import numpy as np
import pytest

from workbench.data.cranium import CRANIUM_PATH, cranium_available, load_cranium

needs_cranium = pytest.mark.skipif(not cranium_available(), reason="needs Debian package invesalius-examples (Cranium.inv3)")


@needs_cranium
def test_shape_dtype_spacing():
    hu, spacing = load_cranium()
    assert hu.shape == (108, 256, 256) and hu.dtype == np.int16
    assert spacing == pytest.approx((0.957, 0.957, 1.5), abs=1e-3)
    assert hu.min() >= -1024 and hu.max() > 1500


@needs_cranium
def test_display_orientation():
    hu, _ = load_cranium()
    mid = hu[60]
    head_rows = np.flatnonzero((mid > 300).any(axis=1))
    # anterior (the frontal bone) near the top; the curved head rest below the occiput
    assert head_rows.min() < 60
    # the vertex is at the top of the stack, the skull base (dense petrous bone) at the bottom
    assert (hu[95] > -200).sum() < (hu[60] > -200).sum()
    assert (hu[15] > 1200).sum() > (hu[60] > 1200).sum()
    # nose/face anterior: soft tissue in front of the brain at the base, in the upper rows
    face = hu[20, :80] > -200
    back = hu[20, 176:] > -200
    assert face.sum() > 0 and back.sum() > 0


def test_missing_file_message(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install invesalius-examples"):
        load_cranium(tmp_path / "nope.inv3")
    assert str(CRANIUM_PATH).endswith("Cranium.inv3")

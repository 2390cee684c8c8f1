"""Marching-squares contours on hand-drawn masks: vertices, areas, connectivity, borders."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.viz.contours import contour_segments, contour_xy, mask_contours


def area(line: np.ndarray) -> float:
    """Shoelace area of a closed polyline (k, 2)."""
    x, y = line[:, 0], line[:, 1]
    return 0.5 * abs(float(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1])))


def test_single_pixel_gives_a_closed_diamond_around_its_centre():
    m = np.zeros((5, 5), dtype=bool)
    m[2, 3] = True  # row 2, column 3 -> centre (x=3, y=2)
    (line,) = mask_contours(m)
    assert np.array_equal(line[0], line[-1])  # closed
    assert {tuple(p) for p in line} == {(3.0, 1.5), (3.5, 2.0), (3.0, 2.5), (2.5, 2.0)}
    assert area(line) == pytest.approx(0.5)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_square_block_area_is_k_squared_minus_half(k):
    m = np.zeros((9, 9))
    m[2:2 + k, 3:3 + k] = 1.0
    (line,) = mask_contours(m)
    assert area(line) == pytest.approx(k * k - 0.5)  # four corners cut by triangles of 1/8
    assert line[:, 0].min() == 2.5 and line[:, 0].max() == 3 + k - 0.5  # half a pixel outside


def test_diagonal_neighbours_are_separate_components_and_holes_give_two_contours():
    m = np.zeros((6, 6), dtype=bool)
    m[1, 1] = m[2, 2] = True
    assert len(mask_contours(m)) == 2
    ring = np.zeros((7, 7), dtype=bool)
    ring[1:6, 1:6] = True
    ring[3, 3] = False
    lines = mask_contours(ring)
    assert sorted(round(area(l), 3) for l in lines) == [0.5, 24.5]  # hole diamond + outer square


def test_mask_touching_the_border_is_closed_and_empty_mask_has_no_contour():
    m = np.zeros((4, 4), dtype=bool)
    m[0, :] = True
    (line,) = mask_contours(m)
    assert np.array_equal(line[0], line[-1]) and line[:, 1].min() == -0.5
    assert mask_contours(np.zeros((4, 4))) == [] and contour_segments(np.zeros((3, 3))).shape == (0, 2, 2)


def test_bool_float_and_torch_masks_agree_and_xy_split_by_nan():
    m = np.zeros((6, 6), dtype=bool)
    m[1:3, 1:3] = True
    m[4, 4] = True
    a, b, c = contour_xy(m), contour_xy(m.astype(float)), contour_xy(torch.from_numpy(m))
    for other in (b, c):
        np.testing.assert_array_equal(a[0], other[0])
        np.testing.assert_array_equal(a[1], other[1])
    xs, ys = a
    assert xs.dtype == np.float32 and np.isnan(xs).sum() == np.isnan(ys).sum() == 2  # two components
    assert np.isnan(xs[-1]) and len(contour_xy(np.zeros((3, 3)))[0]) == 0
    lines = mask_contours(m)  # the same points as the polylines, in order
    np.testing.assert_array_equal(xs[~np.isnan(xs)], np.concatenate([line[:, 0] for line in lines]))


def test_non_2d_mask_is_refused_with_its_shape():
    with pytest.raises(ValueError, match=r"\(2, 3, 4\)"):
        mask_contours(np.zeros((2, 3, 4)))

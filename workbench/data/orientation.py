"""Orientation conventions shared by every NIfTI reader and writer.

Display orientation (everything the workbench returns): a slice is (H, W) with row 0 the most
anterior row and column 0 the patient's right (radiological convention); a volume is (Z, H, W)
with z running inferior -> superior.

PhysioNet CT-ICH stores volumes as (X, Y, Z) with axes (L, A, S): x grows towards the patient's
left, y towards anterior, z towards superior; ``numpy.rot90`` of an (X, Y) slice gives the display
slice. :func:`las_to_display` / :func:`display_to_las` convert whole volumes; :func:`to_las`
reorients any NIfTI array to (L, A, S) using its affine.
"""

from __future__ import annotations

import nibabel as nib
import numpy as np

__all__ = ["las_to_display", "display_to_las", "las_slice_to_display", "to_las", "las_affine"]


def las_slice_to_display(slice_xy: np.ndarray) -> np.ndarray:
    """(X, Y) slice stored in (L, A) axes -> (H, W) display slice (``numpy.rot90``)."""
    return np.rot90(slice_xy)


def las_to_display(volume_xyz: np.ndarray) -> np.ndarray:
    """(X, Y, Z) volume in (L, A, S) axes -> (Z, H, W) display volume (a view, no copy)."""
    return np.rot90(volume_xyz, k=1, axes=(0, 1)).transpose(2, 0, 1)


def display_to_las(volume_zhw: np.ndarray) -> np.ndarray:
    """(Z, H, W) display volume -> (X, Y, Z) volume in (L, A, S) axes; inverse of las_to_display."""
    return np.ascontiguousarray(np.rot90(volume_zhw.transpose(1, 2, 0), k=-1, axes=(0, 1)))


def las_affine(spacing_row: float, spacing_col: float, spacing_slice: float) -> np.ndarray:
    """NIfTI affine (RAS+ world, mm) of an (L, A, S) array with the given display spacings.

    x (columns of the display) grows towards the left, so the world x step is ``-spacing_col``.
    """
    return np.diag([-float(spacing_col), float(spacing_row), float(spacing_slice), 1.0])


def to_las(data: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Reorient a 3D array to (L, A, S) axes using its NIfTI affine.

    Returns the reoriented array (a view where possible) and the voxel sizes along the new
    (x, y, z) axes in mm.
    """
    if data.ndim != 3:
        raise ValueError(f"expected a 3D volume, got shape {data.shape}")
    current = nib.orientations.io_orientation(affine)
    target = nib.orientations.axcodes2ornt(("L", "A", "S"))
    transform = nib.orientations.ornt_transform(current, target)
    out = nib.orientations.apply_orientation(data, transform)
    zooms = np.sqrt((np.asarray(affine)[:3, :3] ** 2).sum(axis=0))
    new_zooms = [0.0, 0.0, 0.0]
    for old_axis, (new_axis, _flip) in enumerate(transform):  # old axis i moves to new_axis
        new_zooms[int(new_axis)] = float(zooms[old_axis])
    return out, tuple(new_zooms)

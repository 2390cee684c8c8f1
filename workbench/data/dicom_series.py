"""Order the slices of a DICOM series and measure its spacing.

RSNA files carry no InstanceNumber and CQ500 series are often gantry-tilted, so slices are ordered
by projecting ImagePositionPatient on the slice normal ``n = row_dir x col_dir`` (the cross
product of the two ImageOrientationPatient rows). For the usual axial orientation
``[1,0,0, 0,1,0]`` the normal is +z of the LPS patient frame, i.e. superior: ascending projections
run inferior -> superior, the manifest's ``slice_index`` order. The slice step is the median gap
between consecutive projections (the distance along the normal, which is what a tilted series'
voxels measure).
"""

from __future__ import annotations

import numpy as np

__all__ = ["slice_normal", "order_slices", "slice_step"]


def slice_normal(orientation) -> np.ndarray:
    """Unit normal (3,) of a slice from ImageOrientationPatient (6,): row direction x column direction."""
    iop = np.asarray(orientation, dtype=np.float64).reshape(2, 3)
    normal = np.cross(iop[0], iop[1])
    norm = np.linalg.norm(normal)
    if not norm > 1e-6:
        raise ValueError(f"ImageOrientationPatient {list(np.round(iop.ravel(), 4))} has parallel rows")
    return normal / norm


def order_slices(positions, orientation, tiebreak=None) -> tuple[np.ndarray, np.ndarray]:
    """Order slices along the normal.

    positions: (N, 3) ImagePositionPatient; orientation: (6,) ImageOrientationPatient of the series;
    tiebreak: optional (N,) keys for slices at the same position (e.g. file names).
    Returns (order (N,) indices, inferior -> superior; projections (N,) in that order, mm).
    """
    pos = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    proj = pos @ slice_normal(orientation)
    keys = (np.arange(len(proj)) if tiebreak is None else np.asarray(tiebreak), np.round(proj, 4))
    order = np.lexsort(keys)  # last key is primary
    return order, proj[order]


def slice_step(projections, fallback: float | None = None) -> float:
    """Median positive gap (mm) between sorted projections; ``fallback`` (e.g. SliceThickness) if none."""
    gaps = np.diff(np.asarray(projections, dtype=np.float64))
    gaps = gaps[gaps > 1e-3]
    if gaps.size:
        return float(np.median(gaps))
    if fallback is not None and fallback > 0:
        return float(fallback)
    return 0.0

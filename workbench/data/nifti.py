"""NIfTI volumes and slices in display orientation (see :mod:`workbench.data.orientation`).

``orientation`` is the manifest column: ``"las"`` trusts the stored axes to be (L, A, S) (the
PhysioNet CT-ICH convention), ``"affine"`` reorients with the file's affine first.
Uncompressed ``.nii`` files in ``las`` orientation are read one slice at a time through
nibabel's memory map; everything else is read whole and kept in a small per-process cache.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import nibabel as nib
import numpy as np

from workbench.data.orientation import las_slice_to_display, las_to_display, to_las
from workbench.utils.errors import DataError, check_choice

__all__ = ["NIFTI_ORIENTATIONS", "load_nifti", "read_array", "read_volume", "read_slice", "display_spacing"]

NIFTI_ORIENTATIONS = ("las", "affine")
_CACHE: "OrderedDict[tuple[str, str], np.ndarray]" = OrderedDict()
_CACHE_SIZE = 4


def load_nifti(path: str | Path) -> nib.Nifti1Image:
    """Open a NIfTI file; DataError naming the file when it is missing, unreadable or not 3D."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    try:
        img = nib.load(str(path))
    except Exception as exc:  # nibabel raises several types for corrupt headers
        raise DataError(path, f"not a readable NIfTI file ({type(exc).__name__}: {exc})") from None
    if len(img.shape) != 3:
        raise DataError(path, f"expected a 3D volume, got shape {tuple(img.shape)}")
    if 0 in img.shape:
        raise DataError(path, f"empty volume, shape {tuple(img.shape)}")
    return img


def display_spacing(img: nib.Nifti1Image, orientation: str) -> tuple[float, float, float]:
    """(row_mm, col_mm, slice_mm) of the display volume."""
    check_choice("NIfTI orientation", orientation, NIFTI_ORIENTATIONS)
    if orientation == "las":
        sx, sy, sz = (float(z) for z in img.header.get_zooms()[:3])
    else:
        _, (sx, sy, sz) = to_las(np.empty(img.shape, dtype=np.uint8), img.affine)
    return sy, sx, sz


def read_array(img: nib.Nifti1Image, path: str | Path) -> np.ndarray:
    """The voxel data of ``img`` (opened from ``path``); a truncated or corrupt data block -> DataError naming it."""
    try:
        return np.asanyarray(img.dataobj)
    except Exception as exc:  # truncated or corrupt data block
        raise DataError(path, f"cannot read voxel data ({type(exc).__name__}: {exc})") from None


def read_volume(path: str | Path, orientation: str = "las") -> np.ndarray:
    """The whole volume as (Z, H, W) in display orientation, stored dtype (no copy when possible)."""
    check_choice("NIfTI orientation", orientation, NIFTI_ORIENTATIONS)
    path = Path(path)
    img = load_nifti(path)
    data = read_array(img, path)
    if orientation == "affine":
        data, _ = to_las(data, img.affine)
    return las_to_display(data)


def read_slice(path: str | Path, index: int, orientation: str = "las") -> np.ndarray:
    """Slice ``index`` (0-based, inferior -> superior) as (H, W) in display orientation."""
    check_choice("NIfTI orientation", orientation, NIFTI_ORIENTATIONS)
    path = Path(path)
    if orientation == "las" and path.suffix == ".nii":
        img = load_nifti(path)
        n = img.shape[2]
        if not 0 <= index < n:
            raise DataError(path, f"slice index {index} out of range (volume has {n} slices)")
        try:
            return las_slice_to_display(np.asanyarray(img.dataobj[:, :, index]))
        except Exception as exc:
            raise DataError(path, f"cannot read slice {index} ({type(exc).__name__}: {exc})") from None
    key = (str(path.resolve()), orientation)
    vol = _CACHE.get(key)
    if vol is None:
        vol = read_volume(path, orientation)
        _CACHE[key] = vol
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    if not 0 <= index < vol.shape[0]:
        raise DataError(path, f"slice index {index} out of range (volume has {vol.shape[0]} slices)")
    return vol[index]

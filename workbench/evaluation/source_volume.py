"""Write model-space maps as volumes over the ORIGINAL scan: undo the resize / crop, undo the display
orientation, keep the source affine and spacing (so ITK-SNAP / 3D Slicer overlay them on the scan).

Display orientation is (Z, H, W) (:mod:`workbench.data.orientation`). Per manifest orientation:

- ``las``: the file stores (L, A, S); the display volume goes back with
  :func:`~workbench.data.orientation.display_to_las` and is written with the file's own affine;
- ``affine``: the reader reoriented the stored axes to (L, A, S) with the affine; here the inverse
  orientation transform restores the stored axis order and flips before writing with that affine;
- ``dicom``: a NIfTI is built from the series geometry of the volume's first (most inferior) slice:
  ImagePositionPatient, ImageOrientationPatient and PixelSpacing (LPS -> RAS), slice step =
  ``spacing_slice`` along the slice normal. Gantry tilt is then represented only approximately
  (the step runs along the normal, not along the shear).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import nibabel as nib
import numpy as np

from workbench.data.nifti import load_nifti, read_volume
from workbench.data.orientation import display_to_las
from workbench.data.slices import load_row
from workbench.utils.io import atomic_path

__all__ = ["source_display_shape", "storage_array", "source_affine", "write_source_volume"]


def source_display_shape(row: Mapping, root: str | Path, depth: int) -> tuple[int, int, int]:
    """(Z, H, W) of the display volume of ``row``'s scan; ``depth`` is used for DICOM rows (one file per slice)."""
    orientation = str(row["orientation"])
    if orientation == "dicom":
        return (depth, *load_row(row, root)[0].shape)
    return tuple(read_volume(Path(root) / row["image_path"], orientation).shape)


def storage_array(display: np.ndarray, row: Mapping, root: str | Path) -> np.ndarray:
    """(Z, H, W) display volume -> the array in the source file's storage axis order."""
    orientation = str(row["orientation"])
    if orientation == "dicom":
        return np.ascontiguousarray(display.transpose(2, 1, 0))  # (columns, rows, slices)
    las = display_to_las(display)
    if orientation == "las":
        return las
    src = load_nifti(Path(root) / row["image_path"])
    back = nib.orientations.ornt_transform(nib.orientations.axcodes2ornt(("L", "A", "S")),
                                           nib.orientations.io_orientation(src.affine))
    return np.ascontiguousarray(nib.orientations.apply_orientation(las, back))


def _dicom_affine(row: Mapping, root: str | Path) -> np.ndarray:
    import pydicom

    ds = pydicom.dcmread(str(Path(root) / row["image_path"]), stop_before_pixels=True)
    iop = np.asarray([float(v) for v in ds.ImageOrientationPatient]).reshape(2, 3)
    row_mm, col_mm = (float(v) for v in ds.PixelSpacing)
    normal = np.cross(iop[0], iop[1])
    affine = np.eye(4)
    affine[:3, 0] = iop[0] * col_mm  # x: along a row (column index), LPS
    affine[:3, 1] = iop[1] * row_mm  # y: down the rows
    affine[:3, 2] = normal * float(row["spacing_slice"])
    affine[:3, 3] = [float(v) for v in ds.ImagePositionPatient]
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine  # LPS -> RAS


def source_affine(row: Mapping, root: str | Path) -> np.ndarray:
    """(4, 4) affine of the source scan (DICOM: of the row, which should be the volume's first slice)."""
    if str(row["orientation"]) == "dicom":
        return _dicom_affine(row, root)
    return load_nifti(Path(root) / row["image_path"]).affine


def write_source_volume(path: str | Path, display: np.ndarray, row: Mapping, root: str | Path,
                        dtype: type = np.float32) -> Path:
    """Write a (Z, H, W) display volume as NIfTI in the source's storage orientation, with the source
    affine (qform and sform), atomically. ``row``: a manifest row of the scan (DICOM: its first slice)."""
    affine = source_affine(row, root)
    image = nib.Nifti1Image(storage_array(np.asarray(display).astype(dtype, copy=False), row, root), affine)
    image.header.set_data_dtype(dtype)
    image.header.set_xyzt_units("mm")
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    with atomic_path(path) as tmp:
        nib.save(image, tmp)
    return Path(path)

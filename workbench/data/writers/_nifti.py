"""Save a display-orientation volume as NIfTI in any axis order, with the matching affine."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Sequence

import nibabel as nib
import numpy as np

from workbench.data.orientation import display_to_las, las_affine
from workbench.utils.io import atomic_path

__all__ = ["save_nifti", "write_nifti_pairs"]


def save_nifti(path: Path, volume: np.ndarray, spacing: Sequence[float], axcodes: Sequence[str], dtype) -> Path:
    """Write ``volume`` (Z, H, W) display orientation to ``path`` stored with axes ``axcodes``.

    spacing: (row_mm, col_mm, slice_mm); axcodes: e.g. ("R", "A", "S"); the affine maps the stored
    axes to RAS+ world mm, so a reader that follows the affine recovers the display volume.
    """
    las = display_to_las(np.asarray(volume).astype(dtype))
    image = nib.Nifti1Image(las, las_affine(*spacing))
    target = nib.orientations.axcodes2ornt(tuple(axcodes))
    image = image.as_reoriented(nib.orientations.ornt_transform(nib.orientations.axcodes2ornt(("L", "A", "S")), target))
    image = nib.Nifti1Image(np.asarray(image.dataobj).astype(dtype), image.affine)
    image.set_qform(image.affine, code=1)
    image.set_sform(image.affine, code=1)
    with atomic_path(path) as tmp:
        nib.save(image, tmp)
    return Path(path)


def write_nifti_pairs(
    subjects: Iterable,
    base: Path,
    image_dir: str,
    label_dir: str,
    axcodes: Sequence[str],
    labels_of: Callable[[np.ndarray], np.ndarray] = lambda labels: labels,
) -> None:
    """Write each subject as ``base/image_dir/<id>.nii.gz`` (int16 HU) and ``base/label_dir/<id>.nii.gz``
    (uint8 ``labels_of(subject.labels)``), both stored with axes ``axcodes``."""
    for subject in subjects:
        name = f"{subject.subject_id}.nii.gz"
        save_nifti(base / image_dir / name, subject.hu, subject.spacing, axcodes, np.int16)
        save_nifti(base / label_dir / name, labels_of(np.asarray(subject.labels)), subject.spacing, axcodes, np.uint8)

"""What the NIfTI readers with voxel labels (BHSD, INSTANCE) share: pair image and label files,
reorient each label volume with its affine, and emit one manifest row per axial slice.

Slices are indexed along the S axis of the volume reoriented to (L, A, S) with
:func:`workbench.data.orientation.to_las` (inferior -> superior), never along the stored third
axis; manifest orientation ``affine`` tells the Dataset to do the same. Spacings are read from the
affine: (row, col, slice) = (A, L, S) voxel sizes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import nibabel as nib
import numpy as np

from workbench.data.nifti import load_nifti, read_array
from workbench.data.orientation import to_las
from workbench.data.readers.base import ScanResult, make_row, record_or_raise, relative
from workbench.utils.errors import DataError
from workbench.utils.progress import progress

__all__ = ["nifti_stem", "find_base", "read_nifti_pairs"]

SliceLabeler = Callable[[np.ndarray, str], np.ndarray]  # (X, Y, Z) LAS labels, path -> (Z, 6)


def nifti_stem(path: Path) -> str | None:
    """File name without ``.nii`` / ``.nii.gz``; None for other files."""
    for suffix in (".nii.gz", ".nii"):
        if path.name.endswith(suffix):
            return path.name[: -len(suffix)]
    return None


def find_base(root: Path, folder: str, image_dir: str) -> Path:
    """``root / folder`` when the download's top folder is below ``root``, else ``root`` itself."""
    root = Path(root)
    if not (root / image_dir).is_dir() and (root / folder / image_dir).is_dir():
        return root / folder
    return root


def _pair_check(image_path: Path, label_path: Path, label_rel: str) -> nib.Nifti1Image:
    """The label image after checking its shape and affine against the image (errors name ``label_rel``)."""
    image, label = load_nifti(image_path), load_nifti(label_path)
    if len(image.shape) != 3 or image.shape != label.shape:
        raise DataError(label_rel, f"label shape {label.shape} does not match image shape {image.shape} (3D expected)")
    if not np.allclose(image.affine, label.affine, atol=1e-3):
        raise DataError(label_rel, "label affine differs from the image affine")
    read_array(image, image_path)  # a truncated image is skipped here, not found later in training
    return label


def read_nifti_pairs(
    root: Path, *, dataset: str, image_dir: str, label_dir: str, labeler: SliceLabeler, subtype_labels: bool, strict: bool
) -> ScanResult:
    """Rows for every ``image_dir/<name>.nii[.gz]`` with a same-name file in ``label_dir`` (paths below ``root``).

    labeler: per-slice LABEL_COLUMNS flags (Z, 6) from the (L, A, S) label volume; may raise
    DataError. subtype_labels: the label file holds subtype codes (also set as ``label_path``).
    """
    result = ScanResult()
    images_dir, labels_dir = root / image_dir, root / label_dir
    for folder in (images_dir, labels_dir):
        if not folder.is_dir():
            raise DataError(folder, f"folder not found (expected '{image_dir}/' and '{label_dir}/' below the root)")
    images = {s: p for p in images_dir.iterdir() if (s := nifti_stem(p))}
    labels = {s: p for p in labels_dir.iterdir() if (s := nifti_stem(p))}
    for stem in sorted(set(labels) - set(images)):
        record_or_raise(result, DataError(relative(labels[stem], root), f"no image of the same name in {image_dir}/"), strict)
    for stem in progress(sorted(images), desc=f"{dataset} volumes"):
        image_rel = relative(images[stem], root)
        if stem not in labels:
            record_or_raise(result, DataError(image_rel, f"no label file of the same name in {label_dir}/"), strict)
            continue
        label_rel = relative(labels[stem], root)
        try:
            label = _pair_check(images[stem], labels[stem], label_rel)
            las, zooms = to_las(np.asanyarray(label.dataobj), label.affine)
            flags = labeler(las, label_rel)
        except DataError as err:
            record_or_raise(result, err, strict)
            continue
        except Exception as exc:  # nibabel / gzip errors on corrupt files
            record_or_raise(result, DataError(label_rel, f"unreadable NIfTI ({type(exc).__name__}: {str(exc)[:160]})"), strict)
            continue
        for z, lab in enumerate(flags):
            result.rows.append(make_row(
                subject_id=f"{dataset}-{stem}", dataset=dataset, volume_id=f"{dataset}-{stem}", image_path=image_rel,
                slice_index=z, orientation="affine", labels=list(lab), spacing=(zooms[1], zooms[0], zooms[2]),
                mask_path=label_rel, label_path=label_rel if subtype_labels else "", has_mask=True,
            ))  # fmt: skip
    return result

"""BHSD (192 NIfTI volumes with 5-class voxel labels).

Layout: ``label_192/images/<name>.nii.gz`` and ``label_192/ground truths/<name>.nii.gz`` (note the
space); ``root`` may be the ``label_192`` folder or its parent. Label values 0 background,
1 epidural, 2 intraparenchymal, 3 intraventricular, 4 subarachnoid, 5 subdural (= SUBTYPE_CODES);
slice labels come from the label volume, ``has_mask`` = 1, ``label_path`` = ``mask_path`` = the
ground truth, orientation ``affine``. ``subject_id`` = ``bhsd-<name>``. No options.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from workbench.data.label_volumes import volume_slice_labels
from workbench.data.labels import SUBTYPE_CODES
from workbench.data.readers._nifti_pairs import find_base, read_nifti_pairs
from workbench.data.readers.base import ScanResult, register_reader
from workbench.utils.errors import DataError, choice_error

__all__ = ["read_bhsd", "bhsd_slice_labels"]


def bhsd_slice_labels(las: np.ndarray, path: str) -> np.ndarray:
    """(X, Y, Z) codes 0-5 -> (Z, 6) LABEL_COLUMNS flags; DataError naming the file for other values."""
    values = np.unique(las)
    bad = [int(v) for v in values if v not in range(len(SUBTYPE_CODES) + 1)]
    if bad:
        raise DataError(path, f"label values {bad[:5]} outside 0-{len(SUBTYPE_CODES)} (0 background, {SUBTYPE_CODES})")
    return volume_slice_labels(las, axis=2)


@register_reader("bhsd")
def read_bhsd(root: Path, *, strict: bool = False, **options) -> ScanResult:
    """Manifest rows for a BHSD download (module docstring)."""
    if options:
        raise choice_error("reader option", next(iter(options)), ["(none)"])
    root = Path(root)
    base = find_base(root, "label_192", "images")
    return read_nifti_pairs(
        root, dataset="bhsd", image_dir=Path(base.relative_to(root), "images").as_posix(),
        label_dir=Path(base.relative_to(root), "ground truths").as_posix(),
        labeler=bhsd_slice_labels, subtype_labels=True, strict=strict,
    )  # fmt: skip

"""INSTANCE 2022 (100 training NIfTI volumes with binary hemorrhage masks).

Layout: ``train/data/<name>.nii.gz`` and ``train/label/<name>.nii.gz`` (same names); ``root`` may
be the ``train`` folder or its parent. The label is binary (> 0 = hemorrhage, no subtype): per
slice ``any`` = mask present, subtype columns 0; ``has_mask`` = 1, ``mask_path`` = the label,
``label_path`` empty, orientation ``affine``. ``subject_id`` = ``instance-<name>``. No options.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from workbench.data.labels import LABEL_COLUMNS
from workbench.data.readers._nifti_pairs import find_base, read_nifti_pairs
from workbench.data.readers.base import ScanResult, register_reader
from workbench.utils.errors import choice_error

__all__ = ["read_instance", "binary_slice_labels"]


def binary_slice_labels(las: np.ndarray, path: str) -> np.ndarray:
    """(X, Y, Z) binary mask -> (Z, 6) flags: ``any`` per slice, subtypes 0."""
    out = np.zeros((las.shape[2], len(LABEL_COLUMNS)), dtype=np.int64)
    out[:, 0] = (np.asarray(las) > 0).any(axis=(0, 1))
    return out


@register_reader("instance")
def read_instance(root: Path, *, strict: bool = False, **options) -> ScanResult:
    """Manifest rows for an INSTANCE 2022 training download (module docstring)."""
    if options:
        raise choice_error("reader option", next(iter(options)), ["(none)"])
    root = Path(root)
    base = Path(find_base(root, "train", "data").relative_to(root))
    return read_nifti_pairs(
        root, dataset="instance", image_dir=(base / "data").as_posix(), label_dir=(base / "label").as_posix(),
        labeler=binary_slice_labels, subtype_labels=False, strict=strict,
    )  # fmt: skip

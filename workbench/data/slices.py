"""Load one manifest row as HU / mask / subtype-label arrays in display orientation."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from workbench.data import nifti
from workbench.utils.errors import DataError

__all__ = ["load_row", "load_row_hu"]


def _read(root: Path, rel: str, index: int, orientation: str) -> np.ndarray:
    path = root / rel
    if orientation == "dicom":
        from workbench.data.dicom import load_dicom_hu  # optional layer (RSNA / CQ500 readers)

        return load_dicom_hu(path)
    return nifti.read_slice(path, index, orientation)


def load_row_hu(row: Mapping, root: str | Path) -> np.ndarray:
    """One manifest row's image -> hu float32 (H, W) in display orientation (no mask, no labels).

    Raises DataError naming the file when it is missing or corrupt, or when HU contain NaN.
    """
    root = Path(root)
    idx = int(row["slice_index"])
    hu = np.asarray(_read(root, row["image_path"], idx, str(row["orientation"])), dtype=np.float32)
    if not np.isfinite(hu).all():
        raise DataError(root / row["image_path"], f"slice {idx} contains NaN or inf values")
    return hu


def load_row(row: Mapping, root: str | Path) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """One manifest row -> (hu float32 (H, W), mask bool (H, W) or None, labels uint8 (H, W) or None).

    The mask is ``> 0`` of the mask volume (PhysioNet stores 0/255). Raises DataError naming the
    file when it is missing or corrupt, when HU contain NaN, or when shapes disagree.
    """
    root = Path(root)
    idx, orient = int(row["slice_index"]), str(row["orientation"])
    hu = load_row_hu(row, root)
    out: list[np.ndarray | None] = [hu]
    for col, kind in (("mask_path", "mask"), ("label_path", "label volume")):
        rel = row.get(col, "") or ""
        if not rel:
            out.append(None)
            continue
        arr = np.asarray(_read(root, rel, idx, orient))
        if arr.shape != hu.shape:
            raise DataError(root / rel, f"{kind} slice {idx} has shape {arr.shape}, image has {hu.shape}")
        out.append(arr > 0 if col == "mask_path" else arr.astype(np.uint8))
    return out[0], out[1], out[2]

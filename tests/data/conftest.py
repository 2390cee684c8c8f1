"""Fixtures: tiny PhysioNet-layout datasets written from arrays (independent of the generator)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from workbench.data.orientation import display_to_las, las_affine
from workbench.data.readers.physionet import DIAGNOSIS_COLUMNS, DIAGNOSIS_CSV


def ring_phantom(z: int = 4, size: int = 48, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(Z, H, W) HU: air, a bone ring (1000 HU), brain (35 HU) inside; and the true interior."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(yy - size / 2 + 0.5, xx - size / 2 + 0.5)
    hu = np.full((z, size, size), -1000.0)
    hu[:, r < size * 0.45] = 1000.0
    interior = r < size * 0.37
    hu[:, interior] = 35.0
    hu += rng.normal(0, 3, hu.shape)
    return hu.astype(np.int16), np.broadcast_to(interior, hu.shape).copy()


def write_physionet(
    root: Path,
    volumes: dict[int, np.ndarray],
    masks: dict[int, np.ndarray],
    spacing=(0.5, 0.5, 5.0),
    csv_rows: list[dict] | None = None,
) -> Path:
    """Write display volumes (Z, H, W) in the PhysioNet layout; CSV derived from masks unless given.

    Subtype per slice in the derived CSV: Subdural when the mask has voxels on that slice.
    """
    (root / "ct_scans").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    aff = las_affine(*spacing)
    rows = []
    for num, vol in volumes.items():
        nib.save(nib.Nifti1Image(display_to_las(vol), aff), root / "ct_scans" / f"{num:03d}.nii")
        m = masks[num]
        nib.save(nib.Nifti1Image(display_to_las((m > 0).astype(np.uint8) * 255), aff), root / "masks" / f"{num:03d}.nii")
        for k in range(vol.shape[0]):
            pos = int(m[k].any())
            rows.append(dict(PatientNumber=num, SliceNumber=k + 1, Intraventricular=0, Intraparenchymal=0,
                             Subarachnoid=0, Epidural=0, Subdural=pos, No_Hemorrhage=1 - pos, Fracture_Yes_No=0))
    frame = pd.DataFrame(csv_rows if csv_rows is not None else rows, columns=list(DIAGNOSIS_COLUMNS))
    frame.to_csv(root / DIAGNOSIS_CSV, index=False)
    return root


@pytest.fixture
def tiny_physionet(tmp_path: Path) -> Path:
    """3 subjects (numbers 2, 10, 49: numeric vs lexical order differ), 4 slices of 48 px.

    Subject 10 has a lesion on slices 1 and 2 (slice k's lesion is a square at row 10+k);
    the others have none.
    """
    vols, masks = {}, {}
    for i, num in enumerate((49, 2, 10)):  # written out of order on purpose
        hu, _ = ring_phantom(seed=i)
        m = np.zeros_like(hu, dtype=bool)
        if num == 10:
            for k in (1, 2):
                m[k, 10 + k : 16 + k, 20:26] = True
                hu[k][m[k]] = 70
        vols[num], masks[num] = hu, m
    return write_physionet(tmp_path / "physionet", vols, masks)

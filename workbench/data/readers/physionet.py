"""PhysioNet CT-ICH v1.3.1 reader (and the synthetic cohort, written in the same layout).

Layout::

    ROOT/ct_scans/NNN.nii      HU volumes, stored (L, A, S)
    ROOT/masks/NNN.nii         0/255 lesion masks, same shape (no subtype)
    ROOT/hemorrhage_diagnosis_raw_ct.csv
        PatientNumber, SliceNumber, Intraventricular, Intraparenchymal, Subarachnoid, Epidural,
        Subdural, No_Hemorrhage, Fracture_Yes_No   (rows of a patient in z order)

The synthetic cohort adds ``labels/NNN.nii`` (subtype codes) and ``brain_masks/NNN.nii``.
Scans are sorted by patient number (never by directory listing order); the CSV rows of a patient
must match the volume's slice count; subtypes come from the CSV only.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.data.labels import PHYSIONET_COLUMNS, SUBTYPES
from workbench.data.nifti import display_spacing, load_nifti, read_array
from workbench.data.readers.base import ScanResult, make_row, record_or_raise, register_reader
from workbench.utils.errors import DataError
from workbench.utils.progress import progress

__all__ = ["DIAGNOSIS_CSV", "DIAGNOSIS_COLUMNS", "read_diagnosis_csv", "scan_physionet", "scan_synthetic"]

DIAGNOSIS_CSV = "hemorrhage_diagnosis_raw_ct.csv"
DIAGNOSIS_COLUMNS = (
    "PatientNumber",
    "SliceNumber",
    "Intraventricular",
    "Intraparenchymal",
    "Subarachnoid",
    "Epidural",
    "Subdural",
    "No_Hemorrhage",
    "Fracture_Yes_No",
)
_SCAN_NAME = re.compile(r"^(\d+)\.nii(\.gz)?$")


def read_diagnosis_csv(path: str | Path) -> pd.DataFrame:
    """Read and check the diagnosis CSV; DataError names missing columns or bad values."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "diagnosis CSV not found")
    try:
        frame = pd.read_csv(path)
    except Exception as exc:
        raise DataError(path, f"not a readable CSV ({type(exc).__name__}: {exc})") from None
    missing = [c for c in DIAGNOSIS_COLUMNS[:-1] if c not in frame.columns]
    if missing:
        raise DataError(path, f"missing columns {missing}; expected {list(DIAGNOSIS_COLUMNS)}")
    needed = list(DIAGNOSIS_COLUMNS[:-1])
    bad = frame[needed].isna().any(axis=1)
    if bad.any():
        raise DataError(path, f"empty values in rows {list(frame.index[bad][:10] + 2)} (1-based file lines)")
    try:
        frame[needed] = frame[needed].astype(int)
    except (TypeError, ValueError):
        raise DataError(path, "non-integer values in the label columns") from None
    return frame


def _scan_files(root: Path) -> list[tuple[int, Path]]:
    scans = root / "ct_scans"
    if not scans.is_dir():
        raise DataError(scans, "folder not found: expected ROOT/ct_scans/NNN.nii (PhysioNet CT-ICH layout)")
    found = []
    for p in scans.iterdir():
        m = _SCAN_NAME.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    if not found:
        raise DataError(scans, "no NNN.nii scans found")
    return sorted(found)  # by patient number, never by listing order


def _companion(folder: Path, scan: Path) -> Path:
    return folder / scan.name


def _check_volume(scan: Path, mask: Path) -> tuple[int, tuple[float, float, float]]:
    img = load_nifti(scan)
    if not mask.is_file():
        raise DataError(mask, f"mask missing for scan {scan.name}")
    mimg = load_nifti(mask)
    if tuple(mimg.shape) != tuple(img.shape):
        raise DataError(mask, f"shape {tuple(mimg.shape)} differs from scan {scan.name} {tuple(img.shape)}")
    read_array(mimg, mask)  # a truncated mask is skipped here, not found later in training
    data = read_array(img, scan)
    if np.issubdtype(data.dtype, np.floating) and not np.isfinite(data).all():
        raise DataError(scan, f"{int((~np.isfinite(data)).sum())} NaN/inf voxels")
    if float(data.max()) == float(data.min()):
        raise DataError(scan, f"constant volume (all voxels {float(data.min())})")
    return img.shape[2], display_spacing(img, "las")


def _scan(root: Path, dataset: str, strict: bool) -> ScanResult:
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "data root not found")
    csv = read_diagnosis_csv(root / DIAGNOSIS_CSV)
    by_patient = {int(k): g for k, g in csv.groupby("PatientNumber", sort=False)}
    result = ScanResult()
    for number, scan in progress(_scan_files(root), desc=f"{dataset} scans", unit="scan"):
        mask = _companion(root / "masks", scan)
        try:
            n_slices, spacing = _check_volume(scan, mask)
            rows = by_patient.get(number)
            if rows is None:
                raise DataError(root / DIAGNOSIS_CSV, f"no rows for PatientNumber {number} (scan {scan.name})")
            if len(rows) != n_slices:
                raise DataError(
                    root / DIAGNOSIS_CSV,
                    f"PatientNumber {number}: {len(rows)} CSV rows but {scan.name} has {n_slices} slices",
                )
        except DataError as err:
            record_or_raise(result, err, strict)
            continue
        label_file = _companion(root / "labels", scan)
        stem = scan.name.split(".")[0]
        for k, (_, r) in enumerate(rows.iterrows()):
            labels = {s: int(r[PHYSIONET_COLUMNS[s]]) for s in SUBTYPES}
            labels["any"] = 1 - int(r["No_Hemorrhage"])
            result.rows.append(
                make_row(
                    subject_id=f"{dataset}-{stem}",
                    dataset=dataset,
                    volume_id=f"{dataset}-{stem}",
                    image_path=f"ct_scans/{scan.name}",
                    slice_index=k,
                    orientation="las",
                    labels=labels,
                    spacing=spacing,
                    mask_path=f"masks/{mask.name}",
                    label_path=f"labels/{label_file.name}" if label_file.is_file() else "",
                    has_mask=True,
                )
            )
    return result


@register_reader("physionet")
def scan_physionet(root: Path, *, strict: bool = False, **options) -> ScanResult:
    """Manifest rows of a PhysioNet CT-ICH download (see module docstring)."""
    if options:
        raise TypeError(f"physionet reader takes no options, got {sorted(options)}")
    return _scan(root, "physionet", strict)


@register_reader("synthetic")
def scan_synthetic(root: Path, *, strict: bool = False, **options) -> ScanResult:
    """Manifest rows of the synthetic cohort (``workbench synth``; PhysioNet layout + label volumes)."""
    if options:
        raise TypeError(f"synthetic reader takes no options, got {sorted(options)}")
    return _scan(root, "synthetic", strict)

"""PhysioNet reader on generated files, including each failure mode."""

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from tests.data.conftest import ring_phantom, write_physionet
from workbench.data.readers.physionet import DIAGNOSIS_CSV, read_diagnosis_csv, scan_physionet
from workbench.data.slices import load_row
from workbench.utils.errors import DataError


def test_rows_sorted_by_patient_number_and_labels(tiny_physionet: Path):
    res = scan_physionet(tiny_physionet)
    assert not res.skipped
    subjects = [r["subject_id"] for r in res.rows]
    assert subjects == ["physionet-002"] * 4 + ["physionet-010"] * 4 + ["physionet-049"] * 4
    s10 = [r for r in res.rows if r["subject_id"] == "physionet-010"]
    assert [r["any"] for r in s10] == [0, 1, 1, 0]
    assert [r["subdural"] for r in s10] == [0, 1, 1, 0]
    assert all(r["has_mask"] == 1 and r["orientation"] == "las" for r in res.rows)
    assert (s10[0]["spacing_row"], s10[0]["spacing_col"], s10[0]["spacing_slice"]) == (0.5, 0.5, 5.0)


def test_slices_read_back_in_display_orientation(tiny_physionet: Path):
    res = scan_physionet(tiny_physionet)
    row = [r for r in res.rows if r["subject_id"] == "physionet-010"][2]
    hu, mask, labels = load_row(row, tiny_physionet)
    assert hu.shape == (48, 48) and mask.dtype == bool and labels is None
    rows, cols = np.nonzero(mask)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (12, 17, 20, 25)  # square at 10+k, k=2
    assert np.all(hu[mask] == 70)


def test_csv_rows_disagreeing_with_slice_count(tiny_physionet: Path):
    csv = pd.read_csv(tiny_physionet / DIAGNOSIS_CSV)
    csv = csv.drop(csv.index[(csv.PatientNumber == 49) & (csv.SliceNumber == 4)])
    csv.to_csv(tiny_physionet / DIAGNOSIS_CSV, index=False)
    res = scan_physionet(tiny_physionet)
    assert {r["subject_id"] for r in res.rows} == {"physionet-002", "physionet-010"}
    (sk,) = res.skipped
    assert "PatientNumber 49: 3 CSV rows but 049.nii has 4 slices" in sk.reason
    with pytest.raises(DataError, match="3 CSV rows but 049.nii has 4 slices"):
        scan_physionet(tiny_physionet, strict=True)


def test_missing_columns_named(tiny_physionet: Path):
    csv = pd.read_csv(tiny_physionet / DIAGNOSIS_CSV).drop(columns=["Subdural", "No_Hemorrhage"])
    csv.to_csv(tiny_physionet / DIAGNOSIS_CSV, index=False)
    with pytest.raises(DataError, match=r"missing columns \['Subdural', 'No_Hemorrhage'\]"):
        read_diagnosis_csv(tiny_physionet / DIAGNOSIS_CSV)


def test_mask_shape_mismatch_missing_mask_nan_and_corrupt(tmp_path: Path):
    hu, _ = ring_phantom()
    vols = {1: hu, 2: hu, 3: hu.astype(np.float32), 4: hu, 5: hu}
    masks = {k: np.zeros_like(hu, dtype=bool) for k in vols}
    root = write_physionet(tmp_path / "p", vols, masks)
    aff = nib.load(root / "masks" / "001.nii").affine
    nib.save(nib.Nifti1Image(np.zeros((48, 40, 4), np.uint8), aff), root / "masks" / "001.nii")  # shape
    (root / "masks" / "002.nii").unlink()  # missing mask
    bad = hu.astype(np.float32)
    bad[1, 3, 3] = np.nan
    from workbench.data.orientation import display_to_las

    nib.save(nib.Nifti1Image(display_to_las(bad), aff), root / "ct_scans" / "003.nii")  # NaN
    (root / "ct_scans" / "004.nii").write_bytes(b"not a nifti file at all")  # corrupt
    res = scan_physionet(root)
    reasons = {Path(s.path).name: s.reason for s in res.skipped}
    assert "differs from scan 001.nii" in reasons["001.nii"]
    assert "mask missing for scan 002.nii" in reasons["002.nii"]
    assert "NaN" in reasons["003.nii"]
    assert "not a readable NIfTI" in reasons["004.nii"]
    assert {r["subject_id"] for r in res.rows} == {"physionet-005"}


def test_empty_volume_and_missing_layout(tmp_path: Path):
    with pytest.raises(DataError, match="data root not found"):
        scan_physionet(tmp_path / "nope")
    (tmp_path / "x").mkdir()
    pd.DataFrame(columns=["PatientNumber"]).to_csv(tmp_path / "x" / DIAGNOSIS_CSV, index=False)
    with pytest.raises(DataError, match="missing columns"):
        scan_physionet(tmp_path / "x")
    hu, _ = ring_phantom()
    root = write_physionet(tmp_path / "e", {1: hu}, {1: np.zeros_like(hu, dtype=bool)})
    aff = nib.load(root / "ct_scans" / "001.nii").affine
    nib.save(nib.Nifti1Image(np.zeros((48, 48, 0), np.int16), aff), root / "ct_scans" / "001.nii")
    with pytest.raises(DataError, match="empty volume"):
        scan_physionet(root, strict=True)

"""write_cohort / the synth command: PhysioNet layout, CSV, NIfTI round trip, byte determinism."""

import hashlib
import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from workbench.cli import main
from workbench.data.labels import PHYSIONET_COLUMNS, SUBTYPE_CODES
from workbench.data.orientation import las_to_display
from workbench.data.synth import generate_subject, write_cohort

COLUMNS = ["PatientNumber", "SliceNumber", "Intraventricular", "Intraparenchymal", "Subarachnoid",
           "Epidural", "Subdural", "No_Hemorrhage", "Fracture_Yes_No"]
ARGS = dict(subjects=3, seed=4, size=64, n_slices=8)


def _hashes(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return write_cohort(tmp_path_factory.mktemp("c1"), **ARGS)


def test_layout_and_determinism(cohort, tmp_path):
    names = {f"{d}/{i:03d}.nii" for d in ("ct_scans", "masks", "labels", "brain_masks") for i in (1, 2, 3)}
    files = _hashes(cohort)
    assert set(files) == names | {"hemorrhage_diagnosis_raw_ct.csv", "cohort.json"}
    again = write_cohort(tmp_path, **ARGS)
    assert _hashes(again) == files
    other = write_cohort(tmp_path / "other", **{**ARGS, "seed": 5})
    assert _hashes(other)["ct_scans/001.nii"] != files["ct_scans/001.nii"]


def test_nifti_round_trip(cohort):
    for i in range(3):
        s = generate_subject(i, 4, size=64, n_slices=8)
        img = nib.load(cohort / "ct_scans" / f"{s.subject_id}.nii")
        assert img.get_data_dtype() == np.int16 and nib.aff2axcodes(img.affine) == ("L", "A", "S")
        assert np.allclose(img.header.get_zooms(), (s.spacing[1], s.spacing[0], 5.0))
        assert np.array_equal(las_to_display(np.asanyarray(img.dataobj)), s.hu)
        mask = las_to_display(np.asanyarray(nib.load(cohort / "masks" / f"{s.subject_id}.nii").dataobj))
        labels = las_to_display(np.asanyarray(nib.load(cohort / "labels" / f"{s.subject_id}.nii").dataobj))
        brain = las_to_display(np.asanyarray(nib.load(cohort / "brain_masks" / f"{s.subject_id}.nii").dataobj))
        assert set(np.unique(mask)) <= {0, 255} and np.array_equal(mask == 255, labels > 0)
        assert np.array_equal(labels, s.labels) and np.array_equal(brain == 1, s.brain)


def test_csv_consistent_with_labels(cohort):
    table = pd.read_csv(cohort / "hemorrhage_diagnosis_raw_ct.csv")
    assert list(table.columns) == COLUMNS
    assert len(table) == 3 * 8
    for pid, rows in table.groupby("PatientNumber"):
        assert list(rows["SliceNumber"]) == list(range(1, 9))
        labels = las_to_display(np.asanyarray(nib.load(cohort / "labels" / f"{pid:03d}.nii").dataobj))
        for name, column in PHYSIONET_COLUMNS.items():
            expected = (labels == SUBTYPE_CODES[name]).any(axis=(1, 2)).astype(int)
            assert list(rows[column]) == list(expected)
        assert list(rows["No_Hemorrhage"]) == list((~(labels > 0).any(axis=(1, 2))).astype(int))


def test_cohort_json(cohort):
    meta = json.loads((cohort / "cohort.json").read_text())
    assert meta["arguments"]["seed"] == 4 and len(meta["subjects"]) == 3
    assert all("lesions" in s and "params" in s for s in meta["subjects"])


def test_cli(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path), "--subjects", "1", "--seed", "2", "--size", "48", "--slices", "4"]) == 0
    assert str(tmp_path / "physionet") in capsys.readouterr().out
    assert (tmp_path / "physionet" / "ct_scans" / "001.nii").is_file()


def test_all_layouts_from_one_call_read_back_by_every_reader(tmp_path, monkeypatch):
    """`workbench synth --layout all`: each layout is read by its own reader with consistent labels."""
    from workbench.data.manifest import build_manifest
    from workbench.data.synth import write_layouts

    monkeypatch.setenv("WORKBENCH_ID_KEY", "test-key-0123456789abcdef")
    written = write_layouts(tmp_path, ["physionet", "bhsd", "instance", "rsna"], subjects=3, seed=2, size=64, n_slices=4)
    assert set(written) == {"physionet", "bhsd", "instance", "rsna"}
    phys, _ = build_manifest("physionet", written["physionet"], n_folds=0)
    bhsd, _ = build_manifest("bhsd", written["bhsd"], n_folds=0)
    inst, _ = build_manifest("instance", written["instance"], n_folds=0)
    rsna, skipped = build_manifest("rsna", written["rsna"], n_folds=0)
    assert len(phys) == len(bhsd) == len(inst) == 12
    # the same subjects: slice-level 'any' agrees between the NIfTI layouts
    assert phys["any"].sum() == bhsd["any"].sum() == inst["any"].sum()
    assert (phys[["epidural", "subdural"]].to_numpy() == bhsd[["epidural", "subdural"]].to_numpy()).all()
    # the RSNA layout carries its planted bad file, reported and skipped
    assert len(rsna) > 0 and any("truncated" in s.reason.lower() for s in skipped)

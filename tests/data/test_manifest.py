from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.data.labels import LABEL_COLUMNS
from workbench.data.manifest import (
    MANIFEST_COLUMNS,
    assign_folds,
    build_manifest,
    read_manifest,
    validate_manifest,
    write_manifest,
    write_skipped,
)
from workbench.data.readers.base import Skipped, make_row
from workbench.utils.errors import DataError


def fake_manifest(n_subjects: int = 30, slices: int = 10, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_subjects):
        n_pos = 0 if s % 2 == 0 else int(rng.integers(1, slices))
        for k in range(slices):
            rows.append(make_row(subject_id=f"s{s:03d}", dataset="x", volume_id=f"v{s}", image_path=f"ct_scans/{s}.nii",
                                 slice_index=k, orientation="las", labels={"subdural": int(k < n_pos)},
                                 spacing=(0.5, 0.5, 5.0), mask_path=f"masks/{s}.nii", has_mask=True))
    frame = pd.DataFrame(rows)
    frame["fold"] = -1
    return frame


def test_folds_are_subject_wise_balanced_and_deterministic():
    frame = fake_manifest()
    a = assign_folds(frame, n_folds=5, seed=3)
    b = assign_folds(frame, n_folds=5, seed=3)
    assert a["fold"].tolist() == b["fold"].tolist()
    assert (a.groupby("subject_id")["fold"].nunique() == 1).all()  # no subject in two folds
    per_fold = a.groupby("subject_id").agg(fold=("fold", "first"), pos=("any", "sum"))
    assert sorted(per_fold["fold"].unique()) == [0, 1, 2, 3, 4]
    assert per_fold.groupby("fold").size().tolist() == [6] * 5
    # stratified: every fold gets ICH-free and ICH subjects
    n_neg = per_fold[per_fold.pos == 0].groupby("fold").size()
    assert n_neg.min() >= 2 and n_neg.max() <= 4
    c = assign_folds(frame, n_folds=5, seed=4)
    assert c["fold"].tolist() != a["fold"].tolist()


def test_too_few_subjects_for_folds():
    with pytest.raises(ValueError, match="3 subjects cannot fill 5 folds: pass --folds 3 or fewer"):
        assign_folds(fake_manifest(3), n_folds=5)


def test_validate_names_missing_columns_and_bad_values():
    frame = fake_manifest(4)
    with pytest.raises(DataError, match=r"m\.csv: missing columns \['subdural'\]"):
        validate_manifest(frame.drop(columns=["subdural"]), "m.csv")
    bad = frame.copy()
    bad.loc[3, "any"] = np.nan
    with pytest.raises(DataError, match="column 'any' has missing"):
        validate_manifest(bad)
    bad = frame.copy()
    bad.loc[2, "epidural"] = 2
    with pytest.raises(DataError, match="must be 0 or 1"):
        validate_manifest(bad)
    bad = frame.copy()
    bad.loc[0, "fold"] = 1
    with pytest.raises(DataError, match="more than one fold"):
        validate_manifest(bad)


def test_write_read_round_trip(tmp_path: Path):
    frame = assign_folds(fake_manifest(6), n_folds=3)
    frame.loc[0, "label_path"] = ""
    path = write_manifest(frame, tmp_path / "m.csv")
    back = read_manifest(path)
    assert list(back.columns) == list(MANIFEST_COLUMNS)
    pd.testing.assert_frame_equal(back, validate_manifest(frame))
    assert back.loc[0, "label_path"] == ""
    write_skipped([Skipped("a.nii", "bad")], path)
    assert pd.read_csv(tmp_path / "m.skipped.csv").to_dict("records") == [{"path": "a.nii", "reason": "bad"}]
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary file left behind


def test_build_manifest_on_physionet_layout(tiny_physionet: Path):
    frame, skipped = build_manifest("physionet", tiny_physionet, n_folds=3, seed=0)
    assert not skipped and len(frame) == 12
    assert frame["subject_id"].nunique() == 3 and sorted(frame["fold"].unique()) == [0, 1, 2]
    assert frame[list(LABEL_COLUMNS)].sum().to_dict()["any"] == 2
    with pytest.raises(ValueError, match="valid choices"):
        build_manifest("physionett", tiny_physionet)


def test_no_usable_slices_is_an_error(tmp_path: Path, tiny_physionet: Path):
    for f in (tiny_physionet / "masks").iterdir():
        f.unlink()
    with pytest.raises(DataError, match="no usable slices"):
        build_manifest("physionet", tiny_physionet, n_folds=0)

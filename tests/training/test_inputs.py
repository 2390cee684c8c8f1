"""Bad training input fails before training, naming the file and the problem."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from workbench.data.labels import LABEL_COLUMNS
from workbench.training.inputs import prepare_splits
from workbench.utils.errors import DataError


def _manifest(tmp_path: Path, any_labels: list[int], n_subjects: int = 4) -> tuple[Path, Path]:
    """A schema-complete manifest, slices spread over ``n_subjects`` (fold = subject number)."""
    root = tmp_path / "root"
    root.mkdir()
    rows = []
    for i, pos in enumerate(any_labels):
        subj = i % n_subjects
        rel = f"vol{subj}.nii"
        (root / rel).touch()
        labels = {c: 0 for c in LABEL_COLUMNS}
        labels["any"] = labels["subdural"] = pos
        rows.append(dict(subject_id=f"s{subj}", dataset="synthetic", volume_id=f"v{subj}", image_path=rel,
                         slice_index=i // n_subjects, orientation="las", mask_path="", label_path="", **labels,
                         label_source="slice", has_mask=0, spacing_row=1.0, spacing_col=1.0, spacing_slice=5.0,
                         fold=subj))
    path = tmp_path / "m.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path, root


def test_good_manifest_splits_by_subject(tmp_path):
    path, root = _manifest(tmp_path, [1, 0] * 8)
    splits = prepare_splits(path, root, val_fold=1, exclude_folds=[0])
    assert set(splits.val["subject_id"]) == {"s1"}
    assert set(splits.train["subject_id"]) == {"s2", "s3"}


def test_manifest_without_labels(tmp_path):
    path, root = _manifest(tmp_path, [1, 0] * 4)
    pd.read_csv(path).drop(columns=["any", "epidural"]).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"m\.csv.*missing label column\(s\) \['any', 'epidural'\]"):
        prepare_splits(path, root)


def test_single_class(tmp_path):
    path, root = _manifest(tmp_path, [0] * 8)
    with pytest.raises(DataError, match=r"m\.csv.*single class \(any = 0 on all 8 slices\)"):
        prepare_splits(path, root)


def test_single_class_after_holding_out_folds(tmp_path):
    path, root = _manifest(tmp_path, [1, 1, 0, 0] * 2, n_subjects=4)  # positives only in folds 0, 1
    with pytest.raises(DataError, match="training split has a single class"):
        prepare_splits(path, root, val_fold=0, exclude_folds=[1])


def test_missing_files_are_listed(tmp_path):
    path, root = _manifest(tmp_path, [1, 0] * 4)
    (root / "vol2.nii").unlink()
    with pytest.raises(DataError, match=r"1 of 4 image_path files do not exist.*vol2\.nii"):
        prepare_splits(path, root)
    with pytest.raises(DataError, match="data root not found"):
        prepare_splits(path, tmp_path / "nowhere")


def test_unknown_fold_lists_the_folds(tmp_path):
    path, root = _manifest(tmp_path, [1, 0] * 4)
    with pytest.raises(DataError, match=r"fold 7 is not in the manifest; folds present: \[0, 1, 2, 3\]"):
        prepare_splits(path, root, val_fold=7)


def test_missing_manifest(tmp_path):
    with pytest.raises(DataError, match="nope.csv: manifest not found"):
        prepare_splits(tmp_path / "nope.csv", tmp_path)

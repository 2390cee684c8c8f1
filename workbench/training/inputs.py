"""Checks and splits of a training manifest, all done before any training starts.

Errors (:class:`~workbench.utils.errors.DataError`) name the file and the problem: a manifest
without label columns, a training split holding a single class, image files that do not exist
under the data root, an unknown validation fold. Validation is one fold of the manifest: whole
subjects, never mixed with training subjects.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd

from workbench.data.labels import LABEL_COLUMNS
from workbench.utils.errors import DataError

__all__ = ["Splits", "read_training_manifest", "check_paths", "split_by_fold", "prepare_splits"]


@dataclass(frozen=True)
class Splits:
    """Manifest rows for training and validation (``val`` is None without a validation fold)."""

    train: pd.DataFrame
    val: pd.DataFrame | None
    source: str


def read_training_manifest(manifest: str | Path | pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Read (or take) a manifest and check it has every label column; returns ``(frame, source)``."""
    from workbench.data.manifest import read_manifest, validate_manifest

    if isinstance(manifest, pd.DataFrame):
        frame, source = manifest, "<manifest DataFrame>"
    else:
        source = str(manifest)
        if not Path(manifest).is_file():
            raise DataError(manifest, "manifest not found")
        frame = pd.read_csv(manifest, nrows=0)
    missing = [c for c in LABEL_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(source, f"no slice labels: missing label column(s) {missing}; training needs {list(LABEL_COLUMNS)}")
    if isinstance(manifest, pd.DataFrame):
        return validate_manifest(frame, source), source
    return read_manifest(manifest), source


def check_paths(frame: pd.DataFrame, root: str | Path, source: str, column: str = "image_path") -> None:
    """Every ``column`` entry must exist under ``root``; the error names the first missing files."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, f"data root not found (manifest {source})")
    paths = frame[column].astype(str).unique()
    missing = [p for p in paths if not (root / p).exists()]
    if missing:
        shown = ", ".join(str(root / p) for p in missing[:5])
        raise DataError(source, f"{len(missing)} of {len(paths)} {column} files do not exist under {root}: {shown}")


def _check_classes(frame: pd.DataFrame, source: str, what: str) -> None:
    counts = frame["any"].value_counts()
    if len(counts) < 2:
        only = int(counts.index[0]) if len(counts) else "none"
        raise DataError(source, f"{what} has a single class (any = {only} on all {len(frame)} slices); "
                                "training needs ICH-positive and negative slices")


def split_by_fold(frame: pd.DataFrame, source: str, val_fold: int | None = None,
                  exclude_folds: Sequence[int] = ()) -> Splits:
    """Training rows = folds not in ``exclude_folds`` and not ``val_fold``; validation = ``val_fold``."""
    folds = sorted(int(f) for f in frame["fold"].unique())
    for f in list(exclude_folds) + ([val_fold] if val_fold is not None else []):
        if f not in folds:
            raise DataError(source, f"fold {f} is not in the manifest; folds present: {folds}")
    held = set(int(f) for f in exclude_folds) | ({int(val_fold)} if val_fold is not None else set())
    train = frame[~frame["fold"].isin(held)].reset_index(drop=True)
    if len(train) == 0:
        raise DataError(source, f"no training rows left after holding out folds {sorted(held)}")
    _check_classes(train, source, "the training split")
    val = None
    if val_fold is not None:
        val = frame[frame["fold"] == int(val_fold)].reset_index(drop=True)
        shared = set(train["subject_id"]) & set(val["subject_id"])
        if shared:
            raise DataError(source, f"subjects in both training and validation: {sorted(shared)[:5]}")
    return Splits(train=train, val=val, source=source)


def prepare_splits(manifest: str | Path | pd.DataFrame, root: str | Path, val_fold: int | None = None,
                   exclude_folds: Sequence[int] = ()) -> Splits:
    """Read, check (labels, classes, files) and split a manifest; raises before any training."""
    frame, source = read_training_manifest(manifest)
    _check_classes(frame, source, "the manifest")
    splits = split_by_fold(frame, source, val_fold, exclude_folds)
    used = pd.concat([splits.train] + ([splits.val] if splits.val is not None else []))
    check_paths(used, root, source)
    return splits

"""Manifests: the one CSV schema of every dataset (``data_manifests/README.md``).

Build one with :func:`build_manifest` (a registered reader + subject-wise stratified folds),
read and check one with :func:`read_manifest`.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from workbench.data.labels import LABEL_COLUMNS
from workbench.data.readers.base import ScanResult, Skipped, get_reader
from workbench.utils.errors import DataError
from workbench.utils.io import write_csv_atomic

__all__ = [
    "MANIFEST_COLUMNS",
    "check_overwritable",
    "STRING_COLUMNS",
    "validate_manifest",
    "read_manifest",
    "write_manifest",
    "assign_folds",
    "build_manifest",
    "skipped_report_path",
    "write_skipped",
]

STRING_COLUMNS = (
    "subject_id",
    "dataset",
    "volume_id",
    "image_path",
    "orientation",
    "mask_path",
    "label_path",
    "label_source",
)
INT_COLUMNS = ("slice_index",) + LABEL_COLUMNS + ("has_mask", "fold")
FLOAT_COLUMNS = ("spacing_row", "spacing_col", "spacing_slice")
MANIFEST_COLUMNS = (
    ("subject_id", "dataset", "volume_id", "image_path", "slice_index", "orientation", "mask_path", "label_path")
    + LABEL_COLUMNS
    + ("label_source", "has_mask")
    + FLOAT_COLUMNS
    + ("fold",)
)


def validate_manifest(frame: pd.DataFrame, source: str | Path = "<manifest>") -> pd.DataFrame:
    """Check columns, types and values; return a copy with canonical dtypes.

    Raises DataError naming ``source`` and the problem (missing columns, NaNs, bad labels...).
    """
    missing = [c for c in MANIFEST_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(source, f"missing columns {missing}; a manifest needs {list(MANIFEST_COLUMNS)}")
    if len(frame) == 0:
        raise DataError(source, "manifest has no rows")
    out = frame.loc[:, list(MANIFEST_COLUMNS)].copy()
    for col in STRING_COLUMNS:
        out[col] = out[col].fillna("").astype(str)
    for col in ("subject_id", "image_path", "volume_id"):
        empty = out[col] == ""
        if empty.any():
            raise DataError(source, f"empty {col!r} in rows {list(out.index[empty][:10])}")
    for col in INT_COLUMNS + FLOAT_COLUMNS:
        values = pd.to_numeric(out[col], errors="coerce")
        bad = values.isna()
        if bad.any():
            raise DataError(source, f"column {col!r} has missing or non-numeric values in rows {list(out.index[bad][:10])}")
        out[col] = values.astype(int if col in INT_COLUMNS else float)
    for col in LABEL_COLUMNS + ("has_mask",):
        bad = ~out[col].isin([0, 1])
        if bad.any():
            raise DataError(source, f"column {col!r} must be 0 or 1; bad rows {list(out.index[bad][:10])}")
    bad_orient = ~out["orientation"].isin(["las", "affine", "dicom"])
    if bad_orient.any():
        raise DataError(source, f"orientation must be las, affine or dicom; bad rows {list(out.index[bad_orient][:10])}")
    if (out[list(FLOAT_COLUMNS)] <= 0).any().any():
        raise DataError(source, "spacing columns must be > 0 mm")
    folds_per_subject = out.groupby("subject_id")["fold"].nunique()
    split = folds_per_subject[folds_per_subject > 1]
    if len(split):
        raise DataError(source, f"subjects in more than one fold: {list(split.index[:10])}")
    return out.reset_index(drop=True)


def read_manifest(path: str | Path) -> pd.DataFrame:
    """Read and validate a manifest CSV (empty path fields stay empty strings)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "manifest not found")
    try:
        frame = pd.read_csv(path, dtype={c: str for c in STRING_COLUMNS}, keep_default_na=False)
    except Exception as exc:
        raise DataError(path, f"not a readable CSV ({type(exc).__name__}: {exc})") from None
    return validate_manifest(frame, path)


def check_overwritable(path: str | Path) -> None:
    """Refuse to write a manifest over an existing file that is not a manifest (a dataset's own label
    CSV, a scan...): the error names the file. Replacing an older manifest is fine."""
    path = Path(path)
    if not path.exists():
        return
    if path.is_dir():
        raise DataError(path, "is a folder; give the manifest CSV's file name")
    try:
        header = pd.read_csv(path, nrows=0).columns
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError):
        header = ()
    if not set(MANIFEST_COLUMNS) <= set(header):
        raise DataError(path, "exists and is not a manifest (an input of the dataset?); refusing to overwrite it: "
                              "choose another --out")


def write_manifest(frame: pd.DataFrame, path: str | Path) -> Path:
    """Validate and write atomically (columns in schema order), never over a file that is not a manifest."""
    check_overwritable(path)
    return write_csv_atomic(path, validate_manifest(frame, path))


def _strata(pos_counts: pd.Series, n_folds: int) -> np.ndarray:
    """Bin per-subject positive-slice counts: 0 alone, positives in quantile bins of >= n_folds subjects."""
    strata = np.zeros(len(pos_counts), dtype=int)
    positive = pos_counts.to_numpy() > 0
    n_pos = int(positive.sum())
    n_bins = max(1, min(4, n_pos // max(n_folds, 1)))
    if n_pos:
        ranks = pos_counts[positive].rank(method="first").to_numpy()
        strata[positive] = 1 + np.minimum(((ranks - 1) * n_bins / n_pos).astype(int), n_bins - 1)
    if np.bincount(strata).max() < n_folds:  # too few subjects to stratify at all
        strata[:] = 0
    return strata


def assign_folds(frame: pd.DataFrame, n_folds: int = 5, seed: int = 0) -> pd.DataFrame:
    """Assign subject-wise folds with StratifiedGroupKFold on binned positive-slice counts.

    Returns a copy with ``fold`` in 0..n_folds-1; every slice of a subject gets one fold.
    """
    if n_folds < 2:
        raise ValueError(f"n_folds must be >= 2, got {n_folds}")
    subjects = frame.groupby("subject_id", sort=True)["any"].sum()
    if len(subjects) < n_folds:
        hint = (f"pass --folds {len(subjects)} or fewer (or --folds 0 to leave folds unassigned)" if len(subjects) >= 2
                else "pass --folds 0 to leave folds unassigned")
        raise ValueError(f"{len(subjects)} subjects cannot fill {n_folds} folds: {hint}")
    strata = _strata(subjects, n_folds)
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    fold_of: dict[str, int] = {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class")
        for k, (_, test) in enumerate(splitter.split(np.zeros(len(subjects)), strata, groups=subjects.index)):
            fold_of.update({s: k for s in subjects.index[test]})
    out = frame.copy()
    out["fold"] = out["subject_id"].map(fold_of).astype(int)
    return out


def skipped_report_path(manifest_path: str | Path) -> Path:
    """Where the skipped-items report of a manifest goes: ``<manifest>.skipped.csv``."""
    p = Path(manifest_path)
    return p.with_name(p.name + ".skipped.csv") if p.suffix != ".csv" else p.with_suffix(".skipped.csv")


def build_manifest(
    dataset: str,
    root: str | Path,
    n_folds: int = 5,
    seed: int = 0,
    strict: bool = False,
    **options,
) -> tuple[pd.DataFrame, list[Skipped]]:
    """Scan ``root`` with the reader registered as ``dataset``; return (manifest, skipped items).

    With ``n_folds`` = 0 folds stay unassigned (-1). Raises DataError when no usable slice is left.
    """
    result: ScanResult = get_reader(dataset)(Path(root), strict=strict, **options)
    if not result.rows:
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in result.skipped[:5])
        raise DataError(root, f"no usable slices found by the {dataset!r} reader" + (f" (skipped: {reasons})" if reasons else ""))
    frame = pd.DataFrame(result.rows)
    frame["fold"] = -1
    if n_folds:
        frame = assign_folds(frame, n_folds=n_folds, seed=seed)
    return validate_manifest(frame, f"{dataset} manifest of {root}"), result.skipped


def write_skipped(skipped: Sequence[Skipped], manifest_path: str | Path) -> Path:
    """Write the skipped-items report next to the manifest (always written, possibly empty)."""
    frame = pd.DataFrame([{"path": s.path, "reason": s.reason} for s in skipped], columns=["path", "reason"])
    return write_csv_atomic(skipped_report_path(manifest_path), frame)

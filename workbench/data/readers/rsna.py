"""RSNA 2019 Intracranial Hemorrhage Detection: slice labels for every DICOM slice.

Layout (``root``): ``stage_2_train/ID_<hex>.dcm`` and ``stage_2_train.csv`` with rows
``ID_<hex>_<subtype>,Label`` (six per slice; exact duplicate rows are dropped; ids are split on the
last underscore). Slices are grouped into series by SeriesInstanceUID and ordered along the slice
normal (there is no InstanceNumber). ``subject_id`` and ``volume_id`` are keyed hashes of
PatientID and SeriesInstanceUID (:mod:`workbench.data.pseudonym`); ``image_path`` keeps Kaggle's
file name. Orientation ``dicom``; ``label_source`` ``slice``.

Options: those of :mod:`workbench.data.readers._dicom_common` plus ``images_dir`` (default
``stage_2_train``) and ``labels_csv`` (default ``stage_2_train.csv``), both relative to ``root``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from workbench.data.labels import LABEL_COLUMNS
from workbench.data.readers._dicom_common import dicom_rows, list_dicom_files, order_series, parse_options, scan, skip_all
from workbench.data.readers.base import ScanResult, register_reader
from workbench.utils.errors import DataError

__all__ = ["read_rsna_labels", "read_rsna"]

log = logging.getLogger(__name__)


def read_rsna_labels(path: Path) -> pd.DataFrame:
    """``stage_2_train.csv`` -> DataFrame indexed by image id (``ID_<hex>``), int columns LABEL_COLUMNS.

    Exact duplicate rows are dropped; an (image, subtype) pair with two different labels, an
    unknown subtype or a missing column raises DataError naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "label table not found (expected stage_2_train.csv with columns ID, Label)")
    table = pd.read_csv(path, dtype={"ID": str, "Label": "Int64"})
    if not {"ID", "Label"} <= set(table.columns):
        raise DataError(path, f"columns {list(table.columns)}; expected ID, Label")
    n_rows = len(table)
    table = table.drop_duplicates()
    parts = [str(i).rpartition("_") for i in table["ID"].to_numpy(dtype=object)]  # split on the last underscore
    table = table.assign(image=[p[0] for p in parts], subtype=[p[2] for p in parts])
    unknown = sorted(set(table["subtype"]) - set(LABEL_COLUMNS))
    if unknown or (table["image"] == "").any():
        raise DataError(path, f"unknown subtype(s) {unknown[:5]} in column ID; valid: {', '.join(LABEL_COLUMNS)}")
    clash = table.duplicated(["image", "subtype"], keep=False)
    if clash.any():
        raise DataError(path, f"{int(clash.sum())} rows give different labels to the same image and subtype, "
                              f"e.g. {table.loc[clash, 'ID'].iloc[0]}")  # fmt: skip
    wide = table.pivot(index="image", columns="subtype", values="Label").reindex(columns=list(LABEL_COLUMNS))
    log.info("%s: %d rows, %d duplicates dropped, %d images", path.name, n_rows, n_rows - len(table), len(wide))
    return wide


@register_reader("rsna")
def read_rsna(root: Path, *, strict: bool = False, **options) -> ScanResult:
    """Manifest rows for an RSNA 2019 download (module docstring); bad files are skipped with a reason."""
    root = Path(root)
    opts, own = parse_options(options, {"images_dir": "stage_2_train", "labels_csv": "stage_2_train.csv"})
    labels = read_rsna_labels(root / own["labels_csv"])
    images = root / own["images_dir"]
    if not images.is_dir():
        raise DataError(images, "image folder not found (expected stage_2_train/ID_<hex>.dcm below the root)")
    result = ScanResult()
    frame = scan(root, list_dicom_files(images, root), opts, "rsna", strict, result)
    frame["image"] = frame["file"].map(lambda rel: Path(rel).stem)
    complete = labels.dropna().astype(int)
    known = frame["image"].isin(complete.index)
    skip_all(result, ((rel, f"no complete label rows in {own['labels_csv']}") for rel in frame.loc[~known, "file"]), strict)
    frame = order_series(frame[known], result, strict)
    result.rows = dicom_rows(frame, "rsna", complete.loc[frame["image"]].to_numpy(), "slice")
    return result

"""CQ500: several DICOM series per study, study-level reads by three radiologists (weak labels).

Layout (``root``): ``CQ500CT<N> CQ500CT<N>/Unknown Study/CT <series>/*.dcm`` (spaces in folder
names) and ``reads.csv`` (``name`` = ``CQ500-CT-<N>``, ``Category``, then 14 fields for each of
R1, R2, R3). A study's label is the majority vote (>= 2 of 3) of ICH (``any``), EDH, IPH, IVH, SAH
and SDH, applied to every slice of the selected series with ``label_source="study"``.

Options (besides those of :mod:`workbench.data.readers._dicom_common`):
- ``series``: which series of a study become volumes: ``plain`` (default: non-bone series whose
  description says PLAIN), ``non-bone`` (every non-bone series), ``thinnest`` (the one thinnest
  non-bone series) or ``all``. Bone = a bone / sharp kernel or "bone" in the description.
- ``thickness`` (mm, optional) and ``thickness_tol`` (mm, default 0.5): keep only series whose
  SliceThickness is within the tolerance of it (applied before ``thinnest``).
- ``reads_csv``: the reads table relative to ``root`` (default ``reads.csv``).
A study without a matching series or without a reads row is skipped with the reason.
Subject / volume ids are keyed hashes of PatientID / SeriesInstanceUID; the BitsStored-14,
padding -2000 header style is handled by :mod:`workbench.data.dicom`; tilted series are ordered
along the slice normal.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.data.labels import LABEL_COLUMNS
from workbench.data.readers._dicom_common import dicom_rows, list_dicom_files, order_series, parse_options, scan, skip_all
from workbench.data.readers.base import ScanResult, register_reader
from workbench.utils.errors import DataError, check_choice

__all__ = ["SERIES_MODES", "read_cq500_reads", "select_series", "read_cq500"]

SERIES_MODES = ("plain", "non-bone", "thinnest", "all")
STUDY_DIR = re.compile(r"^CQ500CT(\d+)( CQ500CT\d+)?$")
READ_COLUMN = re.compile(r"^(R[123])[:_.\s-]?(.+)$")
VOTE_FIELDS = {"any": "ICH", "epidural": "EDH", "intraparenchymal": "IPH", "intraventricular": "IVH",
               "subarachnoid": "SAH", "subdural": "SDH"}  # fmt: skip


def read_cq500_reads(path: Path) -> pd.DataFrame:
    """``reads.csv`` -> majority-vote labels, indexed by study number N, int columns LABEL_COLUMNS."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "reads table not found (expected reads.csv with columns name, Category, R1:ICH ...)")
    table = pd.read_csv(path)
    votes: dict[str, pd.Series] = {}
    for label, field in VOTE_FIELDS.items():
        cols = [c for c in table.columns if (m := READ_COLUMN.match(str(c))) and m.group(2).strip() == field]
        if len(cols) != 3:
            raise DataError(path, f"expected 3 reader columns for {field} (R1..R3), found {cols}")
        votes[label] = (table[cols].fillna(0).astype(int).sum(axis=1) >= 2).astype(int)
    if "name" not in table.columns:
        raise DataError(path, f"no column 'name'; columns: {list(table.columns)[:5]}...")
    number = table["name"].astype(str).str.extract(r"CQ500-CT-(\d+)$")[0]
    if number.isna().any():
        bad = table.loc[number.isna(), "name"].iloc[0]
        raise DataError(path, f"study name {bad!r} is not of the form CQ500-CT-<N>")
    out = pd.DataFrame(votes, columns=list(LABEL_COLUMNS))
    out.index = number.astype(int)
    return out


def select_series(summary: pd.DataFrame, mode: str, thickness: float | None, tol: float) -> list[str]:
    """Series ids of one study to keep; summary: one row per series (series, thickness, bone, plain, n)."""
    keep = summary if mode == "all" else summary[summary["bone"] == 0]
    if mode == "plain":
        keep = keep[keep["plain"] == 1]
    if thickness is not None:
        keep = keep[(keep["thickness"] - float(thickness)).abs() <= tol]
    if mode == "thinnest" and len(keep):
        keep = keep.sort_values(["thickness", "n", "folder"], ascending=[True, False, True]).iloc[:1]
    return list(keep["series"])


def _describe(summary: pd.DataFrame) -> str:
    return "; ".join(f"{r.folder!r} ({r.thickness:g} mm{', bone' if r.bone else ''})" for r in summary.itertuples())


@register_reader("cq500")
def read_cq500(root: Path, *, strict: bool = False, **options) -> ScanResult:
    """Manifest rows for a CQ500 download (module docstring); bad files and studies are skipped with a reason."""
    root = Path(root)
    defaults = {"series": "plain", "thickness": None, "thickness_tol": 0.5, "reads_csv": "reads.csv"}
    opts, own = parse_options(options, defaults)
    mode = check_choice("series", own["series"], SERIES_MODES)
    thickness = None if own["thickness"] in (None, "") else float(own["thickness"])
    reads = read_cq500_reads(root / own["reads_csv"])
    studies = sorted((int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := STUDY_DIR.match(p.name)))
    if not studies:
        raise DataError(root, "no study folders named 'CQ500CT<N> CQ500CT<N>' below the root")
    result = ScanResult()
    files = [rel for _, folder in studies for rel in list_dicom_files(folder, root, recursive=True)]
    frame = scan(root, files, opts, "cq500", strict, result)
    parts = frame["file"].str.split("/")
    frame["study_n"] = parts.str[0].str.extract(r"^CQ500CT(\d+)")[0].astype(int)
    frame["folder"] = parts.str[-2]
    frame = order_series(frame, result, strict)
    frame["thickness"] = frame["thickness"].where(frame["thickness"] > 0, frame["spacing_slice"])
    summary = frame.groupby(["study_n", "series"], as_index=False).agg(
        folder=("folder", "first"), thickness=("thickness", "median"), bone=("bone", "max"),
        plain=("plain", "max"), n=("file", "size"),
    )  # fmt: skip
    chosen: list[str] = []
    for n, folder in studies:
        series = summary[summary["study_n"] == n]
        if n not in reads.index:
            skip_all(result, [(folder.name, f"no row for study number {n} in {own['reads_csv']}")], strict)
            continue
        keep = select_series(series, mode, thickness, float(own["thickness_tol"]))
        if not keep:
            wanted = f"series={mode!r}" + (f", thickness={thickness:g}+-{own['thickness_tol']} mm" if thickness else "")
            found = _describe(series) if len(series) else "no readable series"
            skip_all(result, [(folder.name, f"no series matches {wanted}; found: {found}")], strict)
        chosen += keep
    frame = frame[frame["series"].isin(chosen)].reset_index(drop=True)
    labels = reads.loc[frame["study_n"]].to_numpy() if len(frame) else np.zeros((0, len(LABEL_COLUMNS)))
    result.rows = dicom_rows(frame, "cq500", labels, "study")
    return result

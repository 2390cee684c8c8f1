"""What the DICOM readers (RSNA, CQ500) share: options, file listing, series ordering, rows.

Options every DICOM reader takes (``workbench manifest ... --option``):
``workers`` (processes for the header scan, default 1), ``cache_dir`` (resumable checkpoint
folder; none by default), ``chunk_size`` (files per checkpoint chunk, default 2000), ``id_key`` /
``id_key_file`` (the pseudonym key, see :mod:`workbench.data.pseudonym`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from workbench.data.dicom_series import order_slices, slice_step
from workbench.data.ingest import scan_headers
from workbench.data.pseudonym import resolve_id_key
from workbench.data.readers.base import ScanResult, make_row, record_or_raise
from workbench.utils.errors import DataError, choice_error

__all__ = ["DicomOptions", "parse_options", "list_dicom_files", "scan", "order_series", "dicom_rows", "skip_all"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DicomOptions:
    """Options of every DICOM reader (module docstring)."""

    workers: int = 1
    cache_dir: str | None = None
    chunk_size: int = 2000
    id_key: str | None = None
    id_key_file: str | None = None


def parse_options(options: Mapping, extra: Mapping[str, object]) -> tuple[DicomOptions, dict]:
    """Split reader ``options`` into DicomOptions and the reader's own ``extra`` options (with defaults).

    Raises ValueError naming an unknown option and the valid ones.
    """
    common = {f.name for f in fields(DicomOptions)}
    valid = sorted(common | set(extra))
    for name in options:
        if name not in valid:
            raise choice_error("reader option", name, valid)
    own = {k: options.get(k, v) for k, v in extra.items()}
    opts = DicomOptions(**{k: v for k, v in options.items() if k in common})
    return opts, own


def list_dicom_files(folder: Path, root: Path, recursive: bool = False) -> list[str]:
    """Sorted POSIX paths (relative to ``root``) of the ``*.dcm`` files in ``folder`` (streamed with scandir)."""
    out: list[str] = []
    stack = [folder]
    while stack:
        current = stack.pop()
        with os.scandir(current) as entries:
            for entry in entries:
                if entry.is_dir() and recursive:
                    stack.append(Path(entry.path))
                elif entry.name.lower().endswith(".dcm") and entry.is_file():
                    out.append(Path(entry.path).relative_to(root).as_posix())
    out.sort()
    return out


def scan(root: Path, files: list[str], opts: DicomOptions, prefix: str, strict: bool, result: ScanResult) -> pd.DataFrame:
    """Header records of ``files`` (ok ones); bad files go to ``result.skipped`` (or raise when strict)."""
    key = resolve_id_key(opts.id_key, opts.id_key_file)
    cache = Path(opts.cache_dir) if opts.cache_dir else None
    frame = scan_headers(
        root, files, key=key, prefix=prefix, workers=int(opts.workers), cache_dir=cache,
        chunk_size=int(opts.chunk_size), strict=strict, desc=f"{prefix} headers",
    )  # fmt: skip
    for rel, reason in frame.loc[frame["ok"] == 0, ["file", "reason"]].itertuples(index=False):
        record_or_raise(result, DataError(rel, reason), strict)
    ok = frame[frame["ok"] == 1].reset_index(drop=True)
    log.info("%s: %d files scanned, %d readable", prefix, len(frame), len(ok))
    return ok


def order_series(frame: pd.DataFrame, result: ScanResult, strict: bool) -> pd.DataFrame:
    """Add ``slice_index`` (inferior -> superior along the normal) and ``spacing_slice`` per series.

    frame: header records of good files (see :data:`workbench.data.ingest.HEADER_COLUMNS`).
    A one-slice series without SliceThickness has no known slice spacing: skipped (or raised).
    """
    frame = frame.copy()
    frame["slice_index"] = 0
    frame["spacing_slice"] = 0.0
    iop_cols = [f"iop_{i}" for i in range(6)]
    for _, idx in frame.groupby("series", sort=False).indices.items():
        part = frame.iloc[idx]
        order, proj = order_slices(part[["pos_x", "pos_y", "pos_z"]].to_numpy(), part[iop_cols].iloc[0].to_numpy(),
                                   tiebreak=part["file"].to_numpy())  # fmt: skip
        ranks = np.empty(len(idx), dtype=np.int64)
        ranks[order] = np.arange(len(idx))
        frame.iloc[idx, frame.columns.get_loc("slice_index")] = ranks
        step = slice_step(proj, fallback=float(part["thickness"].iloc[0] or 0.0))
        frame.iloc[idx, frame.columns.get_loc("spacing_slice")] = step
    unknown = frame["spacing_slice"] <= 0
    skip_all(result, ((rel, "slice spacing unknown: a one-slice series without SliceThickness")
                      for rel in frame.loc[unknown, "file"]), strict)  # fmt: skip
    frame = frame[~unknown]
    return frame.sort_values(["subject", "series", "slice_index"], kind="stable").reset_index(drop=True)


def dicom_rows(frame: pd.DataFrame, dataset: str, labels: Iterable, label_source: str) -> list[dict]:
    """Manifest rows for ordered header records; ``labels``: one LABEL_COLUMNS sequence per record."""
    cols = ["subject", "series", "file", "slice_index", "spacing_row", "spacing_col", "spacing_slice"]
    rows = []
    for (subject, series, rel, index, srow, scol, sslice), lab in zip(frame[cols].itertuples(index=False), labels):
        rows.append(make_row(
            subject_id=subject, dataset=dataset, volume_id=series, image_path=rel, slice_index=index,
            orientation="dicom", labels=list(lab), spacing=(srow, scol, sslice), label_source=label_source,
        ))  # fmt: skip
    return rows


def skip_all(result: ScanResult, items: Iterable[tuple[str, str]], strict: bool) -> None:
    """Record (path, reason) pairs as skipped, or raise the first one when ``strict``."""
    for path, reason in items:
        record_or_raise(result, DataError(path, reason), strict)


"""Whole-dataset DICOM header scan: streaming, parallel, resumable, identifier-free.

RSNA 2019 has 752,803 files, so the scan
- reads headers only (``stop_before_pixels``; truncation and missing pixel data are found from
  the pixel element's declared length and the file size, see :func:`workbench.data.dicom.check_file`);
- splits the sorted file list into chunks of ``chunk_size`` files handed to a
  ``ProcessPoolExecutor`` with ``workers`` processes (``workers=1``: in this process);
- with ``cache_dir``, commits each finished chunk as ``headers-<i>-<digest>.csv`` atomically, so
  an interrupted scan resumes where it stopped; the digest covers the chunk's file names, the
  id key's fingerprint and the record schema, so a changed input or key is rescanned;
- shows a progress bar in files;
- turns header identifiers into keyed hashes inside the worker: records (and the cache) hold
  only pseudonyms, geometry and flags.

A bad file becomes a record with ``ok=0`` and a ``reason``; the caller skips it (or, ``strict``,
the scan raises DataError for the first one).
"""

from __future__ import annotations

import hashlib
import re
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Sequence

import pandas as pd

from workbench.data.dicom import check_file, first_value
from workbench.data.pseudonym import key_fingerprint, pseudonym
from workbench.utils.errors import DataError
from workbench.utils.io import write_csv_atomic
from workbench.utils.processes import die_with_parent
from workbench.utils.progress import progress

__all__ = ["HEADER_COLUMNS", "is_bone_series", "header_record", "scan_headers"]

SCHEMA_VERSION = "1"
HEADER_COLUMNS = (
    "file", "ok", "reason", "subject", "study", "series",
    "pos_x", "pos_y", "pos_z", "iop_0", "iop_1", "iop_2", "iop_3", "iop_4", "iop_5",
    "spacing_row", "spacing_col", "thickness", "rows", "cols", "bone", "plain",
)  # fmt: skip
BONE_KERNEL = re.compile(r"BONE|SHARP|EDGE|LUNG|^[BHJ][6-9]\d|^FC[5-9]\d|^YD|^YC", re.IGNORECASE)


def is_bone_series(kernel: str, description: str) -> bool:
    """True for a bone / sharp reconstruction (kernel like BONE, H60s, B70f, FC81, or 'bone' in the description)."""
    return bool(BONE_KERNEL.search(kernel.strip())) or "BONE" in description.upper()


def _bad(rel: str, reason: str) -> tuple:
    return (rel, 0, reason) + (None,) * (len(HEADER_COLUMNS) - 3)


def header_record(root: Path, rel: str, key: bytes, prefix: str) -> tuple:
    """One row of :data:`HEADER_COLUMNS` for ``root / rel``; ``ok=0`` with the reason when the file is bad."""
    try:
        ds = check_file(root / rel)
        pos = [float(v) for v in ds.ImagePositionPatient]
        iop = [float(v) for v in ds.ImageOrientationPatient]
        spacing = [float(v) for v in ds.PixelSpacing]
        ids = [str(ds.get(name, "")) for name in ("PatientID", "StudyInstanceUID", "SeriesInstanceUID")]
    except DataError as err:
        return _bad(rel, err.problem)
    except (AttributeError, TypeError, ValueError, IndexError) as err:
        missing = "ImagePositionPatient, ImageOrientationPatient or PixelSpacing"
        return _bad(rel, f"header lacks or garbles {missing} ({type(err).__name__})")
    if not ids[0] or not ids[2]:
        return _bad(rel, "header lacks PatientID or SeriesInstanceUID")
    kernel, description = str(ds.get("ConvolutionKernel", "")), str(ds.get("SeriesDescription", ""))
    return (
        rel, 1, "",
        pseudonym(key, "patient", ids[0], prefix),
        pseudonym(key, "study", ids[1] or ids[2], prefix),
        pseudonym(key, "series", ids[2], prefix),
        *pos, *iop, *spacing,
        first_value(ds.get("SliceThickness"), 0.0),
        int(ds.Rows), int(ds.Columns),
        int(is_bone_series(kernel, description)),
        int("PLAIN" in description.upper()),
    )  # fmt: skip


def _scan_chunk(root: str, files: list[str], key: bytes, prefix: str) -> list[tuple]:
    return [header_record(Path(root), rel, key, prefix) for rel in files]


def _digest(files: Sequence[str], key: bytes, prefix: str) -> str:
    h = hashlib.sha1(f"{SCHEMA_VERSION}|{key_fingerprint(key)}|{prefix}".encode())
    for rel in files:
        h.update(rel.encode() + b"\0")
    return h.hexdigest()[:12]


def _frame(records: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame.from_records(records, columns=list(HEADER_COLUMNS))


def _read_cached(path: Path, files: Sequence[str]) -> pd.DataFrame | None:
    """A committed chunk, or None when it does not hold exactly ``files`` in order (damaged: rescan it)."""
    try:
        frame = pd.read_csv(path, dtype={"file": str, "reason": str, "subject": str, "study": str, "series": str})
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError):
        return None
    if list(frame.columns) != list(HEADER_COLUMNS) or frame["file"].tolist() != list(files):
        return None
    return frame.fillna({"reason": ""})


def scan_headers(
    root: Path,
    files: Sequence[str],
    *,
    key: bytes,
    prefix: str,
    workers: int = 1,
    cache_dir: Path | None = None,
    chunk_size: int = 2000,
    strict: bool = False,
    desc: str = "headers",
) -> pd.DataFrame:
    """Header records of ``files`` (POSIX paths relative to ``root``): a DataFrame of :data:`HEADER_COLUMNS`.

    Rows come back in ``files`` order. ``strict``: raise DataError for the first bad file
    (chunks are checked as they finish).
    """
    if workers < 1 or chunk_size < 1:
        raise ValueError(f"reader options workers and chunk_size must be >= 1, got workers={workers}, "
                         f"chunk_size={chunk_size}")
    chunks = [list(files[i : i + chunk_size]) for i in range(0, len(files), chunk_size)]
    frames: dict[int, pd.DataFrame] = {}
    todo: list[int] = []
    paths: dict[int, Path] = {}
    for i, chunk in enumerate(chunks):
        if cache_dir is not None:
            paths[i] = Path(cache_dir) / f"headers-{i:06d}-{_digest(chunk, key, prefix)}.csv"
            cached = _read_cached(paths[i], chunk) if paths[i].is_file() else None
            if cached is not None:
                frames[i] = cached
                continue
        todo.append(i)
    bar = progress(None, desc=desc, total=len(files), unit="file")
    bar.update(sum(len(chunks[i]) for i in frames))

    def finish(i: int, records: list[tuple]) -> None:
        frame = _frame(records)
        if strict and not frame["ok"].all():
            bad = frame[frame["ok"] == 0].iloc[0]
            raise DataError(root / bad["file"], bad["reason"])
        if cache_dir is not None:
            write_csv_atomic(paths[i], frame)
        frames[i] = frame
        bar.update(len(records))

    try:
        if workers == 1:
            for i in todo:
                finish(i, _scan_chunk(str(root), chunks[i], key, prefix))
        else:
            with ProcessPoolExecutor(max_workers=workers, initializer=die_with_parent) as pool:
                pending = {pool.submit(_scan_chunk, str(root), chunks[i], key, prefix): i for i in todo}
                try:
                    while pending:
                        done, _ = wait(pending, return_when=FIRST_COMPLETED)
                        for fut in done:
                            finish(pending.pop(fut), fut.result())
                except BaseException:
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
    finally:
        bar.close()
    if not frames:
        return _frame([])
    return pd.concat([frames[i] for i in range(len(chunks))], ignore_index=True)

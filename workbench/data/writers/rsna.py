"""Write subjects in the RSNA 2019 layout: ``stage_2_train/ID_<hex>.dcm`` + ``stage_2_train.csv``.

One study / series per subject, slices named by random Kaggle-style ids (directory order says
nothing about z), no InstanceNumber, fake patient identifiers in every header. The quirks of the
real set are planted so the reader is exercised on them:
- WindowCenter / WindowWidth multi-valued zero-padded strings (``["00036", "00036"]``) on every
  other subject;
- one "bad intercept" slice (first subject, middle slice);
- one slice that is not the subject's size (second subject, middle slice, columns cropped to
  3/4: non-square);
- one truncated file, ``ID_6431af929.dcm`` as in the real set (last slice of the last subject);
- the label table lists six rows per slice, shuffled, plus a few exact duplicate rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from workbench.data.labels import LABEL_COLUMNS
from workbench.data.writers._dicom import ct_slice, encode, fake_identity, save_dicom, uid
from workbench.data.label_volumes import slice_labels
from workbench.data.writers.subject import SubjectLike
from workbench.utils.io import write_csv_atomic

__all__ = ["write_rsna", "TRUNCATED_ID"]

TRUNCATED_ID = "ID_6431af929"
N_DUPLICATES = 3


def _hex_id(rng: np.random.Generator, used: set[str]) -> str:
    while True:
        name = "ID_" + "".join(rng.choice(list("0123456789abcdef"), size=9))
        if name not in used and name != TRUNCATED_ID:
            used.add(name)
            return name


def write_rsna(subjects: Iterable[SubjectLike], out_dir: str | Path, *, seed: int = 0) -> Path:
    """Write ``subjects`` as an RSNA 2019 download below ``out_dir``; returns ``out_dir``.

    Each subject: hu (Z, H, W) int16 display HU, labels (Z, H, W) uint8 codes, spacing
    (row_mm, col_mm, slice_mm). Deterministic for a given ``seed``.
    """
    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    subjects = list(subjects)
    used: set[str] = set()
    table: list[tuple[str, int]] = []
    for si, subject in enumerate(subjects):
        identity = fake_identity(rng, "ID_" + "".join(rng.choice(list("0123456789abcdef"), size=9)))
        study, series = uid("rsna", seed, si, "study"), uid("rsna", seed, si, "series")
        row_mm, col_mm, slice_mm = subject.spacing
        n_z = subject.hu.shape[0]
        window = (["00036", "00036"], ["00080", "00080"]) if si % 2 else ("40", "80")
        for z in range(n_z):
            last = si == len(subjects) - 1 and z == n_z - 1
            name = TRUNCATED_ID if last else _hex_id(rng, used)
            hu, lab = subject.hu[z], subject.labels[z]
            if si == min(1, len(subjects) - 1) and z == n_z // 2 and len(subjects) > 1:
                keep = hu.shape[1] - hu.shape[1] // 4
                hu, lab = hu[:, :keep], lab[:, :keep]  # the non-square slice
            style = "rsna_bad_intercept" if si == 0 and z == n_z // 2 else "rsna"
            h, w = hu.shape
            ds = ct_slice(
                encode(hu, style), style=style, identity=identity,
                uids={"StudyInstanceUID": study, "SeriesInstanceUID": series,
                      "SOPInstanceUID": uid("rsna", seed, si, z), "FrameOfReferenceUID": uid(study, "frame")},
                position=(-col_mm * w / 2, -row_mm * h / 2, -40.0 + z * slice_mm),
                pixel_spacing=(row_mm, col_mm), thickness=slice_mm, window=window,
            )  # fmt: skip
            save_dicom(ds, out_dir / "stage_2_train" / f"{name}.dcm", truncate_bytes=97 if last else 0)
            flags = slice_labels(lab)
            table += [(f"{name}_{col}", flag) for col, flag in zip(LABEL_COLUMNS, flags)]
    order = rng.permutation(len(table))
    rows = [table[i] for i in order] + [table[i] for i in order[:N_DUPLICATES]]
    write_csv_atomic(out_dir / "stage_2_train.csv", pd.DataFrame(rows, columns=["ID", "Label"]))
    return out_dir

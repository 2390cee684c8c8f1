"""Write subjects in the CQ500 layout, with several series per study and study-level reads.

``CQ500CT<n> CQ500CT<n>/Unknown Study/CT <series>/CT<k>.dcm`` (folder names with spaces) for the
``n``-th subject, three series per study:
- ``CT PLAIN THIN``: the subject's slices (kernel STANDARD);
- ``CT PLAIN THICK``: pairs of slices averaged (twice the thickness), gantry tilted on odd studies;
- ``CT BONE``: the subject's slices with a BONE kernel (what series selection must leave out).
Headers use the CQ500 style: BitsStored 14, signed, PixelPaddingValue -2000 outside the circular
field of view, intercept -1024; PatientID / PatientName ``CQ500-CT-<n>`` as in the real set, plus
invented identifiers. File numbers are shuffled, so listing order says nothing about z.
``reads.csv``: 44 columns (name, Category, 14 per reader R1..R3); R1 and R2 read the truth from
the label volume, R3 disagrees on a random field, so the majority vote is the truth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from workbench.data.label_volumes import slice_labels
from workbench.data.labels import SUBTYPE_CODES
from workbench.data.writers._dicom import ct_slice, encode, fake_identity, fov_mask, save_dicom, uid
from workbench.data.writers.subject import SubjectLike
from workbench.utils.io import write_csv_atomic

__all__ = ["write_cq500", "READ_FIELDS", "READ_SUBTYPES"]

READ_FIELDS = (
    "ICH", "IPH", "IVH", "SDH", "EDH", "SAH", "BleedLocation-Left", "BleedLocation-Right",
    "ChronicBleed", "Fracture", "CalvarialFracture", "OtherFracture", "MassEffect", "MidlineShift",
)  # fmt: skip
READ_SUBTYPES = {
    "IPH": "intraparenchymal", "IVH": "intraventricular", "SDH": "subdural", "EDH": "epidural", "SAH": "subarachnoid",
}  # fmt: skip
TILT_DEG = 15.0


def _series(subject: SubjectLike, name: str) -> tuple[np.ndarray, float, str, str]:
    """(hu (Z', H, W), thickness mm, kernel, description) of one of the three series."""
    hu, slice_mm = subject.hu, subject.spacing[2]
    if name == "CT PLAIN THICK":
        n = hu.shape[0] // 2 * 2
        thick = hu[:n].reshape(n // 2, 2, *hu.shape[1:]).mean(axis=1).round().astype(np.int16)  # (Z // 2, H, W)
        return thick, 2 * slice_mm, "STANDARD", "PLAIN THICK"
    if name == "CT BONE":
        return hu, slice_mm, "BONE", "BONE"
    return hu, slice_mm, "STANDARD", "PLAIN THIN"


def _reads_row(n: int, flags: list[int], rng: np.random.Generator) -> dict:
    """One reads.csv row: R1, R2 = truth, R3 = truth with one field flipped."""
    truth = dict.fromkeys(READ_FIELDS, 0)
    truth["ICH"] = flags[0]
    for field, subtype in READ_SUBTYPES.items():
        truth[field] = flags[SUBTYPE_CODES[subtype]]  # flags: [any, code 1, ..., code 5]
    row = {"name": f"CQ500-CT-{n}", "Category": "B1" if n % 2 else "CQ500"}
    for reader in ("R1", "R2", "R3"):
        values = dict(truth)
        if reader == "R3":
            flip = READ_FIELDS[rng.integers(0, 6)]
            values[flip] = 1 - values[flip]
        row.update({f"{reader}:{k}": v for k, v in values.items()})
    return row


def write_cq500(subjects: Iterable[SubjectLike], out_dir: str | Path, *, seed: int = 0) -> Path:
    """Write ``subjects`` as a CQ500 download below ``out_dir`` (study ``n`` = ``n``-th subject); returns ``out_dir``.

    Each subject: hu (Z, H, W) int16 display HU, labels (Z, H, W) uint8 codes, spacing
    (row_mm, col_mm, slice_mm). Deterministic for a given ``seed``.
    """
    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    reads = []
    for n, subject in enumerate(subjects):
        identity = fake_identity(rng, f"CQ500-CT-{n}")
        identity["PatientName"] = f"CQ500-CT-{n}"
        study = uid("cq500", seed, n, "study")
        study_dir = out_dir / f"CQ500CT{n} CQ500CT{n}" / "Unknown Study"
        row_mm, col_mm, _ = subject.spacing
        for s, name in enumerate(("CT PLAIN THIN", "CT PLAIN THICK", "CT BONE")):
            hu, thickness, kernel, description = _series(subject, name)
            tilt = np.deg2rad(TILT_DEG if name == "CT PLAIN THICK" and n % 2 else 0.0)
            orientation = (1, 0, 0, 0, np.cos(tilt), np.sin(tilt))
            padding = fov_mask(hu.shape[1:])
            series = uid("cq500", seed, n, name)
            numbers = rng.permutation(hu.shape[0])
            h, w = hu.shape[1:]
            for z in range(hu.shape[0]):
                ds = ct_slice(
                    encode(hu[z], "cq500", padding), style="cq500", identity=identity,
                    uids={"StudyInstanceUID": study, "SeriesInstanceUID": series,
                          "SOPInstanceUID": uid(series, z), "FrameOfReferenceUID": uid(study, "frame")},
                    position=(-col_mm * w / 2, -row_mm * h / 2, -40.0 + z * thickness),
                    orientation=orientation, pixel_spacing=(row_mm, col_mm), thickness=thickness,
                    window=("40", "80"), kernel=kernel, description=description,
                    instance_number=int(numbers[z]) + 1, padding=True,
                )  # fmt: skip
                save_dicom(ds, study_dir / name / f"CT{int(numbers[z]):06d}.dcm")
        reads.append(_reads_row(n, slice_labels(subject.labels), rng))
    write_csv_atomic(out_dir / "reads.csv", pd.DataFrame(reads))
    return out_dir

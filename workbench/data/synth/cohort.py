"""Write a synthetic cohort to disk, one small writer per dataset layout.

Only the PhysioNet CT-ICH v1.3.1 layout exists so far: :data:`LAYOUTS` maps a layout name to a
writer ``(subjects, root) -> Path`` taking the generated subjects, so new layouts are one function.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import nibabel as nib
import numpy as np
import pandas as pd

from workbench.data.labels import PHYSIONET_COLUMNS, SUBTYPE_CODES, SUBTYPES
from workbench.data.orientation import display_to_las, las_affine
from workbench.data.synth.subject import SyntheticSubject, generate_subject
from workbench.utils.io import atomic_path, write_csv_atomic, write_json_atomic
from workbench.utils.progress import progress

__all__ = ["DIAGNOSIS_COLUMNS", "LAYOUTS", "write_nifti", "slice_table", "write_physionet", "write_cohort"]

DIAGNOSIS_COLUMNS: tuple[str, ...] = (
    "PatientNumber", "SliceNumber", "Intraventricular", "Intraparenchymal", "Subarachnoid",
    "Epidural", "Subdural", "No_Hemorrhage", "Fracture_Yes_No",
)


def write_nifti(path: Path, volume_zhw: np.ndarray, spacing: tuple[float, float, float], dtype) -> Path:
    """Write a (Z, H, W) display volume as an uncompressed (X, Y, Z) (L, A, S) NIfTI, atomically."""
    data = display_to_las(np.asarray(volume_zhw).astype(dtype, copy=False))
    image = nib.Nifti1Image(data, las_affine(*spacing))
    image.header.set_data_dtype(dtype)
    image.header.set_xyzt_units("mm")
    with atomic_path(path) as tmp:
        nib.save(image, tmp)
    return path


def slice_table(subject: SyntheticSubject, patient_number: int) -> pd.DataFrame:
    """Diagnosis rows of one subject in z order: a subtype counts with >= 1 voxel on the slice."""
    present = {name: (subject.labels == SUBTYPE_CODES[name]).any(axis=(1, 2)) for name in SUBTYPES}
    z = subject.labels.shape[0]
    frame = pd.DataFrame({"PatientNumber": np.full(z, patient_number), "SliceNumber": np.arange(1, z + 1)})
    for name in ("intraventricular", "intraparenchymal", "subarachnoid", "epidural", "subdural"):
        frame[PHYSIONET_COLUMNS[name]] = present[name].astype(int)
    frame["No_Hemorrhage"] = (~np.any(list(present.values()), axis=0)).astype(int)
    frame["Fracture_Yes_No"] = 0
    return frame[list(DIAGNOSIS_COLUMNS)]


def write_physionet(subjects: Iterable[SyntheticSubject], root: Path) -> Path:
    """PhysioNet CT-ICH layout under ``root / "physionet"``; returns that folder.

    ``ct_scans/NNN.nii`` int16 HU, ``masks/NNN.nii`` uint8 0/255, the diagnosis CSV, and extras
    outside the PhysioNet files: ``labels/NNN.nii`` (subtype codes), ``brain_masks/NNN.nii`` (0/1).
    """
    out = Path(root) / "physionet"
    tables = []
    for subject in subjects:
        name = f"{subject.subject_id}.nii"
        write_nifti(out / "ct_scans" / name, subject.hu, subject.spacing, np.int16)
        write_nifti(out / "masks" / name, (subject.labels > 0).astype(np.uint8) * 255, subject.spacing, np.uint8)
        write_nifti(out / "labels" / name, subject.labels, subject.spacing, np.uint8)
        write_nifti(out / "brain_masks" / name, subject.brain, subject.spacing, np.uint8)
        tables.append(slice_table(subject, int(subject.subject_id)))
    write_csv_atomic(out / "hemorrhage_diagnosis_raw_ct.csv", pd.concat(tables, ignore_index=True))
    return out


LAYOUTS: dict[str, Callable[[Iterable[SyntheticSubject], Path], Path]] = {"physionet": write_physionet}


def write_cohort(
    out_dir: str | Path,
    subjects: int,
    seed: int,
    size: int = 256,
    n_slices: int = 24,
    background: str = "procedural",
    p_ich: float = 0.5,
) -> Path:
    """Generate ``subjects`` subjects and write them in the PhysioNet layout; returns the folder.

    Also writes ``cohort.json`` (generator arguments and per-subject lesions). Same arguments ->
    byte-identical files; subject i depends only on (seed, i).
    """
    if subjects < 1:
        raise ValueError(f"subjects must be >= 1, got {subjects}")
    args = {"subjects": subjects, "seed": seed, "size": size, "n_slices": n_slices, "background": background, "p_ich": p_ich}
    records: list[dict] = []

    def generated() -> Iterable[SyntheticSubject]:
        for i in progress(range(subjects), desc=f"synth {background}", total=subjects):
            subject = generate_subject(i, seed, size=size, n_slices=n_slices, background=background, p_ich=p_ich)
            records.append(subject.metadata())
            yield subject

    out = write_physionet(generated(), Path(out_dir))
    write_json_atomic(out / "cohort.json", {"generator": "workbench.data.synth", "arguments": args, "subjects": records})
    return out


ALL_LAYOUTS = ("physionet", "rsna", "cq500", "bhsd", "instance")


def write_layouts(
    out_dir: str | Path,
    layouts: Iterable[str],
    subjects: int,
    seed: int,
    size: int = 256,
    n_slices: int = 24,
    background: str = "procedural",
    p_ich: float = 0.5,
) -> dict[str, Path]:
    """Write the same synthetic subjects in several dataset layouts: ``{layout: folder}``.

    ``physionet`` goes through :func:`write_cohort` (``OUT/physionet``); the others through the
    writers of :mod:`workbench.data.writers` into ``OUT/<layout>``. Subjects are regenerated per
    layout (subject i depends only on (seed, i)), so memory stays at one subject.
    """
    from workbench.data.writers import LAYOUT_WRITERS

    layouts = list(dict.fromkeys(layouts))
    bad = [name for name in layouts if name not in ALL_LAYOUTS]
    if bad or not layouts:
        raise ValueError(f"unknown layout(s) {bad or layouts}; valid choices: {', '.join(ALL_LAYOUTS)}, all")
    out_dir = Path(out_dir)
    written: dict[str, Path] = {}
    for name in layouts:
        if name == "physionet":
            written[name] = write_cohort(out_dir, subjects, seed, size=size, n_slices=n_slices,
                                         background=background, p_ich=p_ich)
            continue
        generated = (
            generate_subject(i, seed, size=size, n_slices=n_slices, background=background, p_ich=p_ich)
            for i in progress(range(subjects), desc=f"synth {name}", total=subjects)
        )
        written[name] = Path(LAYOUT_WRITERS[name](generated, out_dir / name, seed=seed))
    return written

"""Write subjects in the INSTANCE 2022 layout: ``train/data/<id>.nii.gz`` and ``train/label/<id>.nii.gz``.

Images int16 HU, labels binary uint8 (1 = any hemorrhage; INSTANCE has no subtypes), stored with
axes ``axcodes`` (default LPS, as DICOM-converted volumes often are) and the matching affine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from workbench.data.writers._nifti import write_nifti_pairs
from workbench.data.writers.subject import SubjectLike

__all__ = ["write_instance"]


def write_instance(
    subjects: Iterable[SubjectLike], out_dir: str | Path, *, seed: int = 0, axcodes: Sequence[str] = ("L", "P", "S")
) -> Path:
    """Write ``subjects`` (hu, labels (Z, H, W), spacing) as INSTANCE below ``out_dir``; returns ``out_dir``.

    ``seed`` is accepted for a uniform writer signature (the layout has no random part).
    """
    out_dir = Path(out_dir)
    write_nifti_pairs(subjects, out_dir / "train", "data", "label", axcodes, labels_of=lambda labels: labels > 0)
    return out_dir

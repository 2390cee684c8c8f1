"""Write subjects in the BHSD layout: ``label_192/images/<id>.nii.gz`` and ``label_192/ground truths/<id>.nii.gz``.

Images int16 HU, ground truths uint8 codes 0-5 (1 epidural, 2 intraparenchymal,
3 intraventricular, 4 subarachnoid, 5 subdural: SUBTYPE_CODES), stored with axes ``axcodes``
(default RAS) and the matching affine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from workbench.data.writers._nifti import write_nifti_pairs
from workbench.data.writers.subject import SubjectLike

__all__ = ["write_bhsd"]


def write_bhsd(
    subjects: Iterable[SubjectLike], out_dir: str | Path, *, seed: int = 0, axcodes: Sequence[str] = ("R", "A", "S")
) -> Path:
    """Write ``subjects`` (hu, labels (Z, H, W), spacing) as BHSD below ``out_dir``; returns ``out_dir``.

    ``seed`` is accepted for a uniform writer signature (the layout has no random part).
    """
    out_dir = Path(out_dir)
    write_nifti_pairs(subjects, out_dir / "label_192", "images", "ground truths", axcodes)
    return out_dir

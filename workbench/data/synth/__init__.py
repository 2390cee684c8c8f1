"""Synthetic head CT with intracranial hemorrhage and exact ground truth (the default dataset).

- :func:`generate_subject`: one subject from (seed, index), procedural or real-Cranium background;
- :func:`write_cohort`: a cohort in the PhysioNet CT-ICH layout (+ label and brain-mask volumes);
- :class:`Appearance`: scanner-appearance randomisation of training subjects (never evaluated cohorts).
"""

from workbench.data.synth.appearance import APPEARANCES, Appearance, get_appearance
from workbench.data.synth.cohort import ALL_LAYOUTS, LAYOUTS, write_cohort, write_layouts, write_physionet
from workbench.data.synth.lesions import LESION_STATS, PAINT_ORDER, REALISTIC, Difficulty, LesionInfo
from workbench.data.synth.subject import BACKGROUNDS, SyntheticSubject, generate_subject

__all__ = [
    "APPEARANCES", "Appearance", "get_appearance",
    "BACKGROUNDS", "Difficulty", "LAYOUTS", "REALISTIC", "LESION_STATS", "PAINT_ORDER", "LesionInfo", "SyntheticSubject",
    "generate_subject", "write_cohort", "write_layouts", "write_physionet", "ALL_LAYOUTS",
]

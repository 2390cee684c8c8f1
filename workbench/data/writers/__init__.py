"""Writers of the real datasets' layouts from generated volumes, so every reader runs on files.

``LAYOUT_WRITERS[name](subjects, out_dir, *, seed=0) -> out_dir``; ``subjects`` is any iterable of
objects with ``subject_id``, ``hu`` (Z, H, W) int16, ``labels`` (Z, H, W) uint8 codes and
``spacing`` (row_mm, col_mm, slice_mm) (see :mod:`workbench.data.writers.subject`). The PhysioNet
layout is written by the synthetic generator itself.
"""

from __future__ import annotations

from workbench.data.writers.bhsd import write_bhsd
from workbench.data.writers.cq500 import write_cq500
from workbench.data.writers.instance import write_instance
from workbench.data.writers.rsna import write_rsna
from workbench.data.writers.subject import LayoutSubject, toy_subjects

__all__ = ["LAYOUT_WRITERS", "write_rsna", "write_cq500", "write_bhsd", "write_instance", "LayoutSubject", "toy_subjects"]

LAYOUT_WRITERS = {
    "rsna": write_rsna,
    "cq500": write_cq500,
    "bhsd": write_bhsd,
    "instance": write_instance,
}

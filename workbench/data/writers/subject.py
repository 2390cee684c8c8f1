"""What a layout writer takes: a subject with an HU volume, a subtype label volume and spacings.

Any object with these four attributes works (the synthetic generator's subjects do);
:class:`LayoutSubject` is a plain one, and :func:`toy_subjects` makes tiny phantoms for tests and
benchmarks (an ellipse head with a skull, one blob lesion per positive subject).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = ["SubjectLike", "LayoutSubject", "toy_subjects"]


class SubjectLike(Protocol):
    subject_id: str
    hu: np.ndarray  # (Z, H, W) int16 HU, display orientation (z inferior -> superior)
    labels: np.ndarray  # (Z, H, W) uint8 subtype codes, 0 background, 1-5 SUBTYPE_CODES
    spacing: tuple[float, float, float]  # (row_mm, col_mm, slice_mm)


@dataclass(frozen=True)
class LayoutSubject:
    """A subject for the layout writers; shapes as in :class:`SubjectLike`."""

    subject_id: str
    hu: np.ndarray
    labels: np.ndarray
    spacing: tuple[float, float, float]


def toy_subjects(
    n: int, shape: tuple[int, int, int] = (6, 32, 32), spacing: tuple[float, float, float] = (0.5, 0.5, 5.0), seed: int = 0
) -> list[LayoutSubject]:
    """``n`` phantoms of ``shape`` (Z, H, W): air -1000, skull 1000, brain ~35 HU, lesion ~65 HU.

    Subject ``i`` has a lesion of subtype code ``i % 5 + 1`` on the middle slices unless
    ``i % 3 == 2`` (no hemorrhage); subject 0 also has a subdural (5) blob, so one slice holds two
    subtypes. Seeded and deterministic.
    """
    rng = np.random.default_rng(seed)
    z, h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    r = ((yy - h / 2 + 0.5) / (0.45 * h)) ** 2 + ((xx - w / 2 + 0.5) / (0.4 * w)) ** 2
    out = []
    for i in range(n):
        hu = np.full(shape, -1000, dtype=np.int16)
        labels = np.zeros(shape, dtype=np.uint8)
        hu[:, r <= 1.0] = 1000
        brain = r <= 0.75
        hu[:, brain] = (35 + rng.normal(0, 4, size=(z, int(brain.sum())))).astype(np.int16)
        if i % 3 != 2:
            cy, cx = h // 2 + rng.integers(-h // 8, h // 8 + 1), w // 2 + rng.integers(-w // 8, w // 8 + 1)
            blob = (yy - cy) ** 2 + (xx - cx) ** 2 <= (min(h, w) / 10) ** 2
            for k in range(z // 3, max(z // 3 + 1, 2 * z // 3)):
                labels[k][blob & brain] = i % 5 + 1
                hu[k][blob & brain] = 65
            if i == 0:
                rim = (r > 0.6) & (r <= 0.75) & (xx < w // 3)
                labels[z // 2][rim] = 5
                hu[z // 2][rim] = 60
        out.append(LayoutSubject(f"toy-{i:03d}", hu, labels, tuple(float(s) for s in spacing)))
    return out

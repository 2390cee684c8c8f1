"""The anatomy a lesion is placed in: masks and coordinates shared by both backgrounds.

Shapes: every mask and coordinate array is (Z, H, W) (or broadcastable to it); ``y_mm`` is (1, H, 1)
image rows in mm (posterior positive: the dependent direction of a supine patient).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Anatomy"]


@dataclass(frozen=True)
class Anatomy:
    """Masks and head-frame coordinates of one head.

    - ``intracranial``: everything inside the skull's inner table (the true brain mask);
    - ``parenchyma``: grey/white matter and deep nuclei (where IPH may sit);
    - ``ventricles``: lateral ventricles (where IVH settles);
    - ``csf_space``: sulcal, fissural and cisternal CSF (where SAH spreads), no ventricles;
    - ``depth_mm``: distance inwards from the inner table (<= 0 outside the cranial cavity);
    - ``u_mm`` / ``v_mm``: head-frame coordinates (u towards the patient's left, v posterior,
      origin near the head centre, midline at u = 0); ``z_mm``: (Z, 1, 1) slice heights;
    - ``level``: (Z,) normalised height, 0 skull base -> 1 vertex.
    """

    spacing: tuple[float, float, float]
    intracranial: np.ndarray
    parenchyma: np.ndarray
    ventricles: np.ndarray
    csf_space: np.ndarray
    depth_mm: np.ndarray
    u_mm: np.ndarray
    v_mm: np.ndarray
    z_mm: np.ndarray
    y_mm: np.ndarray
    level: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.intracranial.shape)  # type: ignore[return-value]

    @property
    def voxel_ml(self) -> float:
        r, c, s = self.spacing
        return r * c * s / 1000.0

    @property
    def theta(self) -> np.ndarray:
        """Head-frame angle, (Z, H, W): 0 towards the patient's left, pi/2 posterior."""
        return np.arctan2(self.v_mm, self.u_mm)

"""Random fields and grids shared by the phantom, the lesions and the cranium background.

Dimension letters: Z slices (inferior -> superior), H rows (anterior -> posterior), W columns
(patient right -> left). Every function takes an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

__all__ = ["smooth_field", "correlated_noise", "image_grid", "wrap_angle"]


def smooth_field(
    rng: np.random.Generator,
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float],
    corr_mm: float,
    corr_z_mm: float | None = None,
) -> np.ndarray:
    """Band-limited Gaussian random field, unit standard deviation, (Z, H, W) float32.

    White noise on a coarse grid (one node per ``corr_mm``) upsampled trilinearly, so the cost
    does not grow with the correlation length. ``spacing`` is (row_mm, col_mm, slice_mm).
    """
    z, h, w = shape
    corr_z_mm = corr_mm if corr_z_mm is None else corr_z_mm
    coarse = (
        max(2, int(np.ceil(z * spacing[2] / corr_z_mm)) + 1),
        max(2, int(np.ceil(h * spacing[0] / corr_mm)) + 1),
        max(2, int(np.ceil(w * spacing[1] / corr_mm)) + 1),
    )
    nodes = torch.from_numpy(rng.standard_normal(coarse, dtype=np.float32))[None, None]
    up = F.interpolate(nodes, size=(z, h, w), mode="trilinear", align_corners=True)[0, 0].numpy()
    return up / max(float(up.std()), 1e-6)


def correlated_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma_hu: float, corr_px: float = 0.6) -> np.ndarray:
    """Scanner-like noise: white noise smoothed in-plane by ``corr_px``, rescaled to ``sigma_hu``."""
    white = rng.standard_normal(shape, dtype=np.float32)
    smooth = ndimage.gaussian_filter(white, sigma=(0, corr_px, corr_px), truncate=3.0)
    # the Gaussian kernel's gain on white noise is 1 / (2 sqrt(pi) sigma) per axis
    gain = 1.0 / (2.0 * np.sqrt(np.pi) * corr_px)
    return smooth * np.float32(sigma_hu / gain)


def image_grid(size: int, pixel_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Column and row coordinates in mm from the image centre: x (W,) towards the patient's left,
    y (H,) towards posterior, both float32."""
    c = (np.arange(size, dtype=np.float32) - (size - 1) / 2.0) * np.float32(pixel_mm)
    return c, c.copy()


def wrap_angle(a: np.ndarray) -> np.ndarray:
    """Angles wrapped to (-pi, pi]."""
    return (a + np.pi) % (2 * np.pi) - np.pi

"""Real-CT background: the Cranium head CT of invesalius-examples, resampled and varied per subject.

The 1.5 mm scan is averaged into 5 mm slabs (as a 5 mm reconstruction would be), resized to the
requested size with a small random rotation and an optional left-right flip, offset in intensity,
and its anatomy (intracranial, CSF, ventricle, parenchyma masks) is derived from HU, so lesions
follow the same placement rules as on the procedural phantom.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from workbench.data.brainmask import BrainMaskConfig, brain_mask
from workbench.data.cranium import CRANIUM_PATH, INSTALL_HINT, cranium_available, load_cranium
from workbench.data.synth.anatomy import Anatomy
from workbench.data.synth.fields import image_grid

__all__ = ["cranium_background", "CAVITY"]

SLICE_MM = 5.0
_BASE_SLICE, _VERTEX_SLICE = 8, 100  # Cranium slices (1.5 mm) of the skull base and the vertex


@functools.lru_cache(maxsize=1)
def _cranium() -> tuple[np.ndarray, tuple[float, float, float]]:
    if not cranium_available():
        raise FileNotFoundError(f"background 'cranium' needs {CRANIUM_PATH}; {INSTALL_HINT}")
    return load_cranium()


def _slab_average(hu: np.ndarray, start_mm: float, n: int, slice_mm: float) -> np.ndarray:
    """(n, H, W) float32 means of the thin slices whose centres fall in each 5 mm slab."""
    centres = np.arange(hu.shape[0]) * slice_mm
    out = np.full((n,) + hu.shape[1:], -1000.0, dtype=np.float32)
    for k in range(n):
        sel = np.flatnonzero((centres >= start_mm + k * SLICE_MM) & (centres < start_mm + (k + 1) * SLICE_MM))
        if sel.size:
            out[k] = hu[sel].mean(axis=0, dtype=np.float32)
    return out


CAVITY = BrainMaskConfig(erode_mm=0.0)
"""The cranial cavity of the Cranium background: the datasets' brain mask (:mod:`workbench.data.brainmask`)
without its 1 mm erosion (the cavity is where lesions may go, rim included)."""


def cranium_background(rng: np.random.Generator, size: int, n_slices: int) -> tuple[np.ndarray, Anatomy, dict]:
    """Clean image (Z, H, W) float32 HU, its :class:`Anatomy` and the variation parameters."""
    hu, (row_mm, col_mm, thin_mm) = _cranium()
    span = _VERTEX_SLICE - _BASE_SLICE
    need = n_slices * SLICE_MM / thin_mm
    if need >= span:
        first = _BASE_SLICE + (span - need) / 2.0
    else:  # short stacks are centred on the ventricles
        first = (_BASE_SLICE + _VERTEX_SLICE) / 2.0 - need / 2.0 + rng.uniform(-4.0, 4.0)
    first = float(first + rng.uniform(-2.0, 2.0))
    slabs = _slab_average(hu, first * thin_mm, n_slices, thin_mm)

    angle, flip = float(rng.uniform(-6.0, 6.0)), bool(rng.random() < 0.5)
    zoom = float(rng.uniform(0.95, 1.05))
    a = np.deg2rad(angle)
    theta = torch.tensor([[np.cos(a) / zoom * (-1 if flip else 1), -np.sin(a) / zoom, 0.0],
                          [np.sin(a) / zoom * (-1 if flip else 1), np.cos(a) / zoom, 0.0]], dtype=torch.float32)
    src = torch.from_numpy(slabs + 1000.0)[:, None]  # air -> 0 so the padding is air
    grid = F.affine_grid(theta.expand(n_slices, 2, 3), [n_slices, 1, size, size], align_corners=False)
    img = F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False)[:, 0].numpy() - 1000.0
    offset = float(rng.uniform(-3.0, 3.0))
    img = (img + offset).astype(np.float32)

    px = row_mm * hu.shape[1] / size / zoom
    spacing = (px, col_mm * hu.shape[2] / size / zoom, SLICE_MM)
    cavity = brain_mask(img, px, CAVITY)
    depth = np.stack([ndimage.distance_transform_edt(c, sampling=px) for c in cavity]).astype(np.float32)
    smooth = ndimage.gaussian_filter(img, sigma=(0, 0.7, 0.7))
    zz, yy, xx = np.nonzero(cavity)
    xs, ys = image_grid(size, px)
    cx, cy = (xs[xx].mean(), ys[yy].mean()) if zz.size else (0.0, 0.0)
    u = np.broadcast_to(xs[None, None, :] - cx, img.shape)
    v = np.broadcast_to(ys[None, :, None] - cy, img.shape)
    csf = cavity & (smooth < 17.0) & (depth > 0.8)
    lab, n = ndimage.label(cavity & (smooth < 11.0) & (depth > 12.0) & (np.abs(u) < 30) & (np.abs(v) < 45))
    ventricles = np.zeros_like(cavity)
    if n:
        sizes = ndimage.sum_labels(np.ones_like(lab), lab, index=np.arange(1, n + 1)) * px * px * SLICE_MM / 1000.0
        ventricles = np.isin(lab, 1 + np.flatnonzero(sizes > 0.4))
    level = np.clip((first + (np.arange(n_slices) + 0.5) * SLICE_MM / thin_mm - _BASE_SLICE) / span, 0, 1)
    anatomy = Anatomy(
        spacing=spacing, intracranial=cavity, parenchyma=cavity & (smooth >= 17.0) & (smooth < 60.0),
        ventricles=ventricles, csf_space=csf & ~ventricles, depth_mm=depth, u_mm=u, v_mm=v,
        z_mm=(np.arange(n_slices, dtype=np.float32) * SLICE_MM)[:, None, None], y_mm=ys[None, :, None],
        level=level.astype(np.float32),
    )
    params = {"first_slice": round(first, 3), "rotation_deg": round(angle, 3), "flip_lr": flip, "zoom": round(zoom, 4), "hu_offset": round(offset, 3)}
    return img, anatomy, params

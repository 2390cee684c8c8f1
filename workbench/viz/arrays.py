"""Array helpers shared by the figure builders: everything plotted goes through :func:`as_array`.

plotly.js draws a boolean heatmap as nothing, and torch tensors are not JSON-able, so every mask
or map is turned into a float numpy array (booleans cast to 0 / 1) and rounded before plotting.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["as_array", "as_image", "rounded"]


def as_array(x: Any, ndim: int | None = None, name: str = "array") -> np.ndarray:
    """``x`` (numpy, torch tensor, nested lists; bool or numeric) as a float64 numpy array.

    Booleans become 0.0 / 1.0. ``ndim``: required number of dimensions (ValueError naming
    ``name`` and the shape otherwise).
    """
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.dtype == bool:
        arr = arr.astype(np.float64)
    arr = arr.astype(np.float64, copy=False)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {arr.shape}")
    return arr


def as_image(x: Any, name: str = "image") -> np.ndarray:
    """A 2-D map (H, W); a leading axis of size 1 ((1, H, W)) is dropped."""
    arr = as_array(x, name=name)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be (H, W), got shape {arr.shape}")
    return arr


def rounded(arr: np.ndarray, decimals: int = 3) -> np.ndarray:
    """Round for plotting (smaller figure JSON); NaN stays NaN. For data in [0, 1] (images, normalised
    maps); raw maps of any magnitude go through :func:`quantized`."""
    return np.round(arr, decimals)


def quantized(arr: np.ndarray, levels: int = 4096) -> np.ndarray:
    """Round to ``levels`` steps of the array's own range (smaller figure JSON), whatever its magnitude:
    a raw stage map living in [2.3e-4, 2.5e-4] keeps its structure (fixed decimals would flatten it to
    a few values). NaN stays NaN; a constant array is returned as it is."""
    arr = np.asarray(arr, dtype=np.float64)
    finite = arr[np.isfinite(arr)]
    if finite.size == 0:
        return arr
    lo, hi = float(finite.min()), float(finite.max())
    if hi <= lo:
        return arr
    step = (hi - lo) / levels
    return lo + np.round((arr - lo) / step) * step

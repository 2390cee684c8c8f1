"""Array helpers shared by the figure builders: everything plotted goes through :func:`as_array`.

plotly.js draws a boolean heatmap as nothing, and torch tensors are not JSON-able, so every mask
or map is turned into a float numpy array (booleans cast to 0 / 1). Slice-sized images and maps
are then drawn as 8-bit levels (:func:`levels`) in PNG images (:func:`png_uri`): a 256 px CT slice
is ~25 kB of base64 PNG and a map overlay a few kB, against 700 kB as a float64 heatmap array, which
is what keeps a report page of 256 px galleries small; 255 levels are what a screen shows of a grey
or colour ramp anyway.
"""

from __future__ import annotations

import base64
import hashlib
import io
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

__all__ = ["as_array", "as_image", "quantized", "levels", "png_uri", "LEVELS"]

LEVELS = 255
"""Top level of :func:`levels`: a value ``v`` of the range [lo, hi] is drawn as level 1 + round(254 (v - lo) / (hi - lo))
when level 0 is kept for "nothing here" (``clear``), else as round(255 (v - lo) / (hi - lo))."""


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


def quantized(arr: np.ndarray, levels: int = 4096) -> np.ndarray:
    """Round to ``levels`` steps of the array's own range (token grids: hover keeps the value), whatever its magnitude:
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


def levels(arr: np.ndarray, lo: float = 0.0, hi: float = 1.0, clear: bool = False) -> np.ndarray:
    """``arr`` on [lo, hi] as uint8 levels for plotting (values outside are clipped).

    clear: level 0 marks pixels to leave transparent (NaN, and exact ``lo`` where the caller cleared
    zeros beforehand as NaN); the data then use levels 1-255. Without ``clear``: 0-255, NaN -> 0.
    """
    arr = np.asarray(arr, dtype=np.float64)
    span = hi - lo if hi > lo else 1.0
    unit = np.clip((arr - lo) / span, 0.0, 1.0)
    if clear:
        out = 1 + np.rint(unit * (LEVELS - 1))
        return np.where(np.isfinite(arr), out, 0).astype(np.uint8)
    return np.where(np.isfinite(arr), np.rint(unit * LEVELS), 0).astype(np.uint8)


PNG_CACHE_SIZE = 512  # encoded images kept by :func:`png_uri` (a 256 px slice: ~25 kB each)
PNG_CACHE_BYTES = 64 * 2**20  # and at most this much text (512 px maps are ~4x larger)
_png_cache: OrderedDict[tuple, str] = OrderedDict()
_png_lock = threading.Lock()


def png_uri(pixels: np.ndarray) -> str:
    """uint8 pixels (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA as a ``data:image/png;base64`` URI.

    Encodings are remembered by content (shape and a BLAKE2 digest of the pixels; the last
    :data:`PNG_CACHE_SIZE` within :data:`PNG_CACHE_BYTES`; thread-safe): the explorer redraws the
    same CT slice and maps on every threshold or slice step, and an optimised PNG costs ~10 ms to
    encode against ~0.1 ms to hash.
    """
    from PIL import Image

    arr = np.ascontiguousarray(pixels)
    if arr.dtype != np.uint8 or arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ValueError(f"png_uri needs uint8 (H, W), (H, W, 3) or (H, W, 4), got {arr.dtype} {arr.shape}")
    key = (arr.shape, hashlib.blake2b(arr.data, digest_size=16).digest())
    with _png_lock:
        if key in _png_cache:
            _png_cache.move_to_end(key)
            return _png_cache[key]
    buffer = io.BytesIO()
    Image.fromarray(arr).save(buffer, "PNG", optimize=True)
    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    with _png_lock:
        _png_cache[key] = uri
        held = sum(len(v) for v in _png_cache.values())
        while len(_png_cache) > 1 and (len(_png_cache) > PNG_CACHE_SIZE or held > PNG_CACHE_BYTES):
            held -= len(_png_cache.popitem(last=False)[1])
    return uri

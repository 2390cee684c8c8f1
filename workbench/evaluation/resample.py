"""The inverse of the model input geometry (:func:`workbench.data.dataset.crop_geometry`, used by
:func:`~workbench.data.dataset.resize_crop`) for maps going back to the source slice grid.

A source slice (H, W) is resized so its shorter side is ``round(factor * S)`` (at least S), giving
(nh, nw), then centre-cropped to (S, S) at (top, left). A model pixel therefore covers
``spacing_row * H / nh`` by ``spacing_col * W / nw`` mm. The inverse pads the (S, S) map back into
(nh, nw) (zeros outside the crop: the model never saw that border) and resizes it to (H, W).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from workbench.data.dataset import RESIZE_FACTOR, CropGeometry, crop_geometry
from workbench.data.slices import load_row

__all__ = ["uncrop", "source_shapes", "model_spacing"]


def uncrop(maps: torch.Tensor, geo: CropGeometry, mode: str = "bilinear") -> torch.Tensor:
    """Model-space maps (B, S, S) -> source-space (B, h, w): zero-pad the crop back into the resized
    frame, then resize to the source size (``bilinear`` for maps, ``nearest`` for masks)."""
    if maps.ndim != 3 or tuple(maps.shape[-2:]) != (geo.size, geo.size):
        raise ValueError(f"maps of shape {tuple(maps.shape)} do not fit the crop; give (B, {geo.size}, {geo.size})")
    frame = maps.new_zeros((maps.shape[0], geo.nh, geo.nw), dtype=torch.float32)
    frame[:, geo.top:geo.top + geo.size, geo.left:geo.left + geo.size] = maps.float()
    kwargs = {"align_corners": False} if mode == "bilinear" else {}
    return F.interpolate(frame[:, None], size=(geo.h, geo.w), mode=mode, **kwargs)[:, 0]


def source_shapes(frame: pd.DataFrame, root: str | Path) -> dict[str, tuple[int, int]]:
    """Display (H, W) of each volume of a manifest, from one slice per volume: {volume_id: (H, W)}."""
    first = frame.drop_duplicates("volume_id")
    return {str(row["volume_id"]): tuple(load_row(row, root)[0].shape) for _, row in first.iterrows()}


def model_spacing(frame: pd.DataFrame, shapes: dict[str, tuple[int, int]], size: int,
                  resize_factor: float = RESIZE_FACTOR) -> torch.Tensor:
    """Voxel size of a model pixel per row: (M, 3) float64 (row_mm, col_mm, slice_mm)."""
    out = np.empty((len(frame), 3), dtype=np.float64)
    for i, (vol, sr, sc, ss) in enumerate(frame[["volume_id", "spacing_row", "spacing_col", "spacing_slice"]]
                                          .itertuples(index=False)):
        geo = crop_geometry(*shapes[str(vol)], size, resize_factor)
        out[i] = (sr * geo.h / geo.nh, sc * geo.w / geo.nw, ss)
    return torch.from_numpy(out)

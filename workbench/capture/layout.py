"""Bring a layer output to channels-last (B, H, W, C), without guessing silently.

timm's Swin works channels-last: stage and block outputs and ``norm1`` are (B, H, W, C), ``norm2``
and the MLP see (B, H*W, C), the patch-embedding convolution is (B, C, H, W). Treating (B, H, W, C)
as channels-first gives a map of the wrong axes and no error (pytorch-grad-cam's Swin recipe), so the layout is decided
against the token grids the model actually ran at, and an ambiguous shape is an error.
"""

from __future__ import annotations

from typing import Iterable

import torch
from workbench.utils.errors import check_choice

__all__ = ["LAYOUTS", "to_channels_last"]

LAYOUTS = ("auto", "BHWC", "BCHW", "BLC")


def to_channels_last(t: torch.Tensor, grids: Iterable[tuple[int, int]], layout: str = "auto") -> torch.Tensor:
    """t: (B, H, W, C), (B, C, H, W) or (B, H*W, C) -> (B, H, W, C).

    grids: the (H, W) token grids the model ran at (patch grid and stage grids). ``layout="auto"``
    accepts a shape only when exactly one reading matches a grid.
    """
    check_choice("layout", layout, LAYOUTS)
    grids = {tuple(g) for g in grids}
    shape = tuple(t.shape)
    if layout == "auto":
        readings = []
        if t.ndim == 4 and shape[1:3] in grids:
            readings.append("BHWC")
        if t.ndim == 4 and shape[2:4] in grids:
            readings.append("BCHW")
        if t.ndim == 3 and any(h * w == shape[1] for h, w in grids):
            readings.append("BLC")
        if len(readings) != 1:
            what = "ambiguous" if readings else "not a token grid"
            raise ValueError(
                f"layer output of shape {shape} is {what} for grids {sorted(grids)} "
                f"(readings: {readings or 'none'}); pass layout= one of BHWC, BCHW, BLC"
            )
        layout = readings[0]
    if layout == "BHWC" and t.ndim == 4:
        return t
    if layout == "BCHW" and t.ndim == 4:
        return t.permute(0, 2, 3, 1)
    if layout == "BLC" and t.ndim == 3:
        matches = [g for g in grids if g[0] * g[1] == shape[1]]
        if len(matches) != 1:
            raise ValueError(f"cannot tell the grid of {shape[1]} tokens among grids {sorted(grids)}")
        return t.reshape(shape[0], *matches[0], shape[2])
    raise ValueError(f"layout {layout!r} does not fit a tensor of shape {shape}")

"""Window geometry of timm Swin blocks: window partition / reverse, cyclic shift, padding, merging.

timm's ``SwinTransformerBlock._attn`` (timm 1.0.31) does, for a stage grid (H, W):

1. roll the (B, H, W, C) tokens by ``-shift`` (only when the block's shift is non-zero),
2. zero-pad bottom / right up to (Hp, Wp), multiples of the block's window (the padded tokens are
   *not* masked: real queries do attend to them, and they are cropped after attention),
3. partition into windows, batch outer: (B * nW, N) with nW = (Hp / wh) * (Wp / ww), N = wh * ww,

and undoes steps 3, 2, 1 in reverse order. Window and shift are read from the block itself
(``block.window_size``, ``block.shift_size``): timm clamps the window to the grid and sets the shift
to 0 when the grid is no larger than the window (timm's SwinTransformerBlock). :func:`grid_to_windows` and
:func:`windows_to_grid` replay exactly those steps for any trailing shape, so a per-key quantity
computed inside windows lands on the token of the stage grid it belongs to.

``PatchMerging`` pads odd grids by one token (bottom / right), then merges each 2x2 block of
children ``(2i + a, 2j + b)`` into parent ``(i, j)`` (its ``reshape(B, H/2, 2, W/2, 2, C)``);
:func:`split_to_children` is the matching row-vector transition (1/4 to each child, padding dropped).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = [
    "BlockGeometry",
    "block_geometry",
    "grid_to_windows",
    "windows_to_grid",
    "valid_tokens",
    "merged_grid",
    "split_to_children",
]


@dataclass(frozen=True)
class BlockGeometry:
    """Geometry of one Swin block at run time.

    grid: (H, W) tokens of the stage; window: (wh, ww); shift: (sh, sw), (0, 0) for plain windows.
    """

    grid: tuple[int, int]
    window: tuple[int, int]
    shift: tuple[int, int]

    @property
    def padded(self) -> tuple[int, int]:
        """(Hp, Wp): the grid rounded up to whole windows."""
        return tuple(-(-g // w) * w for g, w in zip(self.grid, self.window))  # type: ignore[return-value]

    @property
    def windows_per_side(self) -> tuple[int, int]:
        """(nWh, nWw) windows along each axis."""
        return tuple(p // w for p, w in zip(self.padded, self.window))  # type: ignore[return-value]

    @property
    def num_windows(self) -> int:
        """nW, windows per image."""
        nh, nw = self.windows_per_side
        return nh * nw

    @property
    def window_area(self) -> int:
        """N, tokens per window."""
        return self.window[0] * self.window[1]

    @property
    def is_shifted(self) -> bool:
        return any(self.shift)


def block_geometry(block: nn.Module, grid: tuple[int, int]) -> BlockGeometry:
    """Read window and shift from a timm ``SwinTransformerBlock``; ``grid`` is its input (H, W)."""
    window = tuple(int(w) for w in block.window_size)
    shift = tuple(int(s) for s in block.shift_size)
    return BlockGeometry(grid=(int(grid[0]), int(grid[1])), window=window, shift=shift)  # type: ignore[arg-type]


def grid_to_windows(x: torch.Tensor, geom: BlockGeometry) -> torch.Tensor:
    """Stage grid to windows, as the block does: roll by -shift, zero-pad, partition.

    x: (B, H, W, *rest) -> (B * nW, N, *rest), batch outer, windows row-major, tokens row-major.
    """
    B, H, W = x.shape[:3]
    if (H, W) != geom.grid:
        raise ValueError(f"grid of x is {(H, W)}, the block's grid is {geom.grid}")
    rest = x.shape[3:]
    if geom.is_shifted:
        x = torch.roll(x, shifts=(-geom.shift[0], -geom.shift[1]), dims=(1, 2))
    Hp, Wp = geom.padded
    if (Hp, Wp) != (H, W):
        padded = x.new_zeros((B, Hp, Wp, *rest))
        padded[:, :H, :W] = x
        x = padded
    (wh, ww), (nh, nw) = geom.window, geom.windows_per_side
    x = x.reshape(B, nh, wh, nw, ww, *rest)
    x = x.permute(0, 1, 3, 2, 4, *range(5, 5 + len(rest)))  # B, nWh, nWw, wh, ww, *rest
    return x.reshape(B * nh * nw, wh * ww, *rest)


def windows_to_grid(x: torch.Tensor, geom: BlockGeometry) -> torch.Tensor:
    """Windows back to the stage grid: window reverse, crop padding, roll by +shift.

    x: (B * nW, N, *rest) -> (B, H, W, *rest). Values at padded tokens are dropped.
    """
    if x.shape[1] != geom.window_area or x.shape[0] % geom.num_windows:
        raise ValueError(
            f"windows of shape {tuple(x.shape[:2])} do not fit {geom.num_windows} windows of "
            f"{geom.window_area} tokens"
        )
    rest = x.shape[2:]
    (wh, ww), (nh, nw) = geom.window, geom.windows_per_side
    x = x.reshape(-1, nh, nw, wh, ww, *rest)
    x = x.permute(0, 1, 3, 2, 4, *range(5, 5 + len(rest)))  # B, nWh, wh, nWw, ww, *rest
    x = x.reshape(x.shape[0], nh * wh, nw * ww, *rest)[:, : geom.grid[0], : geom.grid[1]]
    if geom.is_shifted:
        x = torch.roll(x, shifts=geom.shift, dims=(1, 2))
    return x


def valid_tokens(geom: BlockGeometry, device: torch.device | None = None) -> torch.Tensor:
    """(nW, N) bool: True where a window position holds a real token, False for padding."""
    ones = torch.ones((1, *geom.grid), dtype=torch.bool, device=device)
    return grid_to_windows(ones, geom)


def merged_grid(grid: tuple[int, int]) -> tuple[int, int]:
    """Grid after timm's PatchMerging: ceil(H / 2), ceil(W / 2)."""
    return ((grid[0] + 1) // 2, (grid[1] + 1) // 2)


def split_to_children(v: torch.Tensor, child_grid: tuple[int, int]) -> torch.Tensor:
    """Row-vector transition through PatchMerging (rollout, Abnar & Zuidema 2020): 1/4 of each parent to each
    of its 2x2 children, children on PatchMerging's zero padding dropped.

    v: (B, ceil(H/2), ceil(W/2)) -> (B, H, W) with (H, W) = child_grid.
    """
    if tuple(v.shape[1:]) != merged_grid(child_grid):
        raise ValueError(f"parent grid {tuple(v.shape[1:])} is not the merge of {child_grid}")
    children = v.repeat_interleave(2, dim=1).repeat_interleave(2, dim=2) / 4.0
    return children[:, : child_grid[0], : child_grid[1]]

"""3D post-processing of a scan's masks: drop connected components smaller than a volume in mL.

Off by default everywhere (the paper's masks are per slice); a slice-wise weak mask often carries
specks on single slices that a real bleed, which spans neighbouring slices, does not look like.
Connectivity 26 (faces, edges and corners touch) or 6 (faces only) across (slice, row, column).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from workbench.utils.errors import check_choice

__all__ = ["CONNECTIVITIES", "remove_small_components"]

CONNECTIVITIES = (6, 26)


def remove_small_components(mask: torch.Tensor, voxel_ml: float, min_ml: float,
                            connectivity: int = 26) -> torch.Tensor:
    """``mask`` (Z, H, W) bool of one scan without its connected components of volume < ``min_ml``
    (voxels x ``voxel_ml``). min_ml 0 keeps everything. -> (Z, H, W) bool, same device."""
    check_choice("connectivity", connectivity, CONNECTIVITIES)
    if mask.ndim != 3:
        raise ValueError(f"mask of shape {tuple(mask.shape)}: give one scan, (Z, H, W)")
    if not voxel_ml > 0 or not min_ml >= 0:
        raise ValueError(f"need voxel_ml > 0 and min_ml >= 0; got voxel_ml={voxel_ml}, min_ml={min_ml}")
    array = mask.detach().cpu().numpy().astype(bool)
    if min_ml == 0 or not array.any():
        return mask.bool()
    structure = ndimage.generate_binary_structure(3, 1 if connectivity == 6 else 3)
    labels, n = ndimage.label(array, structure=structure)
    sizes = np.bincount(labels.ravel(), minlength=n + 1) * voxel_ml  # mL per label; label 0 = background
    keep = sizes >= min_ml
    keep[0] = False
    return torch.from_numpy(keep[labels]).to(mask.device)

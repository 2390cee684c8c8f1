"""Slice-level labels from a subtype label volume (codes 1-5 of SUBTYPE_CODES, 0 background).

Shared by the layout writers (RSNA label table, CQ500 reads) and the NIfTI readers (BHSD, INSTANCE).
"""

from __future__ import annotations

import numpy as np

from workbench.data.labels import SUBTYPES

__all__ = ["slice_labels", "volume_slice_labels"]


def slice_labels(labels: np.ndarray) -> list[int]:
    """(H, W) or any-shape codes -> [any, epidural, ..., subdural] 0/1 (LABEL_COLUMNS order)."""
    present = set(np.unique(labels).tolist())
    flags = [int(code in present) for code in range(1, len(SUBTYPES) + 1)]
    return [int(any(flags))] + flags


def volume_slice_labels(labels: np.ndarray, axis: int = 0) -> np.ndarray:
    """(..., Z, ...) codes -> (Z, 6) int 0/1 labels per slice along ``axis`` (LABEL_COLUMNS order)."""
    vol = np.moveaxis(np.asarray(labels), axis, 0)
    flat = vol.reshape(vol.shape[0], -1)
    out = np.zeros((vol.shape[0], len(SUBTYPES) + 1), dtype=np.int64)
    for code in range(1, len(SUBTYPES) + 1):
        out[:, code] = (flat == code).any(axis=1)
    out[:, 0] = out[:, 1:].max(axis=1)
    return out

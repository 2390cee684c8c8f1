"""Scan context for slice detection: a small 1D convolution over a scan's slice logits.

A classifier scores each axial slice alone. A bleed spans several slices, so a slice whose bleed is too
small or too faint to see often lies next to one where it is plain; the RSNA 2019 challenge's winning
entries put a sequence model over the per-slice CNN outputs for this reason. :class:`ContextHead` is the
smallest such model: it reads the ICH logits of a scan's slices in order and corrects each one from its
neighbours,

    z'_i = z_i + f(z_{i-4..i+4}),  f = Conv1d(1, h, k) -> GELU -> Conv1d(h, h, k) -> GELU -> Conv1d(h, 1, 1)

(k = 5, h = 16, zero padding: a scan's first and last slices see zeros beyond its ends). The classifier
is unchanged; the head is trained on slice labels only (:mod:`workbench.training.context`).

A checkpoint's head lives beside it as ``<stem>.context.safetensors`` (:func:`context_path`); the
shipped reference classifiers carry one, trained on 5 mm axial slices (:func:`load_context`). Thinner
series put the same neighbours closer together: :func:`context_probabilities` gives NaN for a scan whose
slice spacing (when given) is more than 1 mm off 5 mm; resample such series to ~5 mm to read it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

__all__ = ["ContextHead", "context_path", "load_context", "save_context", "scan_order", "scan_groups", "to_logits",
           "context_probabilities", "frame_context_probabilities", "spacing_fits", "CONTEXT_SLICE_MM", "SLICE_MM_TOLERANCE"]

LOGIT_SCALE = 4.0
"""Logits are divided by this before the convolutions (they span about +-10)."""
CONTEXT_SLICE_MM = 5.0
"""Slice spacing the heads are trained at (the synthetic engine's axial slices; the usual thickness of PhysioNet
CT-ICH and RSNA series)."""
SLICE_MM_TOLERANCE = 1.0
"""A scan whose slice spacing differs from :data:`CONTEXT_SLICE_MM` by more than this gets no context probability."""


class ContextHead(nn.Module):
    """z (S, K) ICH logits of S scans of K slices (in slice order) -> (S, K) logits corrected from their
    neighbours; the last layer starts at zero, so an untrained head is the identity."""

    def __init__(self, kernel: int = 5, hidden: int = 16):
        super().__init__()
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"kernel must be a positive odd number; got {kernel}")
        self.net = nn.Sequential(nn.Conv1d(1, hidden, kernel, padding=kernel // 2), nn.GELU(),
                                 nn.Conv1d(hidden, hidden, kernel, padding=kernel // 2), nn.GELU(),
                                 nn.Conv1d(hidden, 1, 1))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2:
            raise ValueError(f"z must be (scans, slices) logits; got shape {tuple(z.shape)}")
        return z + self.net(z[:, None] / LOGIT_SCALE)[:, 0]


def context_path(stem: str | Path) -> Path:
    """``<stem>.context.safetensors`` beside a checkpoint stem (a run folder means its ``best``; a shipped
    reference name its file in the package)."""
    from workbench.models.reference import resolve_stem

    path = resolve_stem(stem)
    if (path / "best.json").is_file():
        path = path / "best"
    return path.with_name(path.name + ".context.safetensors")


def save_context(head: ContextHead, path: str | Path) -> Path:
    """Write ``head``'s weights (float32 safetensors, atomically); its shape is read back from them."""
    from workbench.models.checkpoint import save_tensors

    return save_tensors(path, head.state_dict(), metadata={"format": "workbench-context-head"})


def load_context(stem: str | Path) -> ContextHead | None:
    """The context head beside checkpoint ``stem`` (:func:`context_path`), or None when it has none."""
    from workbench.models.checkpoint import load_tensors
    from workbench.utils.errors import DataError

    path = context_path(stem)
    if not path.is_file():
        return None
    state = load_tensors(path, finite=True)
    first = state.get("net.0.weight")
    if first is None or first.ndim != 3:
        raise DataError(path, "not a context head (no net.0.weight of shape (hidden, 1, kernel))")
    head = ContextHead(kernel=first.shape[2], hidden=first.shape[0])
    try:
        head.load_state_dict(state)
    except RuntimeError as err:
        raise DataError(path, f"not a context head: {str(err).splitlines()[0]}") from None
    return head.eval()


def scan_order(volume_ids, slice_index) -> tuple[np.ndarray, list[np.ndarray]]:
    """Group rows into scans: ``(order, scans)`` where ``scans`` lists, for each volume, its row numbers in
    slice order. volume_ids, slice_index: (N,) array-likes."""
    vol, idx = np.asarray(volume_ids), np.asarray(slice_index)
    if vol.shape != idx.shape or vol.ndim != 1:
        raise ValueError(f"volume_ids {vol.shape} and slice_index {idx.shape} must be (N,) arrays of one length")
    order = np.lexsort((idx, vol))
    starts = np.flatnonzero(np.r_[True, vol[order][1:] != vol[order][:-1]])
    return order, np.split(order, starts[1:])


def scan_groups(volume_ids, slice_index) -> list[np.ndarray]:
    """The scans of N slices grouped by length: a list of (n, L) row-number arrays, one per scan length L,
    each row one scan's slices in slice order (so each group runs as one (n, L) batch, exactly as the
    scans would one by one: no padding between scans)."""
    _, scans = scan_order(volume_ids, slice_index)
    by_length: dict[int, list[np.ndarray]] = {}
    for rows in scans:
        by_length.setdefault(len(rows), []).append(rows)
    return [np.stack(group) for _, group in sorted(by_length.items())]


def to_logits(probs) -> torch.Tensor:
    """(N,) probabilities in [0, 1] -> float64 logits (clipped at 1e-7 from 0 and 1)."""
    p = torch.from_numpy(np.array(probs, dtype=np.float64))
    if p.ndim != 1 or bool(((p < 0) | (p > 1) | p.isnan()).any()):
        raise ValueError("probs must be (N,) probabilities in [0, 1] (e.g. logits.softmax(-1)[:, 1]), not logits")
    return torch.logit(p, eps=1e-7)


@torch.no_grad()
def context_probabilities(head: ContextHead, probs, volume_ids, slice_index, slice_mm=None) -> np.ndarray:
    """P(ICH) with scan context for N slices given in any order: the slices of each volume are put in
    slice order (:func:`scan_groups`), corrected by ``head`` and returned in the input order.
    probs, volume_ids, slice_index, slice_mm (each slice's spacing in mm, optional): (N,) -> (N,)
    float64; NaN for the slices of a scan whose spacing is off the heads' 5 mm (:data:`SLICE_MM_TOLERANCE`):
    its neighbours lie at other distances than the head learnt."""
    z = to_logits(probs)
    result = np.empty(len(z), dtype=np.float64)
    groups = scan_groups(volume_ids, slice_index)
    if sum(g.size for g in groups) != len(z):
        raise ValueError(f"{len(z)} probabilities for {sum(g.size for g in groups)} slices")
    for rows in groups:
        result[rows] = torch.sigmoid(head.eval()(z[torch.from_numpy(rows)].float())).double().numpy()
    if slice_mm is not None:
        result[~spacing_fits(slice_mm)] = np.nan
    return result


def frame_context_probabilities(head: ContextHead, probs, frame) -> np.ndarray:
    """:func:`context_probabilities` of the N rows of a manifest-like ``frame`` (columns volume_id,
    slice_index and, when present, spacing_slice): probs (N,) -> (N,) float64 (NaN off 5 mm)."""
    return context_probabilities(head, probs, frame["volume_id"].astype(str).to_numpy(), frame["slice_index"].to_numpy(),
                                 frame["spacing_slice"].to_numpy() if "spacing_slice" in frame else None)


def spacing_fits(slice_mm) -> np.ndarray:
    """(N,) bool: each slice spacing (mm) within :data:`SLICE_MM_TOLERANCE` of :data:`CONTEXT_SLICE_MM`."""
    return np.abs(np.asarray(slice_mm, dtype=np.float64) - CONTEXT_SLICE_MM) <= SLICE_MM_TOLERANCE

"""Held-out detection report of a classifier: ROC-AUC on all slices and by lesion-size stratum.

The strata answer "how much of the error comes from bleeds too small or too faint to see": a
positive slice is binned by its lesion pixels at the SOURCE resolution (``lesion_px``) and at the
model's INPUT resolution (``input_px``), and by its local contrast (:func:`lesion_contrast`: mean HU
of the lesion minus mean HU of a 3 mm soft-tissue ring around it, at the source); every negative
slice is kept in every stratum, so each stratum's AUC is "positives of this kind vs all negatives".
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import ndimage
from torch.utils.data import Dataset

from workbench.evaluation.auc_bootstrap import auc_interval
from workbench.evaluation.ranking import binary_auc
from workbench.training.config import TrainConfig
from workbench.training.loop import evaluate
from workbench.training.metrics import classification_metrics

__all__ = ["SIZE_BINS", "CONTRAST_BINS", "CONTRAST_STRATA", "PARTITION", "SIZE_PARTITION", "lesion_strata", "lesion_pixels",
           "lesion_contrast", "heldout_report", "auc_by_size", "auc_by_contrast", "contrast_strata", "auc_with_strata"]

SIZE_BINS: tuple[tuple[int, int], ...] = ((1, 25), (25, 100), (100, 400), (400, 10**9))
"""Lesion-pixel strata [lo, hi) of a positive slice."""
CONTRAST_BINS: dict[str, tuple[float, float]] = {"<5 HU": (-math.inf, 5.0), "5-15 HU": (5.0, 15.0),
                                                 ">=15 HU": (15.0, math.inf)}
"""Local-contrast strata [lo, hi) in HU: near-isodense, faint, conspicuous."""
CONSPICUOUS_HU, LARGE_PX = 15.0, 100
"""The cross cells' cuts: a conspicuous bleed's contrast, a large bleed's source pixels."""
CROSS_CELLS = (">=15 HU, >=100 px", "<15 HU, >=100 px", ">=15 HU, <100 px")
PARTITION = (*CONTRAST_BINS, "no ring")
"""The strata of :func:`contrast_strata` that partition the positive slices."""
SIZE_PARTITION: tuple[str, ...] = tuple(f"{lo}-{hi - 1}" if hi < 10**9 else f">={lo}" for lo, hi in SIZE_BINS)
"""The keys of :func:`auc_by_size` that partition the positives (its ``">=100"`` spans the last two)."""
CONTRAST_STRATA = (*PARTITION, *CROSS_CELLS)
"""Every stratum of :func:`contrast_strata`, in report order."""
SOFT_TISSUE_HU = (0.0, 90.0)
"""HU range of the ring pixels that count as background (no air, fat, bone or calcification)."""


def lesion_strata(dataset: Dataset, input_masks: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N,) lesion pixels per item at the source resolution, (N,) at the input resolution and (N,)
    :func:`lesion_contrast` at the source (NaN without lesion pixels), from one read of each slice.

    ``dataset`` is a :class:`~workbench.data.dataset.SliceDataset` (``load_hu`` gives the source slice);
    ``input_masks`` (N, S, S), when already decoded (e.g. by ``CachedImages``), spares decoding the items.
    """
    source, contrast = np.zeros(len(dataset), dtype=np.int64), np.full(len(dataset), math.nan)
    for i in range(len(dataset)):
        hu, mask, _ = dataset.load_hu(i)
        if mask is not None and mask.any():
            row = dataset.frame.iloc[i]
            source[i] = int(np.count_nonzero(mask))
            contrast[i] = lesion_contrast(hu, mask, float(min(row["spacing_row"], row["spacing_col"])))
    if input_masks is None:
        input_masks = torch.stack([dataset[i]["mask"] for i in range(len(dataset))])
    return source, input_masks.flatten(1).sum(1).long().numpy(), contrast


def lesion_pixels(dataset: Dataset, input_masks: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(N,) lesion pixels per item at the source resolution and (N,) at the input resolution
    (:func:`lesion_strata` without the contrast)."""
    return lesion_strata(dataset, input_masks)[:2]


def lesion_contrast(hu: np.ndarray, mask: np.ndarray, pixel_mm: float, ring_mm: float = 3.0) -> float:
    """Local contrast (HU) of one slice's lesion: mean HU over ``mask`` (H, W) bool minus mean HU over
    the ring of pixels within ``ring_mm`` of it (Euclidean), outside it and inside :data:`SOFT_TISSUE_HU`.
    NaN when the mask or the ring is empty."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return math.nan
    dist = ndimage.distance_transform_edt(~mask, sampling=pixel_mm)
    lo, hi = SOFT_TISSUE_HU
    ring = (dist > 0) & (dist <= ring_mm) & (hu >= lo) & (hu <= hi)
    return float(hu[mask].mean() - hu[ring].mean()) if ring.any() else math.nan


def contrast_strata(contrast: np.ndarray, source_px: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean (N,) masks of :data:`CONTRAST_STRATA` (meaningful on positive slices): the bins of
    :data:`CONTRAST_BINS`, ``no ring`` (NaN contrast), and the cross cells: a conspicuous bleed
    (>= 15 HU, >= 100 px), a large faint one and a small conspicuous one. The bins and ``no ring``
    partition the positives."""
    finite = np.isfinite(contrast)
    c = np.where(finite, contrast, 0.0)
    out = {name: finite & (c >= lo) & (c < hi) for name, (lo, hi) in CONTRAST_BINS.items()}
    out["no ring"] = ~finite
    bright, big = finite & (c >= CONSPICUOUS_HU), source_px >= LARGE_PX
    out.update(zip(CROSS_CELLS, (bright & big, finite & ~bright & big, bright & ~big)))
    return out


def auc_by_contrast(any_label: np.ndarray, score: np.ndarray, contrast: np.ndarray, source_px: np.ndarray) -> dict[str, dict]:
    """``{stratum: {"auc": .., "positives": n}}`` over :func:`contrast_strata`; each stratum's positives
    against every negative (AUC NaN for an empty stratum; ``no ring`` only when it holds a positive, so
    the records stay plain JSON in the usual case)."""
    neg = any_label < 0.5
    out = {}
    for name, g in contrast_strata(contrast, source_px).items():
        pos = g & ~neg
        if name == "no ring" and not pos.any():
            continue
        out[name] = {"auc": binary_auc(any_label[neg | pos], score[neg | pos]) if pos.any() else math.nan,
                     "positives": int(pos.sum())}
    return out


def auc_with_strata(strata: dict[str, dict], replace: dict[str, float], parts: tuple[str, ...] = PARTITION) -> float:
    """The all-slice AUC rebuilt from strata that partition the positives, with some strata's AUC replaced
    (e.g. ``{">=15 HU": 1.0}``: every conspicuous bleed ranked above every negative).

    Exact, not a model: with every negative kept in every stratum, the AUC is the mean over positives
    of P(score_pos > score_neg), so it is the positive-count-weighted mean of the strata's AUCs."""
    have = [strata[k] | {"auc": replace.get(k, strata[k]["auc"])} for k in parts if k in strata and strata[k]["positives"]]
    n = sum(k["positives"] for k in have)
    total = sum(k["positives"] * k["auc"] for k in have)
    return total / n if n else math.nan


def auc_by_size(any_label: np.ndarray, score: np.ndarray, pixels: np.ndarray) -> dict[str, dict]:
    """``{"lo-hi": {"auc": .., "positives": n}}``: each stratum's positives against every negative,
    plus ``">=100"`` (the issue's large-bleed figure)."""
    neg = any_label < 0.5
    out = {}
    for name, (lo, hi) in [*zip(SIZE_PARTITION, SIZE_BINS), (">=100", (100, 10**9))]:
        pos = (any_label >= 0.5) & (pixels >= lo) & (pixels < hi)
        keep = neg | pos
        out[name] = {"auc": binary_auc(any_label[keep], score[keep]) if pos.any() else math.nan, "positives": int(pos.sum())}
    return out


def heldout_report(model: torch.nn.Module, dataset: Dataset, task: str, class_names: tuple[str, ...],
                   pixels: tuple[np.ndarray, np.ndarray] | None = None, precision: str = "fp32",
                   device: torch.device | str = "cpu", contrast: np.ndarray | None = None,
                   subjects: np.ndarray | None = None) -> dict:
    """Detection metrics of ``model`` on ``dataset``: AUC of ``any`` on all slices, per-label AUCs
    (multilabel), AUC by lesion-size stratum at the source and the input resolution (``pixels``), and
    by local contrast (``by_contrast``, with ``contrast`` (N,) HU). Both are read from ``dataset`` (a
    SliceDataset, :func:`lesion_strata`) when ``pixels`` is not given; given pixels without a contrast
    give no contrast strata. ``subjects`` (N,) ids add ``auc_any_ci``: the subject-bootstrap 95 % interval
    of ``auc_any`` (:func:`~workbench.evaluation.auc_bootstrap.auc_interval`, 2,000 resamples, seed 0)."""
    cfg = TrainConfig(task=task, precision=precision, eval_batch_size=64)
    loss, probs, labels = evaluate(model, dataset, cfg, torch.device(device), desc="held-out")
    metrics = classification_metrics(task, probs, labels, class_names)
    score = probs if task == "binary" else probs[:, 0]
    if pixels is None:
        *pixels, contrast = lesion_strata(dataset)
    source_px, input_px = pixels
    report = {"slices": int(len(labels)), "positives": int((labels[:, 0] >= 0.5).sum()), "loss": loss,
              "auc_any": binary_auc(labels[:, 0], score),
              **{k: v for k, v in metrics.items() if k.startswith("auc_") and k != "auc_any"},
              "by_source_px": auc_by_size(labels[:, 0], score, source_px),
              "by_input_px": auc_by_size(labels[:, 0], score, input_px)}
    if contrast is not None:
        report["by_contrast"] = auc_by_contrast(labels[:, 0], score, contrast, source_px)
    if subjects is not None:
        ci = auc_interval(score, labels[:, 0], np.asarray(subjects, dtype=str))
        report["auc_any_ci"] = [ci.low, ci.high]
    return report

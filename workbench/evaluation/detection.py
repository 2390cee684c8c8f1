"""Slice-level ICH detection metrics from probabilities (HGI-SAM paper, MELBA 2023, section 4).

ROC-AUC and PR-AUC (average precision) are computed from the probabilities themselves; the
released code computed its "AUC" from hard 0/1 predictions, which this module refuses (bool or
integer input is an error). Threshold metrics count ``prob > threshold`` as positive, which for a
2-logit softmax at 0.5 is the argmax rule. A ratio whose denominator is 0 (e.g. precision with no
predicted positive) is NaN, not 0.
"""

from __future__ import annotations

import torch

from workbench.evaluation._common import as_mask, flat, safe_div
from workbench.evaluation.ranking import average_precision, roc_auc

__all__ = ["DETECTION_METRICS", "MIN_LESION_PIXELS", "confusion_counts", "detection_metrics", "detect_from_mask",
           "detection_score"]

MIN_LESION_PIXELS = 10
"""The detection rule of the HGI-SAM released code (HealthX-Lab/HGI-SAM): a slice is positive when its
predicted mask holds MORE than this many pixels."""

DETECTION_METRICS = ("accuracy", "precision", "recall", "f1", "specificity", "roc_auc", "average_precision")


def _check_probs(probs: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if probs.ndim != 1 or probs.shape != labels.shape:
        raise ValueError(f"probs of shape {tuple(probs.shape)} and labels of shape {tuple(labels.shape)}: "
                         f"give both as (M,), one value per slice")
    if not probs.is_floating_point():
        raise ValueError(f"probs have dtype {probs.dtype}; give probabilities (float in [0, 1]), never hard 0/1 predictions")
    if bool(((probs < 0) | (probs > 1) | probs.isnan()).any()):
        raise ValueError(f"probs must lie in [0, 1]; found range [{probs.min().item():.4g}, {probs.max().item():.4g}]; "
                         f"give probabilities (e.g. logits.softmax(-1)[:, 1]), not logits")
    return probs, as_mask(labels, "labels")


def _counts(probs: torch.Tensor, truth: torch.Tensor, threshold: float) -> dict[str, torch.Tensor]:
    pred = probs > threshold
    return {"tp": (pred & truth).sum(), "fp": (pred & ~truth).sum(), "tn": (~pred & ~truth).sum(), "fn": (~pred & truth).sum()}


def confusion_counts(probs: torch.Tensor, labels: torch.Tensor, threshold: float = 0.5) -> dict[str, int]:
    """tp, fp, tn, fn of ``probs > threshold`` against 0/1 labels. probs, labels: (M,) -> dict of ints."""
    return {k: int(v) for k, v in _counts(*_check_probs(probs, labels), threshold).items()}


def detection_metrics(probs: torch.Tensor, labels: torch.Tensor, threshold: float = 0.5) -> dict[str, float]:
    """Accuracy, precision, recall, F1, specificity at ``threshold``; ROC-AUC and average precision.

    probs: (M,) float P(ICH) in [0, 1]; labels: (M,) bool or 0/1 -> dict with the keys of
    :data:`DETECTION_METRICS`, raw floats; NaN for undefined ratios and for AUCs of a one-class set.
    """
    probs, truth = _check_probs(probs, labels)
    c = _counts(probs, truth, threshold)
    precision = safe_div(c["tp"], c["tp"] + c["fp"])
    recall = safe_div(c["tp"], c["tp"] + c["fn"])
    return {
        "accuracy": float(safe_div(c["tp"] + c["tn"], torch.tensor(probs.numel()))),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(safe_div(2 * c["tp"], 2 * c["tp"] + c["fp"] + c["fn"])),
        "specificity": float(safe_div(c["tn"], c["tn"] + c["fp"])),
        "roc_auc": float(roc_auc(probs[None], truth[None])[0]),
        "average_precision": float(average_precision(probs[None], truth[None])[0]),
    }


def detect_from_mask(pred: torch.Tensor, min_pixels: int = MIN_LESION_PIXELS) -> torch.Tensor:
    """Slice-level detection from a segmentation: positive when MORE than ``min_pixels`` pixels are set.

    The released code's rule (:data:`MIN_LESION_PIXELS`). pred: (B, H, W) bool or 0/1 -> (B,) bool.
    """
    if min_pixels < 0:
        raise ValueError(f"min_pixels must be >= 0; got {min_pixels}")
    return flat(as_mask(pred, "pred")).sum(1) > min_pixels


def detection_score(maps: torch.Tensor, min_pixels: int = MIN_LESION_PIXELS) -> torch.Tensor:
    """Continuous form of :func:`detect_from_mask` for ROC analysis: the (min_pixels + 1)-th largest
    value of each map, so ``detection_score(m) > t`` holds exactly when ``m > t`` has more than
    ``min_pixels`` pixels. maps: (B, H, W) -> (B,)."""
    if min_pixels < 0:
        raise ValueError(f"min_pixels must be >= 0, got {min_pixels}")
    values = maps.reshape(maps.shape[0], -1)
    if values.shape[1] <= min_pixels:
        raise ValueError(f"maps of {values.shape[1]} pixels cannot hold more than min_pixels={min_pixels}")
    return values.topk(min_pixels + 1, dim=1).values[:, -1]

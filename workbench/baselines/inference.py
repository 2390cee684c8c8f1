"""Inference of a baseline: foreground probability maps, binary masks and slice detection.

Detection follows the released code's rule, "more than ``min_pixels`` predicted pixels"
(:func:`workbench.evaluation.detect_from_mask`, :data:`~workbench.evaluation.detection.MIN_LESION_PIXELS`).
For ROC-AUC a slice also needs a continuous score: :func:`~workbench.evaluation.detection.detection_score`
(the (min_pixels + 1)-th largest foreground probability), whose thresholding reproduces the hard rule
at every threshold.

Shapes: images (B, C, S, S) in [0, 1]; probability maps and masks (B, S, S).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from workbench.evaluation.detection import MIN_LESION_PIXELS, detect_from_mask

__all__ = ["foreground_probability", "predict_baseline", "baseline_maps", "predict_masks", "detect"]


def foreground_probability(logits: torch.Tensor) -> torch.Tensor:
    """Logits (B, 2, S, S) -> P(ICH) (B, S, S): softmax over the two classes, channel 1."""
    if logits.ndim != 4 or logits.shape[1] != 2:
        raise ValueError(f"expected logits (B, 2, S, S), got shape {tuple(logits.shape)}")
    return torch.softmax(logits.float(), dim=1)[:, 1]


@torch.no_grad()
def predict_baseline(model: nn.Module, images: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    """Foreground probability maps of ``images`` (B, C, S, S) -> (B, S, S) float32 in [0, 1].

    Runs in eval mode on the model's device in chunks of ``batch_size`` and restores the model's
    mode; the result is on the device of ``images``.
    """
    if images.ndim != 4:
        raise ValueError(f"expected images (B, C, S, S), got shape {tuple(images.shape)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        out = [foreground_probability(model(chunk.to(device, torch.float32))).to(images.device)
               for chunk in images.split(batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(out) if out else images.new_zeros((0, *images.shape[-2:]))


def predict_masks(probs: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Binary masks (B, S, S) bool: ``probs > threshold`` (strict, as the evaluation's binarisation)."""
    return probs > threshold


def detect(probs: torch.Tensor, threshold: float = 0.5, min_pixels: int = MIN_LESION_PIXELS) -> torch.Tensor:
    """Slice detection (B,) bool: more than ``min_pixels`` pixels with ``probs > threshold``."""
    return detect_from_mask(predict_masks(probs, threshold), min_pixels=min_pixels)


def baseline_maps(model: nn.Module, images: torch.Tensor, brain: torch.Tensor | None) -> torch.Tensor:
    """Foreground probability maps (B, S, S) of a baseline, times the brain mask when given."""
    probs = predict_baseline(model, images, batch_size=images.shape[0])
    return probs if brain is None else probs * brain.to(probs.dtype)

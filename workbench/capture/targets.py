"""Targets: what score each sample explains.

A target is an int (same class for every sample), a sequence / 1-D tensor of ints (one class per
sample), None (each sample's own predicted class), or a callable ``logits (B, K) -> scores (B,)``.
The backpropagated scalar is the *sum* of per-sample scores: in eval mode samples do not interact,
so each sample receives exactly the gradient of its own score (the released HGI-SAM code used a batch of one).
"""

from __future__ import annotations

from typing import Callable, Sequence, Union

import torch

__all__ = ["Target", "resolve_targets", "target_scores"]

Target = Union[int, Sequence[int], torch.Tensor, None, Callable[[torch.Tensor], torch.Tensor]]


def resolve_targets(logits: torch.Tensor, target: Target) -> torch.Tensor | None:
    """Class index per sample (B,) long, or None for a callable target. logits: (B, K)."""
    if callable(target):
        return None
    B, K = logits.shape
    if target is None:
        # one argmax per sample, never the whole vector for every sample (MONAI's CAM batch-mixing bug)
        return logits.detach().argmax(dim=1)
    if isinstance(target, bool):
        raise TypeError(f"target must be an int, a sequence of ints, None or a callable, got {target!r}")
    if isinstance(target, int):
        idx = torch.full((B,), target, dtype=torch.long, device=logits.device)
    else:
        idx = torch.as_tensor(target, dtype=torch.long, device=logits.device).reshape(-1)
        if idx.numel() != B:
            raise ValueError(f"got {idx.numel()} targets for a batch of {B}; give one per sample or one int")
    bad = (idx < 0) | (idx >= K)
    if bool(bad.any()):
        raise ValueError(f"target {idx[bad].tolist()} out of range; valid classes: 0..{K - 1}")
    return idx


def target_scores(logits: torch.Tensor, target: Target) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-sample scores (B,) (raw class logits by default) and the resolved class indices."""
    idx = resolve_targets(logits, target)
    if idx is None:
        scores = target(logits)  # type: ignore[operator]
        if not isinstance(scores, torch.Tensor) or scores.shape != logits.shape[:1]:
            shape = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
            raise ValueError(f"a callable target must return one score per sample {tuple(logits.shape[:1])}, got {shape}")
        return scores, None
    return logits.gather(1, idx[:, None]).squeeze(1), idx

"""Learning-rate schedule (linear warm-up then cosine decay) and AdamW parameter groups.

Method.md section 10: a Swin trained from scratch here did not learn without warm-up; AdamW
(lr 3e-4, weight decay 0.05), 100 warm-up steps and cosine decay made it learn.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

__all__ = ["lr_at", "param_groups", "set_lr"]


def lr_at(step: int, base_lr: float, warmup_steps: int, total_steps: int, min_lr: float = 0.0) -> float:
    """Learning rate for optimizer step ``step`` (0-based).

    Warm-up: ``base_lr * (step + 1) / warmup_steps`` for ``step < warmup_steps``; then cosine from
    ``base_lr`` to ``min_lr`` at ``total_steps`` (held at ``min_lr`` after).
    """
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    t = min(1.0, (step - warmup_steps) / span)
    return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + math.cos(math.pi * t))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set ``lr`` on every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two AdamW groups: decayed weights, and undecayed biases / norms / position-bias tables."""
    skip = set(getattr(model, "no_weight_decay", lambda: set())())
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p.ndim <= 1 or name in skip or "relative_position_bias_table" in name:
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]

"""Learning-rate schedule (linear warm-up then cosine decay) and AdamW parameter groups.

Method.md section 10: a Swin trained from scratch here did not learn without warm-up; AdamW
(lr 3e-4, weight decay 0.05), 100 warm-up steps and cosine decay made it learn.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

__all__ = ["lr_at", "param_groups", "set_lr", "set_backbone_scale"]


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
    """Set ``lr`` times the group's ``lr_scale`` (1 when absent) on every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)


def set_backbone_scale(optimizer: torch.optim.Optimizer, scale: float) -> None:
    """The ``lr_scale`` of the backbone groups (those :func:`param_groups` marked ``part="backbone"``)."""
    for group in optimizer.param_groups:
        if group.get("part") == "backbone":
            group["lr_scale"] = float(scale)


def param_groups(model: nn.Module, weight_decay: float, head_prefix: str | None = None) -> list[dict]:
    """AdamW groups: decayed weights, and undecayed biases / norms / position-bias tables. With
    ``head_prefix`` (e.g. ``"head."``) each is split into ``part="head"`` and ``part="backbone"``
    groups, so the backbone can get its own learning rate (:func:`set_backbone_scale`)."""
    skip = set(getattr(model, "no_weight_decay", lambda: set())())
    groups: dict[tuple[str, bool], list] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        part = "head" if head_prefix and name.startswith(head_prefix) else "backbone" if head_prefix else ""
        decayed = not (p.ndim <= 1 or name in skip or "relative_position_bias_table" in name)
        groups.setdefault((part, decayed), []).append(p)
    parts = ("backbone", "head") if head_prefix else ("",)
    return [{"params": groups.get((part, decayed), []), "weight_decay": weight_decay if decayed else 0.0,
             **({"part": part, "lr_scale": 1.0} if part else {})}
            for part in parts for decayed in (True, False)]

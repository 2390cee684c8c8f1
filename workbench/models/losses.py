"""Losses and probabilities of the two learning strategies (HGI-SAM paper section 4 and its released code).

- ``binary``: 2 logits, cross-entropy on the *logits* (never a softmax first), target = ``any``;
  probability of ICH = softmax(logits)[:, 1].
- ``multilabel``: 6 logits in ``LABEL_COLUMNS`` order, focal BCE (Lin et al. 2017, gamma 2);
  probabilities = sigmoid(logits).

Shapes: logits (B, K) with K = 2 or 6; ``labels`` (B, 6) float 0/1 in ``LABEL_COLUMNS`` order.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from workbench.models.config import TASKS
from workbench.utils.errors import check_choice

__all__ = ["focal_bce_with_logits", "task_loss", "task_probabilities"]


def focal_bce_with_logits(
    logits: torch.Tensor, targets: torch.Tensor, gamma: float = 2.0, reduction: str = "mean"
) -> torch.Tensor:
    """Focal binary cross-entropy, FL = -(1 - p_t)^gamma log(p_t) (Lin et al., eq. 4, alpha = 1).

    logits, targets: (B, K). ``reduction``: ``mean`` (scalar), ``sample`` (B,: mean over K), ``none``.
    """
    check_choice("reduction", reduction, ("mean", "sample", "none"))
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")  # -log(p_t)
    p = torch.sigmoid(logits)
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t).pow(gamma)
    if reduction == "mean":
        return loss.mean()
    return loss.mean(dim=1) if reduction == "sample" else loss


def task_loss(task: str, logits: torch.Tensor, labels: torch.Tensor, reduction: str = "mean",
              gamma: float = 2.0) -> torch.Tensor:
    """Training loss of ``task`` for logits (B, K) and labels (B, 6).

    ``reduction``: ``mean`` (scalar) or ``sample`` (B,); the mean of the per-sample losses equals
    the ``mean`` reduction, so sharded validation can average them exactly.
    """
    check_choice("task", task, TASKS)
    check_choice("reduction", reduction, ("mean", "sample"))
    if task == "binary":
        target = labels[:, 0].round().long()
        return F.cross_entropy(logits, target, reduction="mean" if reduction == "mean" else "none")
    if logits.shape[1] != labels.shape[1]:
        raise ValueError(f"multilabel logits have {logits.shape[1]} columns, labels {labels.shape[1]}")
    return focal_bce_with_logits(logits, labels, gamma=gamma, reduction=reduction)


def task_probabilities(task: str, logits: torch.Tensor) -> torch.Tensor:
    """Class probabilities: (B,) P(ICH) for ``binary``, (B, 6) sigmoids for ``multilabel``."""
    check_choice("task", task, TASKS)
    if task == "binary":
        return torch.softmax(logits, dim=1)[:, 1]
    return torch.sigmoid(logits)


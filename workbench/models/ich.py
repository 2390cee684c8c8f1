"""What "ICH" means for a classifier of either learning strategy: the logit explained and P(ICH).

HGI-SAM (Rasoulian et al., MELBA 2023, section 3) explains the ICH class: the ``ich`` logit of a
binary classifier (2 logits, softmax) or the ``any`` logit of a full-subtyping one (6 sigmoids, any
first). Every module that needs the target or the slice probability calls this one.

Shapes: logits (B, K) with K = 2 (binary) or 6 (multilabel) -> P(ICH) (B,).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from workbench.models.config import BINARY_CLASSES, TASKS, ModelConfig
from workbench.utils.errors import check_choice

__all__ = ["ICH_CLASS_NAMES", "ich_index", "ich_probability", "model_task"]

ICH_CLASS_NAMES = ("ich", "any")
"""Names of the ICH output, in order of preference: binary ``ich``, multilabel ``any``."""


def _config(model: nn.Module | ModelConfig) -> ModelConfig | None:
    return model if isinstance(model, ModelConfig) else getattr(model, "workbench_config", None)


def model_task(model: nn.Module | ModelConfig) -> str:
    """``binary`` or ``multilabel`` from the model's ``workbench_config`` (``binary`` without one)."""
    cfg = _config(model)
    return "binary" if cfg is None else cfg.task


def ich_index(model: nn.Module | ModelConfig | Sequence[str]) -> int:
    """Index of the ICH logit: class ``ich`` (binary: 1) or ``any`` (multilabel: 0), found by name in
    the model's class names (a plain model without a config is taken as binary)."""
    if isinstance(model, (tuple, list)):
        names = tuple(model)
    else:
        cfg = _config(model)
        names = tuple(cfg.class_names) if cfg is not None else BINARY_CLASSES
    for name in ICH_CLASS_NAMES:
        if name in names:
            return names.index(name)
    raise ValueError(f"the classifier's classes {names} hold neither 'ich' nor 'any'; cannot choose the ICH target")


def ich_probability(task: str, logits: torch.Tensor) -> torch.Tensor:
    """P(ICH) (B,) from logits (B, K): softmax class 1 (binary) or sigmoid of ``any`` (multilabel),
    in the logits' dtype; no gradient is cut (callers detach)."""
    check_choice("task", task, TASKS)
    if logits.ndim != 2:
        raise ValueError(f"logits must be (B, K), got shape {tuple(logits.shape)}")
    if task == "binary":
        return torch.softmax(logits, dim=1)[:, 1]
    return torch.sigmoid(logits[:, 0])

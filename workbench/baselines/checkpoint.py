"""Baseline checkpoints: ``<stem>.safetensors`` (weights) + ``<stem>.json`` (:class:`BaselineConfig`).

The tensor I/O is the classifier's (:func:`workbench.models.checkpoint.save_tensors` /
``load_tensors``): atomic writes, nothing unpickled.
"""

from __future__ import annotations

from pathlib import Path

import torch

from workbench.baselines.models import BaselineConfig, BaselineNet, create_baseline
from workbench.models.checkpoint import checkpoint_paths, load_checkpoint, save_tensors

__all__ = ["save_baseline", "load_baseline"]

FORMAT = "workbench-baseline"


def save_baseline(model: BaselineNet, stem: str | Path) -> tuple[Path, Path]:
    """Write ``stem.safetensors`` and ``stem.json``; returns both paths."""
    weights, cfg_path = checkpoint_paths(stem)
    save_tensors(weights, model.state_dict(), metadata={"format": FORMAT, "model": model.config.name})
    model.config.save(cfg_path)
    return weights, cfg_path


def load_baseline(stem: str | Path, device: str | torch.device = "cpu") -> BaselineNet:
    """Rebuild a baseline from ``stem.json``, load ``stem.safetensors`` (strict); eval mode.

    ``stem`` may be a run folder, meaning ``folder/best``.
    """
    return load_checkpoint(stem, BaselineConfig, create_baseline, device, what="baseline")

"""Save and load classifiers as safetensors weights + a JSON :class:`ModelConfig` beside them.

``save_model(model, "out/best")`` writes ``out/best.safetensors`` and ``out/best.json``.
Loading reads tensors with safetensors and the config with ``json``: nothing is unpickled.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

from workbench.models.config import ModelConfig
from workbench.models.factory import build_model, model_config, unwrap
from workbench.utils.io import atomic_path

__all__ = ["save_tensors", "load_tensors", "save_model", "load_model", "checkpoint_paths"]


def checkpoint_paths(stem: str | Path) -> tuple[Path, Path]:
    """``(weights, config)`` paths of the checkpoint ``stem`` (a ``.safetensors`` suffix is dropped)."""
    stem = Path(stem)
    if stem.suffix in (".safetensors", ".json"):
        stem = stem.with_suffix("")
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> Path:
    """Write ``tensors`` (moved to CPU, made contiguous, unshared) to a safetensors file atomically."""
    flat = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(flat, str(tmp), metadata=metadata)
    return Path(path)


def load_tensors(path: str | Path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Read a safetensors file; a missing file raises FileNotFoundError naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint weights not found")
    return load_file(str(path), device=str(device))


def save_model(model: nn.Module, stem: str | Path, config: ModelConfig | None = None) -> tuple[Path, Path]:
    """Write ``stem.safetensors`` (state dict) and ``stem.json`` (config); returns both paths.

    ``config`` defaults to :func:`model_config` (attached by the factory, or inferred from a timm
    SwinTransformer). DDP wrappers are removed first.
    """
    model = unwrap(model)
    config = config or model_config(model)
    weights, cfg_path = checkpoint_paths(stem)
    save_tensors(weights, model.state_dict(), metadata={"task": config.task, "format": "workbench-swin"})
    config.save(cfg_path)
    return weights, cfg_path


def load_checkpoint(stem: str | Path, config_cls, build, device: str | torch.device = "cpu", what: str = "checkpoint"):
    """Rebuild a network with ``build(config_cls.load(stem.json))`` and load ``stem.safetensors``
    (strict), in eval mode. ``stem`` may be a run folder, meaning ``folder/best``. Never unpickles.
    """
    stem = Path(stem)
    if stem.is_dir():
        stem = stem / "best"
    weights, cfg_path = checkpoint_paths(stem)
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{cfg_path}: {what} config not found")
    model = build(config_cls.load(cfg_path))
    model.load_state_dict(load_tensors(weights), strict=True)
    return model.to(device).eval()


def load_model(stem: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the Swin classifier from ``stem.json`` and load ``stem.safetensors`` (see load_checkpoint)."""
    return load_checkpoint(stem, ModelConfig, build_model, device, what="checkpoint")

"""Save and load classifiers as safetensors weights + a JSON :class:`ModelConfig` beside them.

``save_model(model, "out/best")`` writes ``out/best.safetensors`` and ``out/best.json``.
Loading reads tensors with safetensors and the config with ``json``: nothing is unpickled.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
import torch.nn as nn
from safetensors import safe_open
from safetensors.torch import save_file

from workbench.models.config import ModelConfig
from workbench.models.factory import build_model, model_config, unwrap
from workbench.models.reference import resolve_stem
from workbench.utils.errors import DataError
from workbench.utils.io import atomic_path

__all__ = ["content_digest", "save_tensors", "load_tensors", "save_model", "load_model", "checkpoint_paths"]


def checkpoint_paths(stem: str | Path) -> tuple[Path, Path]:
    """``(weights, config)`` paths of the checkpoint ``stem`` (a ``.safetensors`` suffix is dropped)."""
    stem = Path(stem)
    if stem.suffix in (".safetensors", ".json"):
        stem = stem.with_suffix("")
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def content_digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the tensors' names, dtypes, shapes and bytes in name order (independent of file layout)."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> Path:
    """Write ``tensors`` (moved to CPU, made contiguous, unshared) to a safetensors file atomically, with
    their :func:`content_digest` in the header, so a flipped byte in the data is caught on load."""
    flat = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(flat, str(tmp), metadata={**(metadata or {}), "content_sha256": content_digest(flat)})
    return Path(path)


def load_tensors(path: str | Path, device: str | torch.device = "cpu", finite: bool = False) -> dict[str, torch.Tensor]:
    """Read a safetensors file (weights: ``finite=True`` also checks that every floating tensor is finite).

    A missing file raises FileNotFoundError; an unreadable (truncated, empty, corrupted header) file, data
    that no longer match the header's ``content_sha256`` (files written by :func:`save_tensors`) or, with
    ``finite``, a tensor holding NaN / Inf a :class:`DataError`, each naming the file (cached statistics
    may hold NaN by design: an empty ground truth).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint weights not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            digest = (f.metadata() or {}).get("content_sha256")
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except Exception as err:  # safetensors raises its own SafetensorError (no common base to catch)
        raise DataError(path, f"unreadable safetensors file ({type(err).__name__}: {err})") from None
    if digest is not None and content_digest(tensors) != digest:
        raise DataError(path, "tensor data does not match the checksum in its header (corrupted file)")
    tensors = {name: t.to(device) for name, t in tensors.items()}
    bad = [name for name, t in tensors.items() if finite and t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        raise DataError(path, f"{len(bad)} tensor(s) hold NaN or Inf (corrupted weights?): {', '.join(bad[:3])}")
    return tensors


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
    try:
        model = build(config_cls.load(cfg_path))
    except (ValueError, TypeError, KeyError, RuntimeError) as err:
        raise DataError(cfg_path, f"not a valid {what} config ({err})") from None
    try:
        model.load_state_dict(load_tensors(weights, finite=True), strict=True)
    except RuntimeError as err:  # missing / unexpected keys or shapes that do not fit the config
        raise DataError(weights, f"weights do not fit the architecture of {cfg_path.name}: {str(err)[:300]}") from None
    return model.to(device).eval()


def load_model(stem: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the Swin classifier from ``stem.json`` and load ``stem.safetensors`` (see load_checkpoint).

    ``stem`` may also name a shipped reference classifier (``"reference-binary"``,
    ``"reference-multilabel"``; :mod:`workbench.models.reference`).
    """
    return load_checkpoint(resolve_stem(stem), ModelConfig, build_model, device, what="checkpoint")

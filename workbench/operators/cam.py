"""Grad-CAM family on any captured layer, channels-last (B, H, W, C) as timm Swin produces it.

- Grad-CAM (Selvaraju et al., ICCV 2017, eq. 1-2): w_k = mean_ij g_k; map = sum_k w_k F_k.
- HiResCAM (Draelos & Carin, 2020): map = sum_k g_k * F_k, elementwise.
- LayerCAM (Jiang et al., TIP 2021, eq. 5-6): map = sum_k ReLU(g_k) * F_k.
The outer ReLU of Grad-CAM / LayerCAM is the ``relu`` option (off by default: raw, signed maps).
Default layer: the last block's norm1 (Swin-GradCAM, HGI-SAM paper, MELBA 2023, section 3).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from workbench.capture.result import CaptureResult
from workbench.operators.registry import Requirements, register

__all__ = ["CamOptions", "cam_layer_name", "gradcam", "hirescam", "layercam"]


@dataclass(frozen=True)
class CamOptions:
    """layer: module name (e.g. "layers.2", "layers.3.blocks.1.norm1") or a 1-based stage number
    for that stage's output; None = the last block's norm1. relu: clamp the map at 0."""

    layer: str | int | None = None
    relu: bool = False


def cam_layer_name(layer: str | int | None) -> str | None:
    """Stage number n -> "layers.{n-1}" (the stage output); names and None pass through."""
    if isinstance(layer, bool) or (layer is not None and not isinstance(layer, (str, int))):
        raise TypeError(f"layer must be a module name, a 1-based stage number or None, got {layer!r}")
    if isinstance(layer, int):
        if layer < 1:
            raise ValueError(f"stage number must be >= 1, got {layer}")
        return f"layers.{layer - 1}"
    return layer


def _requires(opts: CamOptions) -> Requirements:
    return Requirements(layers=frozenset({cam_layer_name(opts.layer)}))


def _features(result: CaptureResult, opts: CamOptions) -> tuple[torch.Tensor, torch.Tensor]:
    rec = result.feature(cam_layer_name(opts.layer) or result.cam_layer)
    return rec.value, rec.grad  # (B, H, W, C) each


def _finish(cam: torch.Tensor, opts: CamOptions) -> torch.Tensor:
    return cam.clamp_min(0) if opts.relu else cam


@register("gradcam", CamOptions, _requires, "Selvaraju et al., ICCV 2017 (Grad-CAM)")
def gradcam(result: CaptureResult, opts: CamOptions) -> torch.Tensor:
    """(B, H, W) = sum_k mean_ij(g_k) F_k at the layer's token grid."""
    F, g = _features(result, opts)
    weights = g.mean(dim=(1, 2), keepdim=True)  # (B, 1, 1, C), eq. 1
    return _finish((weights * F).sum(-1), opts)  # eq. 2


@register("hirescam", CamOptions, _requires, "Draelos & Carin, arXiv 2011.08891 (HiResCAM)")
def hirescam(result: CaptureResult, opts: CamOptions) -> torch.Tensor:
    """(B, H, W) = sum_k g_k * F_k."""
    F, g = _features(result, opts)
    return _finish((g * F).sum(-1), opts)


@register("layercam", CamOptions, _requires, "Jiang et al., IEEE TIP 2021 (LayerCAM)")
def layercam(result: CaptureResult, opts: CamOptions) -> torch.Tensor:
    """(B, H, W) = sum_k ReLU(g_k) * F_k."""
    F, g = _features(result, opts)
    return _finish((g.clamp_min(0) * F).sum(-1), opts)

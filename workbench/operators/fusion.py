"""HGI-SAM gated by Grad-CAM: the workbench's own weak method (``hgi_gradcam``).

HGI-SAM (Rasoulian, Salari & Xiao, MELBA 2023, section 3: heads weighted by the Frobenius norm of
their attention gradient, min-max stage maps of stages 1-3 upsampled and multiplied) is sharp, at
the token grids of the early stages, but it lights up any structure the early stages attend to.
Grad-CAM (Selvaraju et al., ICCV 2017, eq. 1-2) at the last block's norm1 is coarse (the last
stage's token grid) but class-discriminative: it follows the logit. The fused map is their
geometric mean,

    fused = sqrt(HGI(x) * CAM(x)),   CAM = min-max(upsample(ReLU(Grad-CAM)))

so a pixel scores high only where both agree. It has no free parameter of its own: the threshold
is chosen like every method's (nested, on training folds), and ``stages`` / ``heads`` / ``gradient``
/ ``layer`` are HGI-SAM's and Grad-CAM's own options. Output (B, H, W) in [0, 1], like the stage
products it extends.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from workbench.capture.result import CaptureResult
from workbench.operators import attention_maps, cam
from workbench.operators.attention_maps import HgiSamOptions, hgi_sam
from workbench.operators.cam import CamOptions, gradcam
from workbench.operators.postprocess import minmax, upsample
from workbench.operators.registry import Requirements, register

__all__ = ["HgiCamOptions", "hgi_gradcam"]


@dataclass(frozen=True)
class HgiCamOptions(HgiSamOptions):
    """HGI-SAM's options plus Grad-CAM's ``layer`` (None: the last block's norm1)."""

    layer: str | int | None = None


def _requires(opts: HgiCamOptions) -> Requirements:
    return attention_maps._requires(opts) | cam._requires(CamOptions(layer=opts.layer))


@register("hgi_gradcam", HgiCamOptions, _requires,
          "this workbench: HGI-SAM (Rasoulian et al., MELBA 2023) x Grad-CAM (Selvaraju et al., ICCV 2017), geometric mean")
def hgi_gradcam(result: CaptureResult, opts: HgiCamOptions) -> torch.Tensor:
    """sqrt(HGI-SAM * min-max upsampled ReLU Grad-CAM). -> (B, H, W) in [0, 1]."""
    heat = hgi_sam(result, opts)
    gate = minmax(upsample(gradcam(result, CamOptions(layer=opts.layer, relu=True)), result.image_size))
    return (heat * gate).sqrt()

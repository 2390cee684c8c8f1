"""Explanation operators: pure tensor functions of a :class:`~workbench.capture.CaptureResult`.

One signature, ``fn(result, options) -> raw map (B, h, w)``, one registry (:data:`REGISTRY`):
swin_sam, hgi_sam, gradcam, hirescam, layercam, rollout, grad_rollout, and the workbench's own
hgi_gradcam (HGI-SAM x Grad-CAM, :mod:`workbench.operators.fusion`), the acute-blood density yardstick blood_hu
and blood_refine (an attention map x that prior, :mod:`workbench.operators.intensity`). Post-processing (upsampling,
brain mask, min-max, threshold) lives in :mod:`workbench.operators.postprocess`.
"""

from workbench.operators import attention_maps, cam, fusion, rollout  # noqa: F401  (registers the operators)
from workbench.operators import intensity  # noqa: F401  (after the attention operators: its base methods)
from workbench.operators.attention_maps import HgiSamOptions, SwinSamOptions, block_maps, head_maps, stage_maps
from workbench.operators.cam import CamOptions
from workbench.operators.fusion import HgiCamOptions
from workbench.operators.intensity import BloodOptions, RefineOptions
from workbench.operators.postprocess import PostProcess, apply_mask, binarize, minmax, postprocess, rank_normalize, upsample
from workbench.operators.registry import REGISTRY, Operator, Requirements, get_operator, make_options, run_operator
from workbench.operators.rollout import RolloutOptions

__all__ = [
    "REGISTRY",
    "BloodOptions",
    "CamOptions",
    "HgiCamOptions",
    "HgiSamOptions",
    "Operator",
    "PostProcess",
    "RefineOptions",
    "Requirements",
    "RolloutOptions",
    "SwinSamOptions",
    "apply_mask",
    "binarize",
    "block_maps",
    "get_operator",
    "head_maps",
    "make_options",
    "minmax",
    "postprocess",
    "rank_normalize",
    "run_operator",
    "stage_maps",
    "upsample",
]
